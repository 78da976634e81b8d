# doc: filled in by later work
dist_man_MANS += doc/udo-vsock.1
