/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kinds/files.c - the `files` handler kind: GET, PUT, LIST and STAT of
 * files beneath a configured root.
 *
 * LIST and STAT answer with lines. GET and PUT reply "OK get SIZE" or
 * "OK put" and turn the connection into a bridge carrying session frames
 * (udo/vsock-frame.h): file bytes travel in DATA frames under per-channel
 * windows, PUT's on the stdin channel and GET's on stdout, and the
 * transfer ends with a DONE frame carrying the SHA-256 ("OK sha256=HEX
 * bytes=N") or an ERROR frame, after which the daemon closes the
 * connection. Confinement, atomic replacement and the hash are
 * files-fs.c's; this file binds them to the protocol. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include <udo/vsock-frame.h>

#include "../conf.h"
#include "../conn.h"
#include "../files-fs.h"
#include "../frame-queue.h"
#include "../handler.h"
#include "../log.h"
#include "../proto.h"
#include "../request.h"
#include "../server.h"
#include "../util.h"

#define FILES_ACCESS_READ  1
#define FILES_ACCESS_WRITE 2
#define FILES_TICK_MS      1000
#define FILES_BATCH        (1u << 20) /* file bytes per read from the file or the socket, at most */
#define FILES_TURN_BATCHES 2          /* a GET's batches per turn of the event loop, at most */
#define FILES_IOV          64         /* pieces gathered for one readv or writev */
#define FILES_GET_INPUT    4096       /* a GET's input buffer: windows only */

/* How a transfer ends: its last frame queued, then sent and the socket
 * shut for writing while what the client still sends is read and dropped
 * (closing with unread input would reset the connection and could lose
 * the last frame), then closed at the client's EOF or the next tick. */
enum {
	XFER_RUNNING = 0,
	XFER_ENDING = 1,    /* DONE or ERROR queued */
	XFER_BROKEN = 2,    /* cannot queue more: close now */
	XFER_LINGERING = 3, /* the last frame sent, SHUT_WR done */
};

/* One [command] section with `handler = files`. */
struct files_conf {
	char *root;
	int access;               /* FILES_ACCESS_* bits */
	size_t max_file_size;     /* PUT refuses more, before writing */
	unsigned int create_mode; /* the most permissive mode a PUT may ask */
	size_t window;            /* transfer-window: bytes in flight per transfer */
	unsigned int max_list;    /* max-list-entries */
	int peer_subdir;          /* each peer beneath root/<its name or CID> */
	size_t max_root_bytes;    /* PUT refused past this much beneath the root; 0: none */
	char *owner;              /* `owner` as written, or NULL: the daemon's user */
	uid_t owner_uid;
	gid_t owner_gid;
};

/* One GET or PUT after its OK: the bridge's state. */
struct files_xfer {
	struct conn *client;
	int fd; /* the client's socket */
	struct event *rev, *wev, *tick;
	struct event *next; /* a GET's next batches, on the next turn */
	unsigned char *in;  /* frames read, not yet handled */
	size_t in_len, in_cap;
	unsigned char *batch; /* GET: whole DATA frames read from the file, sent first */
	size_t batch_cap, batch_off, batch_len;
	struct evbuffer *out; /* frames to send after the batch */
	int put;              /* PUT, else GET */
	int ending;           /* XFER_* below: the last frame and the close */
	size_t window;        /* the command's transfer-window */
	int active;           /* bytes moved since the last tick */
	unsigned int idle_ms; /* since the last tick that saw bytes move */
	/* PUT */
	struct files_put p;
	uint64_t granted;    /* stdin bytes the client may send in all */
	uint64_t received;   /* stdin bytes of the DATA frames begun */
	uint32_t frame_left; /* bytes of the current DATA frame still to come */
	/* GET */
	int file;
	uint64_t remaining; /* bytes still to send */
	uint64_t sent;
	uint64_t client_window; /* stdout bytes the client can take now */
	void *md;               /* EVP_MD_CTX * */
};

/* The files conf of CMD, allocated with the defaults on first use. */
static void *files_conf_get(struct command *cmd)
{
	struct files_conf *fc = cmd->data;

	if (fc != NULL)
		return fc;
	fc = calloc(1, sizeof(*fc));
	if (fc == NULL)
		return NULL;
	fc->access = FILES_ACCESS_READ;
	fc->max_file_size = 1ULL << 30;
	fc->create_mode = 0644;
	fc->window = 4 * 1024 * 1024;
	fc->max_list = 10000;
	cmd->data = fc;
	return fc;
}

/* Frees a files conf. */
static void files_free_data(void *data)
{
	struct files_conf *fc = data;

	if (fc == NULL)
		return;
	free(fc->root);
	free(fc->owner);
	free(fc);
}

/* `root`: an absolute path to an existing directory. */
static int files_root_opt(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                          size_t whylen)
{
	struct files_conf *fc = target;
	struct stat st;
	char *copy;

	if (value[0] != '/') {
		snprintf(why, whylen, "root: '%s' is not an absolute path", value);
		return -1;
	}
	if (stat(value, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "root: %s is not a directory%s%s", value, errno ? ": " : "",
		         errno ? strerror(errno) : "");
		return -1;
	}
	copy = strdup(value);
	if (copy == NULL)
		return -1;
	free(fc->root);
	fc->root = copy;
	return 0;
}

/* `access`: read, write or read-write. */
static int files_access_opt(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                            size_t whylen)
{
	struct files_conf *fc = target;

	if (strcmp(value, "read") == 0)
		fc->access = FILES_ACCESS_READ;
	else if (strcmp(value, "write") == 0)
		fc->access = FILES_ACCESS_WRITE;
	else if (strcmp(value, "read-write") == 0)
		fc->access = FILES_ACCESS_READ | FILES_ACCESS_WRITE;
	else {
		snprintf(why, whylen, "access: '%s' is not read, write or read-write", value);
		return -1;
	}
	return 0;
}

/* Writes `access` back. */
static void files_access_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct files_conf *fc = target;

	fprintf(out, "access = %s\n",
	        fc->access == FILES_ACCESS_READ    ? "read"
	        : fc->access == FILES_ACCESS_WRITE ? "write"
	                                           : "read-write");
}

