/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_conf.c - libFuzzer target: the configuration parser on arbitrary
 * bytes (conf.c alone: binding kinds and loading modules is resolve.c's) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/udo-vsockd/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static FILE *input;   /* an in-memory file (memfd) holding each input */
static FILE *devnull; /* where parse errors go */
static char dir[] = "/tmp/fuzz_conf.XXXXXX";

/* Removes the private directory at exit. */
static void cleanup(void)
{
	if (chdir("/") == 0) {
		char path[64];
		static const char *const files[] = {"conf.d/10-cmd.conf", "conf.d/20-bad.conf", "inc.conf"};
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/conf.d", dir);
		rmdir(path);
		rmdir(dir);
	}
}

/* Writes the text of a file the fuzzed input may include. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

/* Moves into a private directory holding a few files to include, and
 * opens the memfd the inputs are written to. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd = memfd_create("fuzz_conf", MFD_CLOEXEC);

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL || chdir(dir) < 0 || mkdir("conf.d", 0700) < 0 || fd < 0)
		abort();
	write_file("inc.conf", "[daemon]\nlisten = unix:@inc\ninclude = conf.d\n");
	write_file("conf.d/10-cmd.conf", "[command inc]\nhandler = ping\nallow = 3-9 unix:x\n");
	write_file("conf.d/20-bad.conf", "[command inc]\nhandler = nope\n[bogus\n");
	input = fdopen(fd, "w+");
	devnull = fopen("/dev/null", "w");
	if (input == NULL || devnull == NULL || atexit(cleanup) != 0)
		abort();
	return 0;
}

/* True if an include line of DATA could leave the private directory:
 * absolute, or going up. Such inputs are skipped, not parsed. */
static int escapes(const uint8_t *data, size_t size)
{
	for (size_t start = 0; start < size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl != NULL ? (size_t)(nl - data) : size;
		const char *line = (const char *)data + start;
		size_t len = end - start, i = 0;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < len && line[i] != '#' && line[i] != ';' && memmem(line, len, "include", 7) != NULL) {
			const char *eq = memchr(line, '=', len);
			size_t v = eq != NULL ? (size_t)(eq - line) + 1 : len;
			while (v < len && (line[v] == ' ' || line[v] == '\t'))
				v++;
			if (memmem(line, len, "..", 2) != NULL || (v < len && line[v] == '/'))
				return 1;
		}
		start = end + 1;
	}
	return 0;
}

/* Parses DATA as a whole config file: errors are fine, crashes and leaks
 * are not; a config that parses must be usable and freeable. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (escapes(data, size))
		return -1; /* not added to the corpus */
	if (ftruncate(fileno(input), 0) < 0 || fseek(input, 0, SEEK_SET) < 0)
		abort();
	if ((size > 0 && fwrite(data, 1, size, input) != size) || fflush(input) != 0 || fseek(input, 0, SEEK_SET) < 0)
		abort();
	clearerr(input);
	struct config *conf = config_parse("fuzz.conf", input);
	if (conf == NULL)
		return 0;
	if (config_finish(conf, devnull) < 0) {
		config_unref(conf);
		return 0;
	}
	/* What parsed must be consistent: listeners and commands are there,
	 * each command names its handler. */
	if (conf->listeners == NULL || conf->commands == NULL)
		abort();
	for (const struct command *cmd = conf->commands; cmd != NULL; cmd = cmd->next) {
		int named = 0;
		for (const struct conf_line *l = cmd->keys; l != NULL; l = l->next)
			named |= strcmp(l->key, "handler") == 0;
		if (config_find_command(conf, cmd->name) != cmd || !named)
			abort();
	}
	config_ref(conf);
	config_unref(conf);
	config_unref(conf);
	return 0;
}
