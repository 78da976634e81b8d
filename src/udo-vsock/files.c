/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* files.c - `udo-vsock ADDRESS put LOCAL REMOTE` and `get REMOTE LOCAL`:
 * one transfer with a files command of udo-vsockd, over session frames,
 * checked against the SHA-256 the daemon reports, with a progress line
 * on a terminal. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <udo/vsock-frame.h>

#include "buf.h"
#include "cli.h"
#include "proto.h"

#define FILES_DEFAULT_COMMAND "files"
#define FILES_GET_WINDOW      (1u << 20) /* granted to the daemon at a time */
#define FILES_PROGRESS_MS     250

/* One transfer in progress. */
struct xfer {
	const struct cli_options *opt;
	int sock;
	int file;
	unsigned char in[2 * (UDO_VSOCK_FRAME_HEADER_SIZE + UDO_VSOCK_FRAME_PAYLOAD_MAX)];
	size_t in_len;
	unsigned char out[UDO_VSOCK_FRAME_HEADER_SIZE + UDO_VSOCK_FRAME_PAYLOAD_MAX];
	size_t out_len, out_off;
	EVP_MD_CTX *md;
	uint64_t total, done; /* bytes to move in this run, and moved */
	uint64_t window;      /* PUT: bytes the daemon lets us send */
	uint64_t granted;     /* GET: bytes we let the daemon send */
	char final[UDO_VSOCK_FRAME_ERROR_MAX + 1];
	int final_type; /* DONE or ERROR once it came, else 0 */
	int progress;   /* stderr is a terminal */
	int64_t started_ms, shown_ms;
	const char *what;
};

/* Splits REMOTE "[COMMAND:]PATH" into the command and the path. */
static void split_remote(const char *remote, char *cmd, size_t cmdlen, const char **path)
{
	const char *colon = strchr(remote, ':');

	if (colon != NULL && colon > remote && memchr(remote, '/', (size_t)(colon - remote)) == NULL &&
	    (size_t)(colon - remote) < cmdlen) {
		memcpy(cmd, remote, (size_t)(colon - remote));
		cmd[colon - remote] = '\0';
		*path = colon + 1;
	} else {
		snprintf(cmd, cmdlen, "%s", FILES_DEFAULT_COMMAND);
		*path = remote;
	}
}

/* Writes a byte count in binary units into BUF. */
static void format_bytes(double v, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* Redraws the progress line (at most every FILES_PROGRESS_MS, or when
 * FORCE). */
static void show_progress(struct xfer *x, int force)
{
	int64_t now = cli_now_ms();
	char done[32], total[32], rate[32], eta[32] = "--:--";
	double secs, bps;

	if (!x->progress || (!force && now - x->shown_ms < FILES_PROGRESS_MS))
		return;
	x->shown_ms = now;
	secs = (double)(now - x->started_ms) / 1000.0;
	bps = secs > 0 ? (double)x->done / secs : 0;
	format_bytes((double)x->done, done, sizeof(done));
	format_bytes((double)x->total, total, sizeof(total));
	format_bytes(bps, rate, sizeof(rate));
	if (bps > 0 && x->total >= x->done) {
		uint64_t left = (uint64_t)((double)(x->total - x->done) / bps);
		snprintf(eta, sizeof(eta), "%" PRIu64 ":%02" PRIu64, left / 60, left % 60);
	}
	fprintf(stderr, "\r%s %s / %s  %s/s  ETA %s   ", x->what, done, total, rate, eta);
	if (force)
		fputc('\n', stderr);
}

/* Sends the request line built from ARGV (ARGC words) and reads the reply
 * line into LINE, byte by byte so no frame is read with it. Returns 0, or
 * the exit status. */
static int request_line(struct xfer *x, int argc, char *const argv[], char *line, size_t cap)
{
	struct cli_buf req = {0};
	size_t off = 0, n = 0;
	int bad = 0;

	if (cli_build_request(&req, argc, argv, &bad) < 0) {
		cli_buf_free(&req);
		cli_error("argument '%s' contains a newline", argv[bad]);
		return CLI_EXIT_USAGE;
	}
	while (off < req.len) {
		struct pollfd pfd = {.fd = x->sock, .events = POLLOUT};
		ssize_t w;

		if (poll(&pfd, 1, x->opt->reply_timeout_ms) == 0) {
			cli_buf_free(&req);
			cli_error("timed out sending the request");
			return CLI_EXIT_TIMEOUT;
		}
		w = send(x->sock, req.data + off, req.len - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0) {
			cli_buf_free(&req);
			cli_error("sending the request: %s", strerror(errno));
			return CLI_EXIT_PROTOCOL;
		}
		off += (size_t)w;
	}
	cli_buf_free(&req);
	for (;;) {
		struct pollfd pfd = {.fd = x->sock, .events = POLLIN};
		char c;
		ssize_t r;

		if (poll(&pfd, 1, x->opt->reply_timeout_ms) == 0) {
			cli_error("no reply within the timeout");
			return CLI_EXIT_TIMEOUT;
		}
		r = recv(x->sock, &c, 1, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			cli_error("the connection closed before a reply");
			return CLI_EXIT_PROTOCOL;
		}
		if (c == '\n')
			break;
		if (n + 1 < cap)
			line[n++] = c;
	}
	line[n] = '\0';
	if (strncmp(line, "OK", 2) == 0)
		return 0;
	cli_error("%s", line);
	return strncmp(line, "ERR ", 4) == 0 ? CLI_EXIT_ERR : CLI_EXIT_PROTOCOL;
}

/* Queues one frame in the output buffer (empty before). */
static void queue_frame(struct xfer *x, uint8_t type, uint8_t channel, const void *payload, size_t len)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = (uint32_t)len};

	udo_vsock_frame_encode_header(x->out, &f);
	if (len > 0)
		memcpy(x->out + UDO_VSOCK_FRAME_HEADER_SIZE, payload, len);
	x->out_len = UDO_VSOCK_FRAME_HEADER_SIZE + len;
	x->out_off = 0;
}

