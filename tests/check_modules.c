/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check_modules - loading handler modules while the config is resolved:
 * options, every kind of bad module as a file:line error, unloading with
 * the last config reference, and the shipped guest config; no sockets. */
#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/udo-vsockd/conf.h"
#include "../src/udo-vsockd/handler.h"
#include "../src/udo-vsockd/resolve.h"
#include "daemon-harness.h"

#define FACTS_SO   TEST_BUILDDIR "/modules/.libs/facts.so"
#define TESTMOD(n) TEST_BUILDDIR "/tests/modules/.libs/" n ".so"

static char dir[256];

/* Fresh directory per test. */
static void setup(void)
{
	make_temp_dir(dir, sizeof(dir));
}

/* Removes the test's directory. */
static void teardown(void)
{
	remove_tree(dir);
}

/* Writes "[daemon]" with a listener and allow = any, then TEXT, to a
 * config file in the test directory; returns its path (static). */
static const char *put_conf(const char *text)
{
	static char path[512];
	char *full = NULL;

	snprintf(path, sizeof(path), "%s/test.conf", dir);
	ck_assert_int_ge(asprintf(&full, "[daemon]\nlisten = vsock:any:5000\nallow = any\n%s", text), 0);
	write_file(path, full);
	free(full);
	return path;
}

/* Loads PATH; returns the config or NULL, the error text in ERRBUF. */
static struct config *load(const char *path, char *errbuf, size_t len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	ck_assert_ptr_nonnull(f);
	struct config *conf = config_load(path, f);
	fclose(f);
	snprintf(errbuf, len, "%s", text != NULL ? text : "");
	free(text);
	return conf;
}

/* Asserts that loading TEXT fails with an error at line LINE of the test
 * file containing NEEDLE. */
static void expect_error(const char *text, int line, const char *needle)
{
	char errs[4096], want[64];
	const char *path = put_conf(text);

	struct config *conf = load(path, errs, sizeof(errs));
	ck_assert_msg(conf == NULL, "config loaded despite: %s", needle);
	snprintf(want, sizeof(want), "test.conf:%d: ", line);
	ck_assert_msg(strstr(errs, want) != NULL, "no error at line %d in:\n%s", line, errs);
	ck_assert_msg(strstr(errs, needle) != NULL, "'%s' not in:\n%s", needle, errs);
}

/* True if the shared object PATH is loaded in this process. */
static int is_loaded(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (h == NULL)
		return 0;
	dlclose(h);
	return 1;
}

START_TEST(test_load_and_options)
{
	char errs[4096];
	const char *path = put_conf("module = " FACTS_SO "\n"
	                            "[command facts]\nhandler = facts\nfacts = hostname, kernel\n"
	                            "[command delay]\nhandler = delay\nmax = 250ms\nsummary = wait a bit\n");
	struct config *conf = load(path, errs, sizeof(errs));

	ck_assert_msg(conf != NULL, "%s", errs);
	const struct command *facts = config_find_command(conf, "facts");
	const struct command *delay = config_find_command(conf, "delay");
	ck_assert_ptr_nonnull(facts);
	ck_assert_ptr_nonnull(delay);
	ck_assert_str_eq(facts->kind->name, "facts");
	ck_assert_str_eq(facts->usage, "[NAME]");
	ck_assert_int_eq(facts->min_args, 0);
	ck_assert_int_eq(facts->max_args, 1);
	ck_assert_int_eq(delay->min_args, 1);
	ck_assert_str_eq(delay->summary, "wait a bit");
	ck_assert(is_loaded(FACTS_SO));
	config_unref(conf);
	ck_assert_msg(!is_loaded(FACTS_SO), "module still loaded after the last config reference");
}
END_TEST