/* Parses an octal mode of at most 0777 (no set-id or sticky bits) from
 * TEXT into *MODE. Returns 0 or -1. */
static int parse_mode(const char *text, unsigned int *mode)
{
	char *end;
	unsigned long v;

	if (text[0] < '0' || text[0] > '7')
		return -1;
	errno = 0;
	v = strtoul(text, &end, 8);
	if (errno != 0 || *end != '\0' || v > 0777)
		return -1;
	*mode = (unsigned int)v;
	return 0;
}

/* `owner`: USER or USER:GROUP (default: the user's group), looked up
 * now, so an unknown name is a config error. */
static int files_owner_opt(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                           size_t whylen)
{
	struct files_conf *fc = target;
	char user[256];
	const char *colon = strchr(value, ':');
	size_t ulen = colon ? (size_t)(colon - value) : strlen(value);
	struct passwd *pw;
	char *copy;

	if (ulen == 0 || ulen >= sizeof(user) || (colon && colon[1] == '\0')) {
		snprintf(why, whylen, "owner: '%s' is not USER or USER:GROUP", value);
		return -1;
	}
	memcpy(user, value, ulen);
	user[ulen] = '\0';
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(why, whylen, "owner: no user '%s'", user);
		return -1;
	}
	fc->owner_uid = pw->pw_uid;
	fc->owner_gid = pw->pw_gid;
	if (colon) {
		struct group *gr = getgrnam(colon + 1);

		if (gr == NULL) {
			snprintf(why, whylen, "owner: no group '%s'", colon + 1);
			return -1;
		}
		fc->owner_gid = gr->gr_gid;
	}
	copy = strdup(value);
	if (copy == NULL)
		return -1;
	free(fc->owner);
	fc->owner = copy;
	return 0;
}

/* Writes `owner` back, or that it is not set. */
static void files_owner_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct files_conf *fc = target;

	if (fc->owner != NULL)
		fprintf(out, "owner = %s\n", fc->owner);
	else
		option_format_unset(spec->name, out);
}

/* `create-mode`: octal, at most 0777. */
static int files_mode_opt(const struct option_spec *spec, void *target, void *ctx, const char *value, char *why,
                          size_t whylen)
{
	struct files_conf *fc = target;

	if (parse_mode(value, &fc->create_mode) < 0) {
		snprintf(why, whylen, "create-mode: '%s' is not an octal mode up to 0777", value);
		return -1;
	}
	return 0;
}

/* Writes `create-mode` back. */
static void files_mode_format(const struct option_spec *spec, const void *target, const void *ctx, FILE *out)
{
	const struct files_conf *fc = target;

	fprintf(out, "create-mode = %04o\n", fc->create_mode);
}

/* The options of a files command (udo-vsockd.conf(5)). */
static const struct option_spec files_options[] = {
    OPTION("root", OPT_STRING, 0, 0, struct files_conf, root, files_root_opt),
    OPTION_CUSTOM("access", files_access_opt, files_access_format),
    OPTION("max-file-size", OPT_SIZE, 0, 1ULL << 40, struct files_conf, max_file_size, NULL),
    OPTION_CUSTOM("create-mode", files_mode_opt, files_mode_format),
    OPTION_CUSTOM("owner", files_owner_opt, files_owner_format),
    OPTION("transfer-window", OPT_SIZE, 4096, 16ULL << 20, struct files_conf, window, NULL),
    OPTION("max-list-entries", OPT_NUMBER, 1, 10000000, struct files_conf, max_list, NULL),
    OPTION("peer-subdir", OPT_BOOL, 0, 1, struct files_conf, peer_subdir, NULL),
    OPTION("max-root-bytes", OPT_SIZE, 0, 1ULL << 50, struct files_conf, max_root_bytes, NULL),
    OPTION_END,
};

