# SPDX-License-Identifier: LGPL-2.1-or-later
# uml-cpu.sh - sourced by tests/vsock-run and tests/uml-systemd: which
# host CPU user-mode Linux runs on.
#
# UML has one CPU, and every system call of a process in it is a ptrace
# stop on the host. When the host runs the process and the UML kernel on
# different CPUs, each stop waits for a cross-CPU wake-up: several times
# the cost, and the cost varies widely from moment to moment. So UML is
# pinned (taskset) to one host CPU:
#   UDO_UML_CPU=auto  (the default) the first CPU of this process's
#                     affinity that no other UML of this build holds (a
#                     lock held until the caller exits), so tests run in
#                     parallel get one each; not pinned when all are held;
#   UDO_UML_CPU=N     CPU N;
#   UDO_UML_CPU=      not pinned.

# Chooses the CPU, locking it under LOCKDIR; sets uml_cpu (N, or empty)
# and the array uml_pin (the command prefix that pins, or nothing).
uml_pin_choose() {
	local dir=$1 list range c lo hi fd
	uml_cpu=
	uml_pin=()
	case "${UDO_UML_CPU-auto}" in
	"") return 0 ;;
	auto) ;;
	*)
		uml_cpu=$UDO_UML_CPU
		uml_pin=(taskset -c "$uml_cpu")
		return 0
		;;
	esac
	command -v taskset >/dev/null && command -v flock >/dev/null || return 0
	list=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
	mkdir -p "$dir" 2>/dev/null || return 0
	for range in ${list//,/ }; do
		lo=${range%-*} hi=${range#*-}
		for ((c = lo; c <= hi; c++)); do
			exec {fd}>>"$dir/cpu$c" || continue
			if flock -n "$fd"; then
				uml_cpu=$c
				uml_pin=(taskset -c "$c")
				return 0
			fi
			exec {fd}>&-
		done
	done
	return 0
}