START_TEST(test_reference_keeps_module)
{
	char errs[4096];
	const char *path = put_conf("module = " FACTS_SO "\n[command facts]\nhandler = facts\n");
	struct config *conf = load(path, errs, sizeof(errs));

	ck_assert_msg(conf != NULL, "%s", errs);
	config_ref(conf); /* as a request in flight does */
	config_unref(conf);
	ck_assert(is_loaded(FACTS_SO));
	config_unref(conf);
	ck_assert(!is_loaded(FACTS_SO));
}
END_TEST

/* config_parse only records the lines: the module is loaded, the kind
 * bound and its option refused by config_resolve, still at the option's
 * file:line; the last reference unloads the module. */
START_TEST(test_parse_loads_nothing)
{
	const char *path = put_conf("module = " FACTS_SO "\n[command facts]\nhandler = facts\nfacts = nosuch\n");
	struct config *conf = config_parse(path, NULL);
	char *text = NULL;
	size_t len = 0;

	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->nerrors, 0);
	ck_assert_msg(!is_loaded(FACTS_SO), "config_parse loaded the module");
	ck_assert_ptr_null(conf->commands->kind);
	ck_assert_int_eq(config_resolve(conf), -1);
	ck_assert(is_loaded(FACTS_SO));
	ck_assert_ptr_nonnull(conf->commands->kind);
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(config_finish(conf, f), -1);
	fclose(f);
	ck_assert_msg(strstr(text, "test.conf:7: ") != NULL && strstr(text, "unknown fact 'nosuch'") != NULL, "%s",
	              text);
	free(text);
	config_unref(conf);
	ck_assert(!is_loaded(FACTS_SO));
}
END_TEST

START_TEST(test_option_errors)
{
	expect_error("module = " FACTS_SO "\n[command facts]\nhandler = facts\nfacts = hostname nosuch\n", 7,
	             "unknown fact 'nosuch'");
	expect_error("module = " FACTS_SO "\n[command delay]\nhandler = delay\nmax = soon\n", 7, "is not a duration");
	expect_error("module = " FACTS_SO "\n[command delay]\nhandler = delay\ncolour = red\n", 7,
	             "unknown option 'colour'");
	expect_error("module = " TESTMOD("counter") "\n[command c]\nhandler = counter-peek\nx = 1\n", 7,
	             "has no option 'x'");
}
END_TEST

START_TEST(test_timeout_option)
{
	char errs[4096];
	/* The daemon's own option, for every kind that can be cancelled;
	 * the module never sees it. */
	const char *path =
	    put_conf("module = " FACTS_SO "\n[command delay]\nhandler = delay\ntimeout = 2s\nmax = 5s\n");
	struct config *conf = load(path, errs, sizeof(errs));

	ck_assert_msg(conf != NULL, "%s", errs);
	config_unref(conf);
	expect_error("module = " FACTS_SO "\n[command delay]\nhandler = delay\ntimeout = soon\n", 7,
	             "timeout: 'soon' is not a duration");
	expect_error("module = " FACTS_SO "\n[command facts]\nhandler = facts\ntimeout = 1s\n", 7,
	             "handler 'facts' always answers at once");
}
END_TEST

START_TEST(test_missing_file)
{
	expect_error("module = /nonexistent/udo-nothing.so\n[command ping]\nhandler = ping\n", 4, "cannot load");
}
END_TEST

START_TEST(test_missing_symbol)
{
	expect_error("module = " TESTMOD("no-symbol") "\n[command ping]\nhandler = ping\n", 4,
	             "no symbol 'udo_vsockd_module'");
	ck_assert(!is_loaded(TESTMOD("no-symbol")));
}
END_TEST

START_TEST(test_wrong_abi)
{
	expect_error("module = " TESTMOD("bad-abi") "\n[command ping]\nhandler = ping\n", 4, "module ABI 101");
	ck_assert(!is_loaded(TESTMOD("bad-abi")));
}
END_TEST

START_TEST(test_kind_clash)
{
	expect_error("module = " TESTMOD("clash-ping") "\n[command ping]\nhandler = ping\n", 4,
	             "clashes with the built-in");
	expect_error("module = " FACTS_SO "\nmodule = " TESTMOD("clash-delay") "\n[command ping]\nhandler = ping\n", 5,
	             "kind 'delay' is already defined by module");
}
END_TEST

