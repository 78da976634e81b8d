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
#include <sys/uio.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <openssl/evp.h>

#include <udo/vsock-frame.h>

#include "buf.h"
#include "cli.h"
#include "proto.h"

#define FILES_DEFAULT_COMMAND "files"
#define FILES_BATCH           (1u << 20) /* file bytes per read or write of the local file, at most */
#define FILES_GET_WINDOW      (4u << 20) /* granted to the daemon at a time */
#define FILES_SOCKET_BUFFER   (4u << 20) /* AF_VSOCK: what the daemon may send before we read */
#define FILES_IOV             64         /* pieces gathered for one writev */
#define FILES_GET_INPUT       (2u << 20) /* a GET's reads from the socket, at most */
#define FILES_PROGRESS_MS     250

/* One transfer in progress. */
struct xfer {
	const struct cli_options *opt;
	int sock;
	int file;
	unsigned char *in; /* frames read, not yet handled */
	size_t in_len, in_cap;
	unsigned char *out; /* frames to send */
	size_t out_len, out_off;
	uint32_t frame_left; /* GET: bytes of the current DATA frame still to come */
	EVP_MD_CTX *md;
	uint64_t total, done; /* bytes to move in this run, and moved */
	uint64_t window;      /* PUT: bytes the daemon lets us send */
	uint64_t granted;     /* GET: bytes we let the daemon send */
	uint64_t accepted;    /* GET: bytes of the DATA frames begun */
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
	int64_t now;
	char done[32], total[32], rate[32], eta[32] = "--:--";
	double secs, bps;

