#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsock_python.sh - the Python client (python/udo_vsock): install it with
# pip from a copy of python/ (no network, no build isolation: Debian's
# setuptools), start the built udo-vsockd on a free vsock port and a unix
# socket, and run python/tests with pytest against it over AF_VSOCK CID 1
# (and vsock-mux through tests/fake-vmm).
set -u
srcdir=${UDO_TEST_SRCDIR:?}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
python=${UDO_TEST_PYTHON:-/usr/bin/python3}
for m in pytest pip setuptools; do
	"$python" -c "import $m" 2>/dev/null || { echo "$python lacks the $m module (scripts/deps installs it)"; exit 99; }
done
test_init python

# pip builds in the source directory it is given: give it a copy, so a
# read-only source tree (distcheck) stays untouched.
cp -R "$srcdir/python" "$dir/src"
chmod -R u+w "$dir/src"
if ! PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$python" -m pip install -q --no-index --no-build-isolation \
	--target "$dir/site" "$dir/src" >"$dir/pip.log" 2>&1; then
	cat "$dir/pip.log"
	echo "FAIL: pip install ./python"
	exit 1
fi
[ -f "$dir/site/udo_vsock/client.py" ] || { echo "FAIL: pip installed no udo_vsock package"; exit 1; }

# A free vsock port: bind port "any", read it back.
port=$("$python" -c 'import socket; s=socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); s.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY)); print(s.getsockname()[1])')
cat >"$dir/udo-vsockd.conf" <<CONF
[daemon]
listen = vsock:any:$port
listen = unix:$dir/py.sock identity=py
allow = any
[command ping]
handler = ping
[command whoami]
handler = whoami
[command quit]
handler = quit
[command argv]
handler = exec
path = /usr/bin/printf
args = <%s>\n
client-args = yes
[command argvfail]
handler = exec
path = /bin/sh
args = -c "printf '<%s>\\\\n' \\"\$@\\"; exit 1" sh
client-args = yes
[command fail]
handler = exec
path = /bin/false
[command slow]
handler = exec
path = /bin/sleep
args = 30
[command secret]
handler = ping
allow = 7
[command echo]
handler = proxy
connect = unix:$dir/echo.sock
CONF
# Ready once it answers on both listeners (the CLI retries for up to 30 s).
if ! start_daemon "vsock:1:$port" 30 "$daemon_bin" -c "$dir/udo-vsockd.conf" ||
	! "$cli" --wait 30 "unix:$dir/py.sock" ping >/dev/null; then
	cat "$dir/daemon.log"
	echo "FAIL: the daemon did not answer"
	exit 1
fi

cd "$dir" || exit 99
UDO_PY_REQUIRE=1 UDO_PY_VSOCK="vsock:1:$port" UDO_PY_UNIX="unix:$dir/py.sock" UDO_PY_DIR="$dir" \
	UDO_PY_FAKE_VMM="$builddir/tests/fake-vmm" PYTHONPATH="$dir/site" PYTHONDONTWRITEBYTECODE=1 \
	"$python" -m pytest -p no:cacheprovider -rs -v --rootdir "$dir" "$dir/src/tests"
status=$?
if ! kill -0 "$daemon" 2>/dev/null; then
	echo "FAIL: the daemon died"
	cat "$dir/daemon.log"
	status=1
fi
exit "$status"
