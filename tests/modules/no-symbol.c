/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* no-symbol.c - test module without the udo_vsockd_module symbol. */
extern int not_a_module;
int not_a_module = 1;
