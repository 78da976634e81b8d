# SPDX-License-Identifier: LGPL-2.1-or-later
# modules: handler modules loaded by udo-vsockd (udo-vsockd-module(3)).
pkglib_LTLIBRARIES += modules/facts.la
modules_facts_la_SOURCES = modules/facts/facts.c
modules_facts_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
modules_facts_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -export-symbols-regex '^udo_vsockd_module$$'
modules_facts_la_LIBADD = lib/libudo-vsock.la $(LIBEVENT_LIBS)
