# doc: man pages, checked by tests/check_man.sh.
dist_man_MANS += \
	doc/udo-vsockd.8 \
	doc/udo-vsockd.conf.5 \
	doc/udo-vsock-protocol.7 \
	doc/udo-vsockd-module.3

dist_man_MANS += doc/udo-vsock.1
