# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd units. The .service files are generated from .in at make time so
# that ExecStart= follows the configured sbindir and sysconfdir (make
# variables, which may be overridden on the make command line).
systemdsystemunit_DATA = \
	systemd/udo-vsockd.service \
	systemd/udo-vsockd@.service \
	systemd/udo-vsockd.socket

EXTRA_DIST += doc/systemd-notes.md \
	systemd/udo-vsockd.service.in \
	systemd/udo-vsockd@.service.in \
	systemd/udo-vsockd.socket
CLEANFILES += \
	systemd/udo-vsockd.service \
	systemd/udo-vsockd@.service

systemd_edit = sed \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

# Rebuilt when the template or the Makefile (hence the paths) changes.
systemd/udo-vsockd.service: $(srcdir)/systemd/udo-vsockd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/systemd/udo-vsockd.service.in >$@.tmp && mv -f $@.tmp $@
systemd/udo-vsockd@.service: $(srcdir)/systemd/udo-vsockd@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/systemd/udo-vsockd@.service.in >$@.tmp && mv -f $@.tmp $@
