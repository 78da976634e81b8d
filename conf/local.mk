# conf: the shipped configuration, installed without overwriting a local one.
udovsockdconfdir = $(sysconfdir)/udo-vsockd
dist_noinst_DATA += conf/udo-vsockd.conf

install-data-local: install-conf
install-conf:
	$(MKDIR_P) '$(DESTDIR)$(udovsockdconfdir)' '$(DESTDIR)$(udovsockdconfdir)/conf.d'
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; then \
		echo "keeping the existing $(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf"; \
	else \
		$(INSTALL_DATA) $(srcdir)/conf/udo-vsockd.conf '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; \
	fi

uninstall-local: uninstall-conf
uninstall-conf:
	@if test -f '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf' && \
	    cmp -s $(srcdir)/conf/udo-vsockd.conf '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; then \
		rm -f '$(DESTDIR)$(udovsockdconfdir)/udo-vsockd.conf'; \
	fi
	-rmdir '$(DESTDIR)$(udovsockdconfdir)/conf.d' '$(DESTDIR)$(udovsockdconfdir)' 2>/dev/null
.PHONY: install-conf uninstall-conf