/* Handles the whole frames read so far. Returns 0, or the exit status. */
static int take_frames(struct xfer *x)
{
	size_t off = 0;

	while (x->in_len - off >= UDO_VSOCK_FRAME_HEADER_SIZE) {
		struct udo_vsock_frame f;
		const unsigned char *p = x->in + off + UDO_VSOCK_FRAME_HEADER_SIZE;
		char err[128];

		if (udo_vsock_frame_decode_header(x->in + off, x->in_len - off, &f, err, sizeof(err)) < 0) {
			cli_error("bad frame from the daemon: %s", err);
			return CLI_EXIT_PROTOCOL;
		}
		if (x->in_len - off < UDO_VSOCK_FRAME_HEADER_SIZE + f.length)
			break;
		off += UDO_VSOCK_FRAME_HEADER_SIZE + f.length;
		if (f.type == UDO_VSOCK_FRAME_WINDOW && f.channel == UDO_VSOCK_FRAME_STDIN) {
			x->window += (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		} else if (f.type == UDO_VSOCK_FRAME_DATA && f.channel == UDO_VSOCK_FRAME_STDOUT &&
		           f.length <= x->granted - x->done) {
			for (size_t w = 0; w < f.length;) {
				ssize_t n = write(x->file, p + w, f.length - w);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					cli_error("writing the local file: %s", strerror(errno));
					return CLI_EXIT_LOCAL;
				}
				w += (size_t)n;
			}
			EVP_DigestUpdate(x->md, p, f.length);
			x->done += f.length;
		} else if (f.type == UDO_VSOCK_FRAME_DONE || f.type == UDO_VSOCK_FRAME_ERROR) {
			memcpy(x->final, p, f.length);
			x->final[f.length] = '\0';
			x->final_type = f.type;
		} else {
			cli_error("unexpected frame type %u on channel %u", f.type, f.channel);
			return CLI_EXIT_PROTOCOL;
		}
	}
	memmove(x->in, x->in + off, x->in_len - off);
	x->in_len -= off;
	return 0;
}

/* PUT: fills the output buffer with the next frame, if any may go. */
static int put_next_frame(struct xfer *x, int *eof_sent)
{
	unsigned char chunk[UDO_VSOCK_FRAME_PAYLOAD_MAX];
	size_t want;
	ssize_t n;

	if (x->done == x->total) {
		if (!*eof_sent)
			queue_frame(x, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, NULL, 0);
		*eof_sent = 1;
		return 0;
	}
	if (x->window == 0)
		return 0;
	want = x->window < sizeof(chunk) ? (size_t)x->window : sizeof(chunk);
	if (want > x->total - x->done)
		want = (size_t)(x->total - x->done);
	do
		n = read(x->file, chunk, want);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		cli_error("reading the local file: %s", n < 0 ? strerror(errno) : "it shrank during the transfer");
		return CLI_EXIT_LOCAL;
	}
	EVP_DigestUpdate(x->md, chunk, (size_t)n);
	queue_frame(x, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, chunk, (size_t)n);
	x->window -= (uint64_t)n;
	x->done += (uint64_t)n;
	return 0;
}