/* A files command needs its root. */
static int files_check(struct command *cmd, char *why, size_t whylen)
{
	struct files_conf *fc = files_conf_get(cmd);

	if (fc == NULL || fc->root == NULL) {
		snprintf(why, whylen, "%s", fc == NULL ? "out of memory" : "handler 'files' needs 'root'");
		return -1;
	}
	return 0;
}

/* --- the transfer bridge --- */

/* Bytes X holds in memory: its buffers and the frames queued. */
static size_t xfer_held(const struct files_xfer *x)
{
	return x->in_cap + x->batch_cap + (x->out != NULL ? evbuffer_get_length(x->out) : 0);
}

/* Grows the buffer *BUF of *CAP bytes to WANT where max-buffered has
 * room for all of it (conn_bridge_hold); else it stays as it is. */
static void xfer_grow(struct files_xfer *x, unsigned char **buf, size_t *cap, size_t want)
{
	unsigned char *more;

	if (*cap >= want || conn_bridge_hold(x->client, xfer_held(x)) < want - *cap)
		return;
	more = realloc(*buf, want);
	if (more == NULL)
		return;
	*buf = more;
	*cap = want;
	conn_bridge_hold(x->client, xfer_held(x));
}

/* The bytes of whole frames carrying at most PAYLOAD bytes of file, in
 * frames of UDO_VSOCK_FRAME_PAYLOAD_MAX: the buffer a batch needs. */
static size_t frames_size(size_t payload)
{
	size_t frames = (payload + UDO_VSOCK_FRAME_PAYLOAD_MAX - 1) / UDO_VSOCK_FRAME_PAYLOAD_MAX;

	return payload + (frames > 0 ? frames : 1) * UDO_VSOCK_FRAME_HEADER_SIZE;
}

/* How many file bytes one batch of X carries: a read from the file
 * (GET) or the socket (PUT). At most the window, at least one frame's
 * worth. */
static size_t xfer_batch(const struct files_xfer *x)
{
	size_t n = x->window < FILES_BATCH ? x->window : FILES_BATCH;

	return n > UDO_VSOCK_FRAME_PAYLOAD_MAX ? n : UDO_VSOCK_FRAME_PAYLOAD_MAX;
}

/* Queues a frame of TYPE on CHANNEL with LEN bytes at PAYLOAD. */
static void xfer_queue(struct files_xfer *x, uint8_t type, uint8_t channel, const void *payload, size_t len)
{
	if (frame_queue(x->out, type, channel, payload, len) < 0)
		x->ending = XFER_BROKEN;
}

/* Queues a WINDOW of N bytes on CHANNEL. */
static void xfer_queue_window(struct files_xfer *x, uint8_t channel, uint32_t n)
{
	if (frame_queue_window(x->out, channel, n) < 0)
		x->ending = XFER_BROKEN;
}

/* Ends the transfer with "ERR CODE message" in an ERROR frame. */
static void xfer_fail(struct files_xfer *x, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xfer_fail(struct files_xfer *x, const char *code, const char *fmt, ...)
{
	const struct peer *peer = conn_peer(x->client);
	char text[UDO_VSOCK_FRAME_ERROR_MAX];
	int n = snprintf(text, sizeof(text), "ERR %s ", code);
	va_list ap;

	if (x->ending)
		return;
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "files: %s %s", x->put ? "PUT" : "GET", text + 4);
	xfer_queue(x, UDO_VSOCK_FRAME_ERROR, 0, text, strlen(text));
	if (!x->ending)
		x->ending = XFER_ENDING;
}

/* Ends the transfer with DONE "OK sha256=HEX bytes=N". */
static void xfer_done(struct files_xfer *x, const unsigned char *digest, uint64_t bytes)
{
	char hex[FILES_SHA256_HEX_LEN + 1], text[128];

	files_hex(digest, FILES_SHA256_LEN, hex);
	snprintf(text, sizeof(text), "OK sha256=%s bytes=%llu", hex, (unsigned long long)bytes);
	xfer_queue(x, UDO_VSOCK_FRAME_DONE, 0, text, strlen(text));
	if (!x->ending)
		x->ending = XFER_ENDING;
}

/* Sends what is queued, as far as the socket takes it: the batch of file
 * frames, then the frames queued after it. Returns 0, or -1 if the
 * socket broke. */
static int xfer_send(struct files_xfer *x)
{
	while (x->batch_off < x->batch_len) {
		ssize_t n =
		    send(x->fd, x->batch + x->batch_off, x->batch_len - x->batch_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		x->active = 1;
		x->batch_off += (size_t)n;
		if (x->batch_off < x->batch_len)
			return 0; /* the socket took what it had room for */
	}
	x->batch_off = x->batch_len = 0;
	if (evbuffer_get_length(x->out) > 0) {
		int n = evbuffer_write(x->out, x->fd);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0)
			x->active = 1;
	}
	return 0;
}

