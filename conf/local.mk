# SPDX-License-Identifier: LGPL-2.1-or-later
# conf: the shipped configuration, installed without overwriting a local one.
udovsockdconfdir = $(sysconfdir)/udo-vsockd
dist_noinst_DATA += conf/udo-vsockd.conf conf/udo-vsockd-guest.conf conf/udo-vsockd-guest-admin.conf conf/guest.d/exec-checks.conf

install-data-local: install-conf
install-conf:
	$(MKDIR_P) '$(DESTDIR)$(udovsockdconfdir)' '$(DESTDIR)$(udovsockdconfdir)/conf.d'
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; then \
		echo "keeping the existing $(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf"; \
	else \
		$(INSTALL_DATA) $(srcdir)/conf/udo-vsockd.conf '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; \
	fi
	$(MKDIR_P) '$(DESTDIR)$(udovsockdconfdir)/guest.d'
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/guest.conf'; then \
		echo "keeping the existing $(DESTDIR)$(udovsockdconfdir)/guest.conf"; \
	else \
		$(INSTALL_DATA) $(srcdir)/conf/udo-vsockd-guest.conf '$(DESTDIR)$(udovsockdconfdir)/guest.conf'; \
	fi
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/guest-admin.conf'; then \
		echo "keeping the existing $(DESTDIR)$(udovsockdconfdir)/guest-admin.conf"; \
	else \
		$(INSTALL_DATA) $(srcdir)/conf/udo-vsockd-guest-admin.conf '$(DESTDIR)$(udovsockdconfdir)/guest-admin.conf'; \
	fi
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/guest.d/exec-checks.conf'; then \
		echo "keeping the existing $(DESTDIR)$(udovsockdconfdir)/guest.d/exec-checks.conf"; \
	else \
		$(INSTALL_DATA) $(srcdir)/conf/guest.d/exec-checks.conf '$(DESTDIR)$(udovsockdconfdir)/guest.d/exec-checks.conf'; \
	fi

uninstall-local: uninstall-conf
uninstall-conf:
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf' && \
	    cmp -s $(srcdir)/conf/udo-vsockd.conf '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; then \
		rm -f '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; \
	fi
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/guest.conf' && \
	    cmp -s $(srcdir)/conf/udo-vsockd-guest.conf '$(DESTDIR)$(udovsockdconfdir)/guest.conf'; then \
		rm -f '$(DESTDIR)$(udovsockdconfdir)/guest.conf'; \
	fi
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/guest-admin.conf' && \
	    cmp -s $(srcdir)/conf/udo-vsockd-guest-admin.conf '$(DESTDIR)$(udovsockdconfdir)/guest-admin.conf'; then \
		rm -f '$(DESTDIR)$(udovsockdconfdir)/guest-admin.conf'; \
	fi
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/guest.d/exec-checks.conf' && \
	    cmp -s $(srcdir)/conf/guest.d/exec-checks.conf '$(DESTDIR)$(udovsockdconfdir)/guest.d/exec-checks.conf'; then \
		rm -f '$(DESTDIR)$(udovsockdconfdir)/guest.d/exec-checks.conf'; \
	fi
	-rmdir '$(DESTDIR)$(udovsockdconfdir)/guest.d' 2>/dev/null
	-rmdir '$(DESTDIR)$(udovsockdconfdir)/conf.d' '$(DESTDIR)$(udovsockdconfdir)' 2>/dev/null
.PHONY: install-conf uninstall-conf