/* Moves frames until the daemon's last frame: PUT sends the file, GET
 * grants windows and writes what comes. Returns 0, or the exit status. */
static int pump(struct xfer *x, int put)
{
	int eof_sent = 0, rc;

	while (x->final_type == 0) {
		struct pollfd pfd = {.fd = x->sock, .events = POLLIN};
		int ready;

		if (x->out_off == x->out_len) {
			x->out_len = x->out_off = 0;
			if (put && (rc = put_next_frame(x, &eof_sent)) != 0)
				return rc;
			if (!put && x->granted < x->total && x->granted - x->done < FILES_GET_WINDOW / 2) {
				uint32_t n = (uint32_t)(x->total - x->granted < FILES_GET_WINDOW ? x->total - x->granted
				                                                                 : FILES_GET_WINDOW);
				unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
				                      (unsigned char)(n >> 8), (unsigned char)n};
				queue_frame(x, UDO_VSOCK_FRAME_WINDOW, UDO_VSOCK_FRAME_STDOUT, b, sizeof(b));
				x->granted += n;
			}
		}
		if (x->out_off < x->out_len)
			pfd.events |= POLLOUT;
		ready = poll(&pfd, 1, x->opt->reply_timeout_ms);
		if (ready == 0) {
			cli_error("no progress within the timeout");
			return CLI_EXIT_TIMEOUT;
		}
		if (ready < 0 && errno == EINTR)
			continue;
		if (pfd.revents & POLLOUT) {
			ssize_t n = send(x->sock, x->out + x->out_off, x->out_len - x->out_off, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				cli_error("the connection broke: %s", strerror(errno));
				return CLI_EXIT_PROTOCOL;
			}
			if (n > 0)
				x->out_off += (size_t)n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(x->sock, x->in + x->in_len, sizeof(x->in) - x->in_len, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				cli_error("the connection closed before the transfer ended");
				return CLI_EXIT_PROTOCOL;
			}
			x->in_len += (size_t)n;
			if ((rc = take_frames(x)) != 0)
				return rc;
		}
		show_progress(x, 0);
	}
	return 0;
}

/* Checks the daemon's last frame against our own hash. */
static int check_final(struct xfer *x)
{
	unsigned char dg[32];
	unsigned int len = 0;
	char want[160], hex[65];

	show_progress(x, 1);
	if (x->final_type == UDO_VSOCK_FRAME_ERROR) {
		cli_error("%s", x->final);
		return CLI_EXIT_ERR;
	}
	EVP_DigestFinal_ex(x->md, dg, &len);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", dg[i]);
	snprintf(want, sizeof(want), "OK sha256=%s bytes=%" PRIu64, hex, x->done);
	if (strcmp(x->final, want) != 0) {
		cli_error("integrity check failed: the daemon reports '%s', this side '%s'", x->final, want);
		return CLI_EXIT_INTEGRITY;
	}
	if (x->opt->verbose)
		cli_error("%s", x->final);
	return 0;
}

/* Connects and prepares X. Returns 0, or the exit status. */
static int xfer_open(struct xfer *x, const struct cli_options *opt, const char *what)
{
	unsigned int retries = 0;
	int klass;

	memset(x, 0, sizeof(*x));
	x->opt = opt;
	x->file = -1;
	x->what = what;
	x->progress = isatty(STDERR_FILENO);
	x->started_ms = cli_now_ms();
	x->md = EVP_MD_CTX_new();
	if (x->md == NULL || EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1) {
		cli_error("out of memory");
		return CLI_EXIT_LOCAL;
	}
	x->sock = cli_connect(opt, &retries, &klass);
	return x->sock < 0 ? klass : 0;
}

/* Frees what X holds. */
static void xfer_close(struct xfer *x)
{
	if (x->sock >= 0)
		close(x->sock);
	if (x->file >= 0 && x->file != STDOUT_FILENO)
		close(x->file);
	EVP_MD_CTX_free(x->md);
}