/* Frees the bridge (the connection's release). */
static void xfer_release(void *arg)
{
	struct files_xfer *x = arg;

	if (x->rev != NULL)
		event_free(x->rev);
	if (x->wev != NULL)
		event_free(x->wev);
	if (x->next != NULL)
		event_free(x->next);
	if (x->tick != NULL)
		event_free(x->tick);
	if (x->out != NULL)
		evbuffer_free(x->out);
	files_put_abort(&x->p);
	if (x->file >= 0)
		close(x->file);
	EVP_MD_CTX_free(x->md);
	free(x->in);
	free(x->batch);
	free(x);
}

/* PUT: grants the client more stdin window, up to the announced size,
 * once what it may still send (or has sent, not yet written) is half a
 * window or less. */
static void put_grant(struct files_xfer *x)
{
	uint64_t in_flight = x->granted - x->p.written;
	uint64_t left = x->p.size - x->granted;

	if (x->ending || left == 0 || in_flight > x->window / 2)
		return;
	uint64_t n = x->window - in_flight < left ? x->window - in_flight : left;
	xfer_queue_window(x, UDO_VSOCK_FRAME_STDIN, (uint32_t)n);
	x->granted += n;
}

/* PUT: writes the N pieces of DATA payloads at IOV to the file. */
static void put_write(struct files_xfer *x, struct iovec *iov, int n)
{
	char why[256];
	enum files_error e;

	if (n == 0 || x->ending)
		return;
	e = files_put_writev(&x->p, iov, n, why, sizeof(why));
	if (e != FILES_OK)
		xfer_fail(x, files_error_code(e), "%s", why);
}

/* PUT: the client's EOF: the file replaces the target, or the error. */
static void put_finish(struct files_xfer *x)
{
	unsigned char digest[FILES_SHA256_LEN];
	uint64_t bytes = x->p.written;
	char why[256];
	enum files_error e = files_put_commit(&x->p, digest, why, sizeof(why));

	if (e != FILES_OK)
		xfer_fail(x, files_error_code(e), "%s", why);
	else
		xfer_done(x, digest, bytes);
}

/* Handles the frame header F of a PUT. Returns the payload bytes to
 * take as file data (the whole frame's, even if not all here yet), or 0. */
static uint32_t put_header(struct files_xfer *x, const struct udo_vsock_frame *f)
{
	if (f->type == UDO_VSOCK_FRAME_DATA && f->channel == UDO_VSOCK_FRAME_STDIN) {
		if (f->length > x->granted - x->received) {
			xfer_fail(x, PROTO_ERR_USAGE, "protocol: %u bytes sent past the window", f->length);
			return 0;
		}
		x->received += f->length;
		return f->length;
	}
	if (f->type != UDO_VSOCK_FRAME_EOF || f->channel != UDO_VSOCK_FRAME_STDIN)
		xfer_fail(x, PROTO_ERR_USAGE, "protocol: frame type %u on channel %u during a PUT", f->type,
		          f->channel);
	return 0;
}

/* GET: handles a whole frame from the client (F, its PAYLOAD): only
 * stdout windows come. */
static void get_frame(struct files_xfer *x, const struct udo_vsock_frame *f, const unsigned char *payload)
{
	uint32_t n = frame_window_value(payload);

	if (n > x->remaining - x->client_window) {
		xfer_fail(x, PROTO_ERR_USAGE, "protocol: a window past the end of the file");
		return;
	}
	x->client_window += n;
}

/* Handles what the input buffer holds: a PUT's DATA payloads, whole or
 * in part, go to the file in one write per buffer, its EOF ends it; a
 * GET's windows open. A header cut short waits for its rest; a frame a
 * transfer never takes ends it at its header. */
static void xfer_frames(struct files_xfer *x)
{
	struct iovec iov[FILES_IOV];
	int niov = 0;
	size_t off = 0;

	while (!x->ending && off < x->in_len) {
		struct udo_vsock_frame f;
		char err[128];

		if (x->frame_left > 0) { /* a PUT's DATA payload */
			size_t n = x->in_len - off < x->frame_left ? x->in_len - off : x->frame_left;

			if (niov == FILES_IOV) {
				put_write(x, iov, niov);
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
			xfer_fail(x, PROTO_ERR_USAGE, "protocol: %s", err);
			break;
		}
		if (x->put) {
			off += UDO_VSOCK_FRAME_HEADER_SIZE;
			x->frame_left = put_header(x, &f);
			if (f.type == UDO_VSOCK_FRAME_EOF && !x->ending) {
				put_write(x, iov, niov);
				niov = 0;
				if (!x->ending)
					put_finish(x);
			}
			continue;
		}
		if (f.type != UDO_VSOCK_FRAME_WINDOW || f.channel != UDO_VSOCK_FRAME_STDOUT) {
			xfer_fail(x, PROTO_ERR_USAGE, "protocol: frame type %u on channel %u during a GET", f.type,
			          f.channel);
			break;
		}
		if (x->in_len - off < UDO_VSOCK_FRAME_HEADER_SIZE + f.length)
			break;
		get_frame(x, &f, x->in + off + UDO_VSOCK_FRAME_HEADER_SIZE);
		off += UDO_VSOCK_FRAME_HEADER_SIZE + f.length;
	}
	put_write(x, iov, niov);
	if (x->ending)
		off = x->in_len; /* nothing more is taken */
	memmove(x->in, x->in + off, x->in_len - off);
	x->in_len -= off;
}

/* GET: the file has been sent: DONE with its hash. */
static void get_finish(struct files_xfer *x)
{
	unsigned char digest[FILES_SHA256_LEN];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(x->md, digest, &len) != 1)
		xfer_fail(x, PROTO_ERR_INTERNAL, "SHA-256 failed");
	else
		xfer_done(x, digest, x->sent);
}

