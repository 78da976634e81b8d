/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_proto.c - libFuzzer target: udo_vsock_proto_parse_line and its invariants */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <udo/vsock-proto.h>

#define MAX_ARGS_LIMIT 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A second, independent tokenizer following udo-vsock-protocol(7): writes
 * the words NUL-separated into OUT (SIZE + 1 bytes). Returns the result. */
static enum udo_vsock_proto_parse_result model_parse(const uint8_t *in, size_t size, int max_args, char *out, int *argc)
{
	size_t i = 0, o = 0;

	*argc = 0;
	for (size_t k = 0; k < size; k++) {
		if ((in[k] < 0x20 && in[k] != '\t') || in[k] == 0x7f)
			return UDO_VSOCK_PROTO_PARSE_SYNTAX;
	}
	for (;;) {
		while (i < size && (in[i] == ' ' || in[i] == '\t'))
			i++;
		if (i == size)
			break;
		if (*argc == max_args)
			return UDO_VSOCK_PROTO_PARSE_TOO_MANY;
		(*argc)++;
		int quoted = 0;
		for (; i < size; i++) {
			if (!quoted && (in[i] == ' ' || in[i] == '\t'))
				break;
			if (in[i] == '"')
				quoted = !quoted;
			else if (quoted && in[i] == '\\' && i + 1 < size && (in[i + 1] == '"' || in[i + 1] == '\\'))
				out[o++] = (char)in[++i];
			else
				out[o++] = (char)in[i];
		}
		if (quoted)
			return UDO_VSOCK_PROTO_PARSE_SYNTAX;
		out[o++] = '\0';
	}
	return *argc == 0 ? UDO_VSOCK_PROTO_PARSE_EMPTY : UDO_VSOCK_PROTO_PARSE_OK;
}

/* The first byte picks MAX_ARGS (1..16); the rest is the request line. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS_LIMIT];
	const char *why = NULL;
	int argc = -1, model_argc = 0;

	if (size < 1)
		return 0;
	int max_args = 1 + data[0] % MAX_ARGS_LIMIT;
	data++;
	size--;
	/* Exactly LEN + 1 bytes, so ASan sees any access past the terminator. */
	char *line = malloc(size + 1);
	char *model = malloc(size + 1);
	if (line == NULL || model == NULL)
		abort();
	if (size > 0)
		memcpy(line, data, size);
	line[size] = (char)0xa5; /* scratch byte the parser may use; no NUL promised */
	enum udo_vsock_proto_parse_result r = udo_vsock_proto_parse_line(line, size, argv, max_args, &argc, &why);
	enum udo_vsock_proto_parse_result m = model_parse(data, size, max_args, model, &model_argc);

	if (r != m)
		abort();
	if (r < 0 && (why == NULL || argc != 0))
		abort();
	if (r == UDO_VSOCK_PROTO_PARSE_EMPTY && argc != 0)
		abort();
	if (r == UDO_VSOCK_PROTO_PARSE_OK) {
		const char *expect = model;
		if (argc < 1 || argc > max_args || argc != model_argc)
			abort();
		for (int i = 0; i < argc; i++) {
			/* Inside the buffer, NUL-terminated inside it, in order, disjoint. */
			if (argv[i] < line || argv[i] > line + size)
				abort();
			const char *nul = memchr(argv[i], '\0', (size_t)(line + size + 1 - argv[i]));
			if (nul == NULL)
				abort();
			if (i > 0 && argv[i] <= argv[i - 1] + strlen(argv[i - 1]))
				abort();
			for (const char *p = argv[i]; p < nul; p++) {
				unsigned char c = (unsigned char)*p;
				if ((c < 0x20 && c != '\t') || c == 0x7f)
					abort();
				if (i == 0 && c >= 'A' && c <= 'Z')
					abort();
			}
			/* The same words as the model, the command lower-cased. */
			size_t wlen = strlen(expect);
			if ((size_t)(nul - argv[i]) != wlen)
				abort();
			for (size_t k = 0; k < wlen; k++) {
				char e = expect[k];
				if (i == 0 && e >= 'A' && e <= 'Z')
					e = (char)(e - 'A' + 'a');
				if (argv[i][k] != e)
					abort();
			}
			expect += wlen + 1;
		}
	}
	free(model);
	free(line);
	return 0;
}
