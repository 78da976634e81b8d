# doc: man pages, checked by tests/check_man.sh.
dist_man_MANS += \
	doc/udo-vsockd.8 \
	doc/udo-vsockd.conf.5 \
	doc/udo-vsock-protocol.7
# Library pages, one per function group.
dist_man_MANS += \
	doc/udo_vsock_tcp.3 \
	doc/udo_vsock_addr.3 \
	doc/udo_vsock_fdpass.3 \
	doc/udo_vsock_handoff.3 \
	doc/udo_log.3