/* put LOCAL [COMMAND:]REMOTE */
static int files_put(const struct cli_options *opt, const char *local, const char *remote)
{
	struct xfer x;
	char cmd[128], size[32], line[1100];
	const char *path;
	struct stat st;
	int rc;

	split_remote(remote, cmd, sizeof(cmd), &path);
	if ((rc = xfer_open(&x, opt, "put")) != 0)
		goto out;
	x.file = open(local, O_RDONLY | O_CLOEXEC);
	if (x.file < 0 || fstat(x.file, &st) < 0 || !S_ISREG(st.st_mode)) {
		cli_error("%s: %s", local, x.file < 0 ? strerror(errno) : "not a regular file");
		rc = CLI_EXIT_LOCAL;
		goto out;
	}
	x.total = (uint64_t)st.st_size;
	snprintf(size, sizeof(size), "%" PRIu64, x.total);
	char *argv[] = {cmd, "PUT", (char *)path, size, NULL};
	if ((rc = request_line(&x, 4, argv, line, sizeof(line))) != 0)
		goto out;
	if (strcmp(line, "OK put") != 0) {
		cli_error("unexpected reply '%s'", line);
		rc = CLI_EXIT_PROTOCOL;
		goto out;
	}
	if ((rc = pump(&x, 1)) == 0)
		rc = check_final(&x);
out:
	xfer_close(&x);
	return rc;
}

/* get [--resume] [COMMAND:]REMOTE [LOCAL] */
static int files_get(const struct cli_options *opt, const char *remote, const char *local, int resume)
{
	struct xfer x;
	char cmd[128], offset[32], line[1100];
	const char *path, *base;
	unsigned long long size;
	uint64_t from = 0;
	struct stat st;
	int rc, to_stdout;

	split_remote(remote, cmd, sizeof(cmd), &path);
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (local == NULL)
		local = base;
	to_stdout = strcmp(local, "-") == 0;
	if (!to_stdout && local[0] == '\0') {
		cli_error("%s names no file; give LOCAL", remote);
		return CLI_EXIT_USAGE;
	}
	if ((rc = xfer_open(&x, opt, "get")) != 0)
		goto out;
	if (to_stdout) {
		x.file = STDOUT_FILENO;
		x.progress = 0;
	} else {
		x.file = open(local, O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? O_APPEND : O_TRUNC), 0666);
		if (x.file < 0 || fstat(x.file, &st) < 0) {
			cli_error("%s: %s", local, strerror(errno));
			rc = CLI_EXIT_LOCAL;
			goto out;
		}
		if (resume)
			from = (uint64_t)st.st_size;
	}
	snprintf(offset, sizeof(offset), "%" PRIu64, from);
	char *argv[] = {cmd, "GET", (char *)path, offset, NULL};
	if ((rc = request_line(&x, 4, argv, line, sizeof(line))) != 0)
		goto out;
	if (sscanf(line, "OK get %llu", &size) != 1 || size < from) {
		cli_error("unexpected reply '%s'", line);
		rc = CLI_EXIT_PROTOCOL;
		goto out;
	}
	x.total = size - from;
	if ((rc = pump(&x, 0)) == 0)
		rc = check_final(&x);
	if (rc == 0 && !to_stdout && fsync(x.file) < 0 && errno != EINVAL) {
		cli_error("%s: %s", local, strerror(errno));
		rc = CLI_EXIT_LOCAL;
	}
out:
	xfer_close(&x);
	return rc;
}

/* The put and get verbs: ARGV[0] is "put" or "get". */
int cli_files_run(const struct cli_options *opt, int argc, char **argv)
{
	int resume = argc > 1 && strcmp(argv[1], "--resume") == 0;

	if (strcmp(argv[0], "put") == 0) {
		if (argc != 3) {
			cli_error("usage: udo-vsock ADDRESS put LOCAL [COMMAND:]REMOTE");
			return CLI_EXIT_USAGE;
		}
		return files_put(opt, argv[1], argv[2]);
	}
	if (argc - resume < 2 || argc - resume > 3) {
		cli_error("usage: udo-vsock ADDRESS get [--resume] [COMMAND:]REMOTE [LOCAL]");
		return CLI_EXIT_USAGE;
	}
	if (resume && argc - resume == 3 && strcmp(argv[3], "-") == 0) {
		cli_error("--resume needs a LOCAL file, not standard output");
		return CLI_EXIT_USAGE;
	}
	return files_get(opt, argv[1 + resume], argc - resume == 3 ? argv[2 + resume] : NULL, resume);
}
