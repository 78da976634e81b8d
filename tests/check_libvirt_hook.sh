#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check_libvirt_hook.sh - examples/libvirt-qemu-hook run as libvirt runs a
# qemu hook (https://libvirt.org/hooks.html): `qemu GUEST OPERATION
# SUB-OPERATION EXTRA`, the domain's live XML on standard input. `started`
# writes GUEST's peers-dir file (lower-cased name, `cid = N` from the
# <vsock> device, mode 0644, no temporary left), `stopped` and `release`
# remove it, a VM without vsock or with a name udo-vsockd cannot take gets
# none, and every run exits 0 (a hook's failure would stop the VM).
set -uo pipefail

srcdir=${UDO_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
hook=$srcdir/examples/libvirt-qemu-hook
work=$(mktemp -d "${TMPDIR:-/tmp}/check_libvirt_hook.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
export UDO_VSOCK_PEERS_DIR=$work/run/peers

fails=0
# Records one check: "ok: WHAT" or "FAIL: WHAT".
check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		fails=$((fails + 1))
	fi
}

# A domain's live XML as libvirt passes it: NAME, and a <vsock> device
# with CID (an auto-assigned one filled in) unless CID is empty.
domain_xml() {
	local name=$1 cid=$2
	cat <<EOF
<domain type='kvm' id='7'>
  <name>$name</name>
  <uuid>0b7a4a4e-7f2c-4a8e-9d8f-1b2c3d4e5f60</uuid>
  <memory unit='KiB'>1048576</memory>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='network'>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
EOF
	if [ -n "$cid" ]; then
		cat <<EOF
    <vsock model='virtio'>
      <cid auto='yes' address='$cid'/>
      <alias name='vsock0'/>
      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
    </vsock>
EOF
	fi
	printf '  </devices>\n</domain>\n'
}

# Runs the hook for GUEST OP with CID's XML; prints its exit status.
run_hook() {
	local guest=$1 op=$2 cid=$3 sub=begin
	case $op in stopped | release) sub=end ;; esac
	domain_xml "$guest" "$cid" | "$hook" "$guest" "$op" "$sub" - 2>>"$work/stderr"
	echo "${PIPESTATUS[1]}"
}

# Lists the directory's entries, dotfiles too, on one line.
entries() {
	find "$UDO_VSOCK_PEERS_DIR" -mindepth 1 -printf '%f ' 2>/dev/null
}

check "hook is executable" test -x "$hook"
check "prepare: exit 0" test "$(run_hook web1 prepare 42)" = 0
check "prepare writes nothing" test -z "$(entries)"
check "started: exit 0" test "$(run_hook web1 started 42)" = 0
check "started writes web1 and nothing else" test "$(entries)" = "web1 "
check "web1 holds cid = 42" grep -qx 'cid = 42' "$UDO_VSOCK_PEERS_DIR/web1"
check "web1 has one cid line" test "$(grep -c '^cid' "$UDO_VSOCK_PEERS_DIR/web1")" = 1
check "web1 is mode 0644" test "$(stat -c %a "$UDO_VSOCK_PEERS_DIR/web1")" = 644
check "started a second time (CID 43): replaced" test "$(run_hook web1 started 43)" = 0
check "web1 holds cid = 43" grep -qx 'cid = 43' "$UDO_VSOCK_PEERS_DIR/web1"
check "reconnect rewrites it" test "$(run_hook web1 reconnect 44)" = 0
check "web1 holds cid = 44" grep -qx 'cid = 44' "$UDO_VSOCK_PEERS_DIR/web1"
check "started Web-2: exit 0" test "$(run_hook Web-2 started 3)" = 0
check "Web-2 is written lower-cased" grep -qx 'cid = 3' "$UDO_VSOCK_PEERS_DIR/web-2"
check "stopped: exit 0" test "$(run_hook web1 stopped 44)" = 0
check "stopped removes web1" test "$(entries)" = "web-2 "
check "release after stopped: exit 0" test "$(run_hook web1 release 44)" = 0
check "release of Web-2 removes it" test "$(run_hook Web-2 release 3)/$(entries)" = "0/"
check "a VM without vsock: exit 0" test "$(run_hook novsock started '')" = 0
check "a VM without vsock: no file" test -z "$(entries)"
: >"$work/stderr"
check "a name with a blank: exit 0" test "$(run_hook 'my vm' started 5)" = 0
check "a name with a slash: exit 0" test "$(run_hook 'a/b' started 5)" = 0
check "a dotted name: exit 0" test "$(run_hook '.hidden' started 5)" = 0
check "a name without a letter: exit 0" test "$(run_hook '1234' started 5)" = 0
check "a 33-character name: exit 0" test "$(run_hook "$(printf 'a%.0s' {1..33})" started 5)" = 0
check "bad names: no file" test -z "$(entries)"
check "bad names: each said why on stderr" test "$(grep -c 'not a peer name' "$work/stderr")" = 5
check "no arguments: exit 0" "$hook" </dev/null 2>/dev/null
# A directory that cannot be made (a file in the way): still exit 0.
touch "$work/blocker"
check "peers-dir not creatable: exit 0" \
	test "$(UDO_VSOCK_PEERS_DIR=$work/blocker/peers run_hook web1 started 42)" = 0
check "peers-dir not creatable: said so" grep -q 'cannot make' "$work/stderr"

if [ $fails -gt 0 ]; then
	echo "check_libvirt_hook: $fails check(s) failed; the hook's stderr:"
	sed 's/^/  /' "$work/stderr"
	exit 1
fi
echo "check_libvirt_hook: all checks passed"