/* GET: reads the next file bytes the client has window for, at most a
 * batch, straight into whole DATA frames in the batch buffer (one
 * readv), and hashes them; at the end of the file queues the DONE.
 * Returns 1 if it queued anything, else 0. */
static int get_read_batch(struct files_xfer *x)
{
	struct iovec iov[FILES_IOV];
	size_t want, off = 0;
	int n = 0;
	ssize_t got;

	if (x->ending || x->batch_off < x->batch_len)
		return 0;
	if (x->remaining == 0) {
		get_finish(x);
		return 1;
	}
	if (x->client_window == 0)
		return 0;
	want = xfer_batch(x);
	xfer_grow(x, &x->batch, &x->batch_cap, frames_size(want));
	if (want > x->client_window)
		want = (size_t)x->client_window;
	while (want > 0 && n < FILES_IOV && x->batch_cap - off > UDO_VSOCK_FRAME_HEADER_SIZE) {
		size_t len = x->batch_cap - off - UDO_VSOCK_FRAME_HEADER_SIZE;

		if (len > UDO_VSOCK_FRAME_PAYLOAD_MAX)
			len = UDO_VSOCK_FRAME_PAYLOAD_MAX;
		if (len > want)
			len = want;
		iov[n++] = (struct iovec){.iov_base = x->batch + off + UDO_VSOCK_FRAME_HEADER_SIZE, .iov_len = len};
		off += UDO_VSOCK_FRAME_HEADER_SIZE + len;
		want -= len;
	}
	do
		got = readv(x->file, iov, n);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		xfer_fail(x, got < 0 ? files_error_code(files_error_from_errno(errno)) : PROTO_ERR_FAILED,
		          "reading: %s", got < 0 ? strerror(errno) : "the file shrank during the transfer");
		return 1;
	}
	x->client_window -= (uint64_t)got;
	x->remaining -= (uint64_t)got;
	x->sent += (uint64_t)got;
	/* The headers over what came: whole frames, the last perhaps short. */
	off = 0;
	for (int i = 0; got > 0; i++) {
		struct udo_vsock_frame f = {.type = UDO_VSOCK_FRAME_DATA, .channel = UDO_VSOCK_FRAME_STDOUT};

		f.length = (uint32_t)((size_t)got < iov[i].iov_len ? (size_t)got : iov[i].iov_len);
		udo_vsock_frame_encode_header(x->batch + off, &f);
		if (EVP_DigestUpdate(x->md, x->batch + off + UDO_VSOCK_FRAME_HEADER_SIZE, f.length) != 1) {
			xfer_fail(x, PROTO_ERR_INTERNAL, "SHA-256 failed");
			return 1;
		}
		off += UDO_VSOCK_FRAME_HEADER_SIZE + f.length;
		got -= (ssize_t)f.length;
	}
	x->batch_off = 0;
	x->batch_len = off;
	if (x->remaining == 0)
		get_finish(x);
	return 1;
}

/* GET: reads and sends batches while the client has window and the
 * socket takes them, at most FILES_TURN_BATCHES a turn (the others'
 * turn comes between). Returns 0, or -1 if the socket broke. */
static int get_pump(struct files_xfer *x)
{
	for (int i = 0; i < FILES_TURN_BATCHES; i++) {
		if (!get_read_batch(x))
			break;
		if (xfer_send(x) < 0)
			return -1;
	}
	return 0;
}

/* Whether a GET could read more file now: the batch sent, the client
 * has window, and the end is not queued. */
static int get_can_read(const struct files_xfer *x)
{
	return !x->put && !x->ending && x->batch_off == x->batch_len && (x->client_window > 0 || x->remaining == 0);
}

/* Arms reading and writing for the state of X, or ends the bridge once
 * its last frame is sent. Returns 0, or -1 if X was freed. */