START_TEST(test_loaded_twice)
{
	expect_error("module = " FACTS_SO "\nmodule = " FACTS_SO "\n[command ping]\nhandler = ping\n", 5,
	             "already loaded at");
}
END_TEST

START_TEST(test_module_after_command)
{
	/* Kinds join the lookup when their module line is read. */
	expect_error("[command facts]\nhandler = facts\n[daemon]\nmodule = " FACTS_SO "\n", 5,
	             "unknown handler 'facts'");
}
END_TEST

START_TEST(test_module_dir)
{
	char errs[4096];
	const char *path = put_conf("module-dir = " TEST_BUILDDIR "/modules/.libs\nmodule = facts\n"
	                            "[command facts]\nhandler = facts\n");
	struct config *conf = load(path, errs, sizeof(errs));

	ck_assert_msg(conf != NULL, "%s", errs);
	config_unref(conf);
	expect_error("module-dir = relative/dir\n[command ping]\nhandler = ping\n", 4, "not an absolute path");
}
END_TEST

/* Runs `udo-vsockd -t -c PATH`; returns its exit status, output in OUT/ERR. */
static int check_config(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char *const argv[] = {(char *)daemon_binary(), "-t", "-c", (char *)path, NULL};

	return run_process(argv, out, outlen, err, errlen, 10000);
}

START_TEST(test_dash_t_reports_bad_module)
{
	char out[4096], err[4096];
	const char *path = put_conf("module = " TESTMOD("bad-abi") "\n[command ping]\nhandler = ping\n");

	ck_assert_int_eq(check_config(path, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "test.conf:4: module ") != NULL, "%s", err);
}
END_TEST

/* Writes a wrapper that points module-dir at the build tree and includes
 * the shipped guest config unchanged. */
static const char *guest_wrapper(void)
{
	static char path[512];
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/guest-wrapper.conf", dir);
	ck_assert_int_ge(asprintf(&text, "[daemon]\nmodule-dir = " TEST_BUILDDIR "/modules/.libs\n"
	                                 "include = " TEST_SRCDIR "/conf/udo-vsockd-guest.conf\n"),
	                 0);
	write_file(path, text);
	free(text);
	return path;
}

START_TEST(test_guest_config)
{
	char out[4096], err[4096];
	const char *path = guest_wrapper();

	int rc = check_config(path, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "udo-vsockd -t: %d\n%s%s", rc, out, err);
	ck_assert_str_eq(out, "configuration OK\n");
	ck_assert_msg(strstr(err, "warning") == NULL, "%s", err);

	struct config *conf = load(path, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	/* No system-state or failed-units: systemctl cannot reach D-Bus as the
	 * unit's dynamic user (guest.d/exec-checks.conf, doc/systemd-notes.md). */
	static const char *const want[] = {"ping", "help",  "version",    "whoami", "stats",
	                                   "time", "facts", "disk-usage", "memory"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(config_find_command(conf, want[i]) != NULL, "guest config lacks '%s'", want[i]);
	config_unref(conf);
}
END_TEST

/* The suite. */
static Suite *modules_suite(void)
{
	Suite *s = suite_create("modules");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_and_options);
	tcase_add_test(tc, test_reference_keeps_module);
	tcase_add_test(tc, test_parse_loads_nothing);
	tcase_add_test(tc, test_option_errors);
	tcase_add_test(tc, test_timeout_option);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_missing_symbol);
	tcase_add_test(tc, test_wrong_abi);
	tcase_add_test(tc, test_kind_clash);
	tcase_add_test(tc, test_loaded_twice);
	tcase_add_test(tc, test_module_after_command);
	tcase_add_test(tc, test_module_dir);
	tcase_add_test(tc, test_dash_t_reports_bad_module);
	tcase_add_test(tc, test_guest_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(modules_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