	if (!x->progress)
		return;
	now = cli_now_ms();
	if (!force && now - x->shown_ms < FILES_PROGRESS_MS)
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

/* The bytes of whole frames carrying PAYLOAD bytes in frames of
 * UDO_VSOCK_FRAME_PAYLOAD_MAX, plus one empty frame. */
static size_t frames_size(size_t payload)
{
	return payload + (payload / UDO_VSOCK_FRAME_PAYLOAD_MAX + 2) * UDO_VSOCK_FRAME_HEADER_SIZE;
}

/* Appends the header of a frame of LEN bytes to the output buffer (room
 * for the frame known); its payload goes right after it. */
static void queue_header(struct xfer *x, uint8_t type, uint8_t channel, size_t len)
{
	struct udo_vsock_frame f = {.type = type, .channel = channel, .length = (uint32_t)len};

	udo_vsock_frame_encode_header(x->out + x->out_len, &f);
	x->out_len += UDO_VSOCK_FRAME_HEADER_SIZE;
}

/* GET: hashes the N pieces of DATA payloads at IOV and writes them to
 * the local file, in one writev(2) where it takes them all. Returns 0,
 * or the exit status. */
static int write_pieces(struct xfer *x, struct iovec *iov, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		EVP_DigestUpdate(x->md, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	x->done += len;
	while (len > 0) {
		ssize_t w = writev(x->file, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cli_error("writing the local file: %s", strerror(errno));
			return CLI_EXIT_LOCAL;
		}
		len -= (size_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Handles what was read so far: windows, the last frame, and a GET's
 * DATA payloads, whole or in part, written as they come. Returns 0, or
 * the exit status. */
static int take_frames(struct xfer *x)
{
	struct iovec iov[FILES_IOV];
	int niov = 0, rc = 0;
	size_t off = 0;

	while (off < x->in_len) {
		struct udo_vsock_frame f;
		const unsigned char *p = x->in + off + UDO_VSOCK_FRAME_HEADER_SIZE;
		char err[128];

		if (x->frame_left > 0) { /* a DATA payload */
			size_t n = x->in_len - off < x->frame_left ? x->in_len - off : x->frame_left;

			if (niov == FILES_IOV) {
				if ((rc = write_pieces(x, iov, niov)) != 0)
					return rc;
				niov = 0;
			}
			iov[niov++] = (struct iovec){.iov_base = x->in + off, .iov_len = n};
			x->frame_left -= (uint32_t)n;
			off += n;
			continue;
		}
		if (x->in_len - off < UDO_VSOCK_FRAME_HEADER_SIZE)
			break;
		if (udo_vsock_frame_decode_header(x->in + off, x->in_len - off, &f, err, sizeof(err)) < 0) {
			cli_error("bad frame from the daemon: %s", err);
			return CLI_EXIT_PROTOCOL;
		}
		if (f.type == UDO_VSOCK_FRAME_DATA && f.channel == UDO_VSOCK_FRAME_STDOUT &&
		    f.length <= x->granted - x->accepted) {
			x->accepted += f.length;
			x->frame_left = f.length;
			off += UDO_VSOCK_FRAME_HEADER_SIZE;
			continue;
		}
		if (x->in_len - off < UDO_VSOCK_FRAME_HEADER_SIZE + f.length)
			break;
		off += UDO_VSOCK_FRAME_HEADER_SIZE + f.length;
		if (f.type == UDO_VSOCK_FRAME_WINDOW && f.channel == UDO_VSOCK_FRAME_STDIN) {
			x->window += (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		} else if (f.type == UDO_VSOCK_FRAME_DONE || f.type == UDO_VSOCK_FRAME_ERROR) {
			memcpy(x->final, p, f.length);
			x->final[f.length] = '\0';
			x->final_type = f.type;
		} else {
			cli_error("unexpected frame type %u on channel %u", f.type, f.channel);
			return CLI_EXIT_PROTOCOL;
		}
	}
	if (niov > 0 && (rc = write_pieces(x, iov, niov)) != 0)
		return rc;
	memmove(x->in, x->in + off, x->in_len - off);
	x->in_len -= off;
	return 0;
}

/* PUT: fills the output buffer with the next batch of DATA frames, read
 * from the local file straight into them (one readv) as far as the
 * window allows, and the EOF frame after the last byte. Returns 0, or
 * the exit status. */
static int put_next_batch(struct xfer *x, int *eof_sent)
{
	struct iovec iov[FILES_IOV];
	size_t want = FILES_BATCH, off = 0;
	int n = 0;
	ssize_t got;

	if (x->done < x->total && x->window > 0) {
		if (want > x->window)
			want = (size_t)x->window;
		if (want > x->total - x->done)
			want = (size_t)(x->total - x->done);
		while (want > 0) {
			size_t len = want < UDO_VSOCK_FRAME_PAYLOAD_MAX ? want : UDO_VSOCK_FRAME_PAYLOAD_MAX;

			iov[n++] =
			    (struct iovec){.iov_base = x->out + off + UDO_VSOCK_FRAME_HEADER_SIZE, .iov_len = len};
			off += UDO_VSOCK_FRAME_HEADER_SIZE + len;
			want -= len;
		}
		do
			got = readv(x->file, iov, n);
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			cli_error("reading the local file: %s",
			          got < 0 ? strerror(errno) : "it shrank during the transfer");
			return CLI_EXIT_LOCAL;
		}
		x->window -= (uint64_t)got;
		x->done += (uint64_t)got;
		for (int i = 0; got > 0; i++) {
			size_t len = (size_t)got < iov[i].iov_len ? (size_t)got : iov[i].iov_len;

			EVP_DigestUpdate(x->md, iov[i].iov_base, len);
			queue_header(x, UDO_VSOCK_FRAME_DATA, UDO_VSOCK_FRAME_STDIN, len);
			x->out_len += len; /* the payload is in place */
			got -= (ssize_t)len;
		}
	}
	if (x->done == x->total && !*eof_sent) {
		queue_header(x, UDO_VSOCK_FRAME_EOF, UDO_VSOCK_FRAME_STDIN, 0);
		*eof_sent = 1;
	}
	return 0;
}

/* GET: grants the daemon another window once less than half of one is
 * outstanding. */
static void get_grant(struct xfer *x)
{
	uint32_t n;

	if (x->granted >= x->total || x->granted - x->done > FILES_GET_WINDOW / 2)
		return;
	n = (uint32_t)(x->total - x->granted < FILES_GET_WINDOW ? x->total - x->granted : FILES_GET_WINDOW);
	unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
	                      (unsigned char)n};
	queue_header(x, UDO_VSOCK_FRAME_WINDOW, UDO_VSOCK_FRAME_STDOUT, sizeof(b));
	memcpy(x->out + x->out_len, b, sizeof(b));
	x->out_len += sizeof(b);
	x->granted += n;
}

/* Reads what the daemon sent (waiting for it) and handles it. Returns
 * 0, or the exit status. */
static int receive(struct xfer *x)
{
	ssize_t n;

	do
		n = recv(x->sock, x->in + x->in_len, x->in_cap - x->in_len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		cli_error("no progress within the timeout");
		return CLI_EXIT_TIMEOUT;
	}
	if (n <= 0) {
		cli_error("the connection closed before the transfer ended");
		return CLI_EXIT_PROTOCOL;
	}
	x->in_len += (size_t)n;
	return take_frames(x);
}

/* Sends the output buffer, all of it (waiting for room). Returns 0, or
 * the exit status. */
static int send_out(struct xfer *x)
{
	while (x->out_off < x->out_len) {
		ssize_t n = send(x->sock, x->out + x->out_off, x->out_len - x->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			cli_error("no progress within the timeout");
			return CLI_EXIT_TIMEOUT;
		}
		if (n < 0) {
			int err = errno;

			/* The daemon's last frame may say why. */
			while (x->final_type == 0 && x->in_len < x->in_cap &&
			       (n = recv(x->sock, x->in + x->in_len, x->in_cap - x->in_len, 0)) > 0) {
				x->in_len += (size_t)n;
				if (take_frames(x) != 0)
					break;
			}
			if (x->final_type != 0)
				return 0;
			cli_error("the connection broke: %s", strerror(err));
			return CLI_EXIT_PROTOCOL;
		}
		x->out_off += (size_t)n;
	}
	x->out_off = x->out_len = 0;
	return 0;
}

/* Makes the socket blocking, each wait bounded by the reply timeout, so
 * that a send or a read is one system call. Returns 0, or the exit
 * status. */
static int socket_blocking(struct xfer *x)
{
	int ms = x->opt->reply_timeout_ms > 0 ? x->opt->reply_timeout_ms : 0;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	int fl = fcntl(x->sock, F_GETFL);

	if (fl < 0 || fcntl(x->sock, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(x->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(x->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		cli_error("socket: %s", strerror(errno));
		return CLI_EXIT_LOCAL;
	}
	return 0;
}

/* Moves frames until the daemon's last frame: PUT sends the file as
 * far as its window allows and reads when it has none left; GET grants
 * windows and writes what comes. Returns 0, or the exit status. */
static int pump(struct xfer *x, int put)
{
	int eof_sent = 0, rc;

	if ((rc = socket_blocking(x)) != 0)
		return rc;
	while (x->final_type == 0) {
		if (put && (rc = put_next_batch(x, &eof_sent)) != 0)
			return rc;
		if (!put)
			get_grant(x);
		if (x->out_len > 0) {
			if ((rc = send_out(x)) != 0)
				return rc;
		} else if ((rc = receive(x)) != 0) {
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

/* Lets the daemon send up to SIZE bytes before we read, where the
 * socket is AF_VSOCK (best effort: another keeps its own buffer). */
static void socket_buffer(int sock, uint64_t size)
{
	uint64_t cur = 0;
	socklen_t len = sizeof(cur);

	if (getsockopt(sock, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &cur, &len) < 0 || cur >= size)
		return;
	(void)setsockopt(sock, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &size, sizeof(size));
	(void)setsockopt(sock, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof(size));
}

/* Connects and prepares X for a PUT or GET. Returns 0, or the exit
 * status. */
static int xfer_open(struct xfer *x, const struct cli_options *opt, const char *what, int put)
{
	unsigned int retries = 0;
	int klass;

	memset(x, 0, sizeof(*x));
	x->opt = opt;
	x->sock = -1;
	x->file = -1;
	x->what = what;
	x->progress = isatty(STDERR_FILENO);
	x->started_ms = cli_now_ms();
	x->md = EVP_MD_CTX_new();
	/* A PUT reads only windows and its last frame; a GET sends only windows. */
	x->in_cap = put ? UDO_VSOCK_FRAME_HEADER_SIZE + UDO_VSOCK_FRAME_ERROR_MAX + 4096 : FILES_GET_INPUT;
	x->in = malloc(x->in_cap);
	x->out = malloc(put ? frames_size(FILES_BATCH) : 64);
	if (x->md == NULL || EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1 || x->in == NULL || x->out == NULL) {
		cli_error("out of memory");
		return CLI_EXIT_LOCAL;
	}
	x->sock = cli_connect(opt, &retries, &klass);
	if (x->sock < 0)
		return klass;
	socket_buffer(x->sock, FILES_GET_WINDOW);
	return 0;
}

/* Frees what X holds. */
static void xfer_close(struct xfer *x)
{
	if (x->sock >= 0)
		close(x->sock);
	if (x->file >= 0 && x->file != STDOUT_FILENO)
		close(x->file);
	EVP_MD_CTX_free(x->md);
	free(x->in);
	free(x->out);
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
	if ((rc = xfer_open(&x, opt, "put", 1)) != 0)
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
	if ((rc = xfer_open(&x, opt, "get", 0)) != 0)
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