static int xfer_update(struct files_xfer *x)
{
	size_t pending = x->batch_len - x->batch_off + evbuffer_get_length(x->out);
	size_t room = conn_bridge_hold(x->client, xfer_held(x));

	if (x->ending == XFER_BROKEN) {
		conn_free(x->client); /* releases X */
		return -1;
	}
	if (x->ending == XFER_ENDING && pending == 0) {
		shutdown(x->fd, SHUT_WR);
		x->ending = XFER_LINGERING;
	}
	/* Read while frames may come and memory allows; lingering, read
	 * only to drop. */
	if (x->ending == XFER_LINGERING || (!x->ending && (room > 0 || pending == 0)))
		event_add(x->rev, NULL);
	else
		event_del(x->rev);
	/* Wait for room while something waits for it in the socket; else
	 * come back next turn for a GET's next batch (a timer: no system
	 * call). */
	if (pending > 0) {
		event_add(x->wev, NULL);
	} else {
		event_del(x->wev);
		if (get_can_read(x)) {
			struct timeval now = {0, 0};

			event_add(x->next, &now);
		}
	}
	return 0;
}

/* Sends what X queued, then arms its events; the end of the socket ends
 * the bridge. */
static void xfer_flush(struct files_xfer *x)
{
	if (xfer_send(x) < 0)
		x->ending = XFER_BROKEN;
	xfer_update(x);
}

/* The client's socket is readable: take frames. */
static void xfer_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct files_xfer *x = arg;
	ssize_t n;

	if (x->ending == XFER_LINGERING) {
		n = read(fd, x->in, x->in_cap);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_free(x->client);
		return;
	}
	if (x->put)
		xfer_grow(x, &x->in, &x->in_cap, frames_size(xfer_batch(x)));
	if (x->in_len == x->in_cap) {
		/* Never: a header cut short is all that stays. */
		xfer_fail(x, PROTO_ERR_INTERNAL, "input buffer full");
		xfer_flush(x);
		return;
	}
	n = read(fd, x->in + x->in_len, x->in_cap - x->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		const struct peer *peer = conn_peer(x->client);

		log_peer(LOG_LEVEL_INFO, peer->text, peer->cid, NULL, "files: the client left during a %s",
		         x->put ? "PUT; the target is untouched" : "GET");
		conn_free(x->client);
		return;
	}
	x->in_len += (size_t)n;
	x->active = 1;
	xfer_frames(x);
	if (x->put)
		put_grant(x);
	else if (get_pump(x) < 0)
		x->ending = XFER_BROKEN;
	xfer_flush(x);
}

/* The client's socket is writable, or a GET's next turn came: send
 * frames, then read more file. */
static void xfer_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct files_xfer *x = arg;

	if (xfer_send(x) < 0 || (!x->put && get_pump(x) < 0))
		x->ending = XFER_BROKEN;
	xfer_update(x);
}

/* Ends a transfer idle for longer than the daemon's idle-timeout. */
static void xfer_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct files_xfer *x = arg;
	struct server *s = conn_server(x->client);
	unsigned int idle = s->config->limits.idle_timeout_ms;

	if (x->ending == XFER_LINGERING) {
		conn_free(x->client); /* the client had a tick to close */
		return;
	}
	if (x->active) {
		x->active = 0;
		x->idle_ms = 0;
		return;
	}
	if (x->idle_ms < UINT_MAX - FILES_TICK_MS)
		x->idle_ms += FILES_TICK_MS;
	if (idle > 0 && x->idle_ms >= idle) {
		xfer_fail(x, PROTO_ERR_TIMEOUT, "no frames either way for %u ms", idle);
		xfer_flush(x);
	}
}

/* Lets the kernel carry up to a window of the transfer between the two
 * ends (SO_VM_SOCKETS_BUFFER_SIZE bounds what a vsock socket sends and
 * what it receives; the bytes wait in the socket, not in the daemon).
 * AF_VSOCK only, best effort: another socket keeps its own. */
static void xfer_socket_buffer(struct files_xfer *x)
{
	uint64_t size = x->window, cur = 0;
	socklen_t len = sizeof(cur);

	if (getsockopt(x->fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &cur, &len) < 0 || cur >= size)
		return;
	(void)setsockopt(x->fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &size, sizeof(size));
	(void)setsockopt(x->fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof(size));
}

/* The OK is sent: frames from now on. */
static void xfer_start(struct conn *c, void *arg)
{
	struct files_xfer *x = arg;
	struct server *s = conn_server(c);
	struct timeval tv = util_timeval_ms(FILES_TICK_MS);
	size_t pending_len;
	const char *pending = conn_unhandled_input(c, &pending_len);

	x->client = c;
	x->fd = conn_fd(c);
	/* A GET takes only windows; a PUT starts with one frame's room and
	 * grows it to a batch where max-buffered allows. */
	x->in_cap = x->put ? frames_size(UDO_VSOCK_FRAME_PAYLOAD_MAX) : FILES_GET_INPUT;
	if (pending_len > x->in_cap)
		x->in_cap = pending_len;
	x->in = malloc(x->in_cap);
	if (!x->put) {
		x->batch_cap = frames_size(UDO_VSOCK_FRAME_PAYLOAD_MAX);
		x->batch = malloc(x->batch_cap);
	}
	x->out = evbuffer_new();
	x->rev = event_new(s->base, x->fd, EV_READ | EV_PERSIST, xfer_read_cb, x);
	x->wev = event_new(s->base, x->fd, EV_WRITE | EV_PERSIST, xfer_write_cb, x);
	x->next = event_new(s->base, -1, 0, xfer_write_cb, x);
	x->tick = event_new(s->base, -1, EV_PERSIST, xfer_tick_cb, x);
	if (x->in == NULL || (!x->put && x->batch == NULL) || x->out == NULL || x->rev == NULL || x->wev == NULL ||
	    x->next == NULL || x->tick == NULL || event_add(x->tick, &tv) < 0) {
		const struct peer *peer = conn_peer(c);

		log_peer(LOG_LEVEL_WARNING, peer->text, peer->cid, NULL, "files: out of memory");
		conn_free(c);
		return;
	}
	if (pending_len > 0)
		memcpy(x->in, pending, pending_len);
	x->in_len = pending_len;
	xfer_socket_buffer(x);
	if (x->put)
		put_grant(x); /* none for an empty file: the client sends EOF at once */
	xfer_frames(x);
	if (x->put)
		put_grant(x);
	else if (get_pump(x) < 0)
		x->ending = XFER_BROKEN;
	xfer_flush(x);
}

