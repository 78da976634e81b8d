/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* replay.c - runs one fuzz target's LLVMFuzzerTestOneInput over its seed
 * corpus (and any extra inputs) without libFuzzer, so `make check` builds
 * every target from the same sources as `make fuzz` and replays each seed
 * under the suite's compiler and sanitizers. REPLAY_INPUTS is a
 * colon-separated list of files and directories (searched recursively). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned int replayed;

/* Feeds file PATH to the target. Returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *more = realloc(buf, cap ? cap * 2 : 4096);

			if (more == NULL)
				abort();
			buf = more;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	replayed++;
	return 0;
}

/* Feeds PATH, or every file beneath it if it is a directory. */
static int replay_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		perror(path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];

		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			rc |= replay_path(sub);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Replays every input of REPLAY_INPUTS; fails if one is missing or none. */
int main(int argc, char **argv)
{
	char *list = strdup(REPLAY_INPUTS), *save = NULL;
	int rc = 0;

	if (list == NULL)
		return 99;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save))
		rc |= replay_path(p);
	free(list);
	printf("%s: %u inputs replayed\n", argv[0], replayed);
	return rc != 0 || replayed == 0;
}
