# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd units. The .service files are generated from .in at make time so
# that ExecStart= follows the configured sbindir and sysconfdir (make
# variables, which may be overridden on the make command line).
systemdsystemunit_DATA = \
	systemd/udo-vsockd.service \
	systemd/udo-vsockd@.service \
	systemd/udo-vsockd-guest-admin.service \
	systemd/udo-vsockd.socket

# The guest admin unit's static user, and the polkit rule that lets it
# (only it) power off and reboot through logind.
sysusers_DATA = systemd/udo-vsockd-guest-admin.conf
polkitrules_DATA = systemd/50-udo-vsockd-guest-admin.rules
systemd/udo-vsockd-guest-admin.conf: $(srcdir)/systemd/udo-vsockd-guest-admin.sysusers
	$(AM_V_GEN)$(MKDIR_P) systemd && cp $(srcdir)/systemd/udo-vsockd-guest-admin.sysusers $@
systemd/50-udo-vsockd-guest-admin.rules: $(srcdir)/systemd/udo-vsockd-guest-admin.rules
	$(AM_V_GEN)$(MKDIR_P) systemd && cp $(srcdir)/systemd/udo-vsockd-guest-admin.rules $@

EXTRA_DIST += doc/systemd-notes.md \
	systemd/udo-vsockd.service.in \
	systemd/udo-vsockd@.service.in \
	systemd/udo-vsockd-guest-admin.service.in \
	systemd/udo-vsockd-guest-admin.sysusers \
	systemd/udo-vsockd-guest-admin.rules \
	systemd/udo-vsockd.socket
CLEANFILES += \
	systemd/udo-vsockd.service \
	systemd/udo-vsockd@.service \
	systemd/udo-vsockd-guest-admin.service \
	systemd/udo-vsockd-guest-admin.conf \
	systemd/50-udo-vsockd-guest-admin.rules

systemd_edit = sed \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

# Rebuilt when the template or the Makefile (hence the paths) changes.
systemd/udo-vsockd.service: $(srcdir)/systemd/udo-vsockd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/systemd/udo-vsockd.service.in >$@.tmp && mv -f $@.tmp $@
systemd/udo-vsockd@.service: $(srcdir)/systemd/udo-vsockd@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/systemd/udo-vsockd@.service.in >$@.tmp && mv -f $@.tmp $@
systemd/udo-vsockd-guest-admin.service: $(srcdir)/systemd/udo-vsockd-guest-admin.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && $(systemd_edit) $(srcdir)/systemd/udo-vsockd-guest-admin.service.in >$@.tmp && mv -f $@.tmp $@