/* --- the requests --- */

/* Answers REQ with the ERR of a files error E and WHY. */
static enum req_status files_err(struct request *req, enum files_error e, const char *why)
{
	request_err(req, files_error_code(e), "%s", why);
	return REQ_DONE;
}

/* Parses a decimal u64 from TEXT into *V. Returns 0 or -1. */
static int parse_u64(const char *text, uint64_t *v)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = n;
	return 0;
}

/* A new bridge for REQ, its files closed. NULL when out of memory. */
static struct files_xfer *xfer_new(const struct files_conf *fc, int put)
{
	struct files_xfer *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->put = put;
	x->file = -1;
	x->p.dir = -1;
	x->p.fd = -1;
	x->p.root = -1;
	x->window = fc->window;
	return x;
}

/* PUT PATH SIZE [MODE]. */
static enum req_status files_put_run(struct request *req, const struct files_conf *fc, int root)
{
	struct files_xfer *x;
	unsigned int mode = fc->create_mode;
	uint64_t size;
	char why[512];
	enum files_error e;

	if (req->argc < 4 || req->argc > 5 || parse_u64(req->argv[3], &size) < 0 ||
	    (req->argc == 5 && parse_mode(req->argv[4], &mode) < 0)) {
		request_err(req, PROTO_ERR_USAGE, "PUT PATH SIZE [MODE]: SIZE in bytes, MODE octal");
		return REQ_DONE;
	}
	if (fc->max_root_bytes > 0) {
		uint64_t used;

		if (files_usage(root, &used, fc->max_list) < 0) {
			snprintf(why, sizeof(why), "cannot add up the share's usage: %s",
			         errno == E2BIG ? "more than max-list-entries entries" : strerror(errno));
			return files_err(req, FILES_NO_SPACE, why);
		}
		if (used + size > fc->max_root_bytes) {
			snprintf(why, sizeof(why), "%llu bytes more would pass max-root-bytes (%zu; %llu in use)",
			         (unsigned long long)size, fc->max_root_bytes, (unsigned long long)used);
			return files_err(req, FILES_NO_SPACE, why);
		}
	}
	x = xfer_new(fc, 1);
	if (x == NULL)
		return files_err(req, FILES_INTERNAL, "out of memory");
	e = files_put_begin(&x->p, root, req->argv[2], size, mode & fc->create_mode, fc->max_file_size, why,
	                    sizeof(why));
	x->p.chown = fc->owner != NULL;
	x->p.owner_uid = fc->owner_uid;
	x->p.owner_gid = fc->owner_gid;
	if (e != FILES_OK) {
		xfer_release(x);
		return files_err(req, e, why);
	}
	request_bridge(req, xfer_start, xfer_release, x);
	request_ok(req, "put");
	return REQ_DONE;
}

/* GET PATH [OFFSET]. */
static enum req_status files_get_run(struct request *req, const struct files_conf *fc, int root)
{
	struct files_xfer *x;
	uint64_t offset = 0, size;
	char why[512];
	enum files_error e;

	if (req->argc < 3 || req->argc > 4 || (req->argc == 4 && parse_u64(req->argv[3], &offset) < 0)) {
		request_err(req, PROTO_ERR_USAGE, "GET PATH [OFFSET]");
		return REQ_DONE;
	}
	x = xfer_new(fc, 0);
	if (x == NULL)
		return files_err(req, FILES_INTERNAL, "out of memory");
	e = files_get_open(root, req->argv[2], offset, &x->file, &size, why, sizeof(why));
	if (e == FILES_OK && offset > 0 && lseek(x->file, (off_t)offset, SEEK_SET) < 0) {
		snprintf(why, sizeof(why), "seeking: %s", strerror(errno));
		e = FILES_INTERNAL;
	}
	x->md = EVP_MD_CTX_new();
	if (e == FILES_OK && (x->md == NULL || EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1)) {
		snprintf(why, sizeof(why), "out of memory");
		e = FILES_INTERNAL;
	}
	if (e != FILES_OK) {
		xfer_release(x);
		return files_err(req, e, why);
	}
	x->remaining = size - offset;
	request_bridge(req, xfer_start, xfer_release, x);
	request_ok(req, "get %llu", (unsigned long long)size);
	return REQ_DONE;
}

/* LIST [DIR]: a data line per entry, sorted by name. */
static enum req_status files_list_run(struct request *req, const struct files_conf *fc, int root)
{
	const char *dir = req->argc > 2 ? req->argv[2] : ".";
	char why[512], **lines;
	size_t n;
	enum files_error e;

	if (req->argc > 3) {
		request_err(req, PROTO_ERR_USAGE, "LIST [DIR]");
		return REQ_DONE;
	}
	e = files_list(root, dir, &lines, &n, why, sizeof(why));
	if (e != FILES_OK)
		return files_err(req, e, why);
	if (n > fc->max_list) {
		files_list_free(lines, n);
		request_err(req, files_error_code(FILES_TOO_LARGE), "%s has more than max-list-entries (%u) entries",
		            dir, fc->max_list);
		return REQ_DONE;
	}
	for (size_t i = 0; i < n; i++)
		request_data(req, lines[i], strlen(lines[i]));
	files_list_free(lines, n);
	request_ok(req, "%zu", n);
	return REQ_DONE;
}

/* STAT PATH: "OK TYPE SIZE MODE MTIME". */
static enum req_status files_stat_run(struct request *req, int root)
{
	char why[512], attrs[128];
	enum files_error e;

	if (req->argc != 3) {
		request_err(req, PROTO_ERR_USAGE, "STAT PATH");
		return REQ_DONE;
	}
	e = files_stat(root, req->argv[2], attrs, sizeof(attrs), why, sizeof(why));
	if (e != FILES_OK)
		return files_err(req, e, why);
	request_ok(req, "%s", attrs);
	return REQ_DONE;
}

/* The directory of PEER beneath a peer-subdir root: its configured name,
 * else "cid-N" or "unix-IDENTITY" (bytes outside [A-Za-z0-9._-] as _):
 * what the kernel or the config says, never the client. */
static void files_peer_dir_name(const struct peer *peer, char *buf, size_t len)
{
	if (peer->name[0] != '\0')
		snprintf(buf, len, "%s", peer->name);
	else if (peer->transport == UDO_VSOCK_ADDR_UNIX)
		snprintf(buf, len, "unix-%s", peer->identity);
	else
		snprintf(buf, len, "cid-%u", peer->cid);
	for (char *p = buf; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			*p = '_';
	if (buf[0] == '.')
		buf[0] = '_';
}

/* Dispatches on the operation word: GET, PUT, LIST or STAT. */
static enum req_status files_run(struct request *req)
{
	const struct files_conf *fc = req->cmd->data;
	const char *op = req->argv[1];
	int put = strcasecmp(op, "PUT") == 0;
	int known = put || strcasecmp(op, "GET") == 0 || strcasecmp(op, "LIST") == 0 || strcasecmp(op, "STAT") == 0;
	enum req_status st;
	int root;

	if (!known) {
		request_err(req, PROTO_ERR_USAGE, "'%s' is not GET, PUT, LIST or STAT", op);
		return REQ_DONE;
	}
	if (!(fc->access & (put ? FILES_ACCESS_WRITE : FILES_ACCESS_READ))) {
		request_err(req, PROTO_ERR_DENIED, "this share is %s", put ? "read-only" : "write-only");
		return REQ_DONE;
	}
	root = files_root_open(fc->root);
	if (root < 0) {
		log_warn("files: root %s", fc->root);
		request_err(req, PROTO_ERR_UNAVAILABLE, "the share's root is not available");
		return REQ_DONE;
	}
	if (fc->peer_subdir) {
		char name[80];
		int sub;

		files_peer_dir_name(req->peer, name, sizeof(name));
		sub = files_subroot_open(root, name, put);
		close(root);
		if (sub < 0) {
			request_err(req, files_error_code(files_error_from_errno(errno)), "%s: %s", name,
			            strerror(errno));
			return REQ_DONE;
		}
		root = sub;
	}
	if (put)
		st = files_put_run(req, fc, root);
	else if (strcasecmp(op, "GET") == 0)
		st = files_get_run(req, fc, root);
	else if (strcasecmp(op, "LIST") == 0)
		st = files_list_run(req, fc, root);
	else
		st = files_stat_run(req, root);
	close(root);
	return st;
}

const struct handler_kind handler_files = {
    .name = "files",
    .min_args = 1,
    .max_args = 4,
    .usage = "GET PATH [OFFSET] | PUT PATH SIZE [MODE] | LIST [DIR] | STAT PATH",
    .summary = "move files beneath a configured root: GET, PUT, LIST, STAT",
    .options = files_options,
    .get_data = files_conf_get,
    .check = files_check,
    .run = files_run,
    .free_data = files_free_data,
};
