/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* main.c - udo-vsockd: command line, start-up, signals, the event loop */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "announce.h"
#include "conf.h"
#include "conn.h"
#include "fsfreeze.h"
#include "guests.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "module.h"
#include "peers-dir.h"
#include "ratelimit.h"
#include "resolve.h"
#include "server.h"
#include "util.h"

#define DEFAULT_CONFIG SYSCONFDIR "/udo-vsockd/udo-vsockd.conf"

/* Prints the usage text to F. */
static void usage(FILE *f)
{
	fprintf(f, "Usage: udo-vsockd [-DtvhV] [-c FILE]\n"
	           "  -c FILE        configuration file (default " DEFAULT_CONFIG ")\n"
	           "  -t             test the configuration and exit\n"
	           "  -D, --dump-config\n"
	           "                 print the effective configuration and exit\n"
	           "  -v             log more (repeat for debug)\n"
	           "  -h, --help     show this help\n"
	           "  -V, --version  show the version\n");
}

/* Logs every line of the text in BUF as a warning. */
static void log_lines(const char *buf)
{
	while (*buf != '\0') {
		const char *nl = strchr(buf, '\n');
		int n = nl != NULL ? (int)(nl - buf) : (int)strlen(buf);
		log_warnx("%.*s", n, buf);
		buf += n + (nl != NULL);
	}
}

/* Reloads the config file: the new one is swapped in only if it parses
 * and its listeners open; then every connection follows it. */
static void server_reload(struct server *s)
{
	char *errors = NULL;
	size_t errlen = 0;
	FILE *err = open_memstream(&errors, &errlen);

	notify_reloading();
	log_notice("reloading %s", s->config_path);
	fsfreeze_thaw_all("reload"); /* a freeze never outlives the configuration that allowed it */
	struct config *conf = err != NULL ? config_load(s->config_path, err) : NULL;
	if (err != NULL)
		fclose(err);
	if (conf == NULL) {
		if (err == NULL)
			log_warn("cannot collect the errors of %s", s->config_path);
		if (errors != NULL)
			log_lines(errors);
		log_warnx_id(LOG_MSGID_RELOAD_FAILED, "reload failed: the configuration in force is kept");
		free(errors);
		notify_ready(s);
		return;
	}
	free(errors);
	struct listener *fresh = NULL;
	if (metrics_prepare(s, conf) < 0) {
		log_warnx_id(LOG_MSGID_RELOAD_FAILED, "reload failed: the configuration in force is kept");
		config_unref(conf);
		notify_ready(s);
		return;
	}
	if (!s->socket_activated && listeners_open(s, conf, &fresh) < 0) {
		log_warnx_id(LOG_MSGID_RELOAD_FAILED, "reload failed: the configuration in force is kept");
		metrics_abort(s);
		config_unref(conf);
		notify_ready(s);
		return;
	}
	/* Nothing fails from here on: the new configuration takes over whole. */
	if (!s->socket_activated)
		listeners_replace(s, fresh);
	metrics_commit(s, conf);
	listeners_configure(s, conf);
	config_unref(s->config);
	s->config = conf;
	peers_dir_configure(s, conf, conn_follow_names);
	guests_configure(s, conf); /* a listener that cannot open is logged; the rest go on */
	conn_follow_reload(s);
	log_set_level((enum log_level)conf->log_level);
	s->stats.reloads++;
	/* New limits may allow more connections than before. */
	server_resume_accepting(s, ACCEPT_PAUSE_LIMIT);
	if (s->nconns >= conf->limits.max_connections)
		server_pause_accepting(s, ACCEPT_PAUSE_LIMIT);
	log_notice_id(LOG_MSGID_RELOADED, "configuration reloaded");
	notify_ready(s);
	announce_configure(s, conf); /* a reload announces again */
}

/* Grace period over: stop even if replies are still pending. */
static void grace_expired_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	log_warnx("shutdown grace period over with %u connections open", s->nconns);
	event_base_loopexit(s->base, NULL);
}

/* Begins a graceful stop: no new connections, replies flushed. */
static void server_begin_shutdown(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	notify_stopping();
	fsfreeze_thaw_all("stop");
	log_notice_id(LOG_MSGID_STOPPING, "stopping: %u connections to finish", s->nconns);
	listeners_close_all(s);
	evtimer_del(s->accept_timer);
	if (s->nconns == 0) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	struct timeval tv = util_timeval_ms(s->config->limits.shutdown_grace_ms);
	s->grace_timer = evtimer_new(s->base, grace_expired_cb, s);
	if (s->grace_timer == NULL || evtimer_add(s->grace_timer, &tv) < 0)
		event_base_loopexit(s->base, &tv);
	conn_close_all(s);
}

/* SIGTERM, SIGINT: stop gracefully; SIGHUP: reload. */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	if (sig == SIGHUP) {
		if (!s->stopping)
			server_reload(s);
		return;
	}
	if (s->stopping) {
		log_notice("second stop signal: exiting now");
		event_base_loopexit(s->base, NULL);
		return;
	}
	server_begin_shutdown(s);
}

/* Accept pause after EMFILE is over: try again. */
static void accept_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	server_resume_accepting(arg, ACCEPT_PAUSE_NOFILE);
}

/* Raises the soft RLIMIT_NOFILE to the hard limit: connections are fds. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("setrlimit(RLIMIT_NOFILE)");
	}
}

/* The event base with SERVER_PRIORITIES, whose busy priority runs at
 * most SERVER_BUSY_PER_PASS callbacks before the sockets are polled
 * again (server.h). No time limit: that would read the clock per
 * callback. Returns it, or NULL. */
static struct event_base *event_base_new_prioritized(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg != NULL &&
	    event_config_set_max_dispatch_interval(cfg, NULL, SERVER_BUSY_PER_PASS, SERVER_PRIO_BUSY) == 0)
		base = event_base_new_with_config(cfg);
	if (cfg != NULL)
		event_config_free(cfg);
	if (base != NULL && event_base_priority_init(base, SERVER_PRIORITIES) < 0) {
		event_base_free(base);
		base = NULL;
	}
	return base;
}

/* Installs the signal events. Returns 0 or -1. */
static int setup_signals(struct server *s)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct sigaction sa = {.sa_handler = SIG_IGN};

	/* A client that goes away must never kill us. */
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		s->signals[i] = evsignal_new(s->base, sigs[i], signal_cb, s);
		if (s->signals[i] == NULL || evsignal_add(s->signals[i], NULL) < 0)
			return -1;
	}
	return 0;
}

/* Frees everything S holds, for a clean exit (and clean leak checks). */
static void server_free(struct server *s)
{
	while (s->conns != NULL)
		conn_free(s->conns);
	jobs_stop(); /* after the sessions that follow jobs */
	listeners_close_all(s);
	metrics_free(s);
	peers_dir_free(s);
	guests_free(s);
	announce_free();
	fsfreeze_free();
	for (size_t i = 0; i < sizeof(s->signals) / sizeof(s->signals[0]); i++) {
		if (s->signals[i] != NULL)
			event_free(s->signals[i]);
	}
	struct event *timers[] = {s->accept_timer, s->grace_timer, s->status_timer, s->watchdog_timer, s->sweep_timer};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		if (timers[i] != NULL)
			event_free(timers[i]);
	}
	notify_close();
	config_unref(s->config);
	module_shutdown();
	free(s->line);
	free(s->argv);
	free(s->stage);
	event_base_free(s->base);
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	int test_only = 0, dump = 0, verbose = 0, opt;

	static const struct option longopts[] = {
	    {"dump-config", no_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};

	while ((opt = getopt_long(argc, argv, "c:DtvhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'D':
			dump = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("udo-vsockd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init(LOG_LEVEL_NOTICE);
	struct config *conf = config_load(path, stderr);
	if (conf == NULL && dump)
		return 1;
	if (conf == NULL) {
		/* Run by systemd (ExecReload=): the journal gets the verdict too. */
		if (test_only && log_journal())
			log_warnx_id(LOG_MSGID_RELOAD_FAILED, "%s: configuration has errors; not reloaded", path);
		if (test_only)
			return 1;
		fatalx("%s: configuration has errors", path);
	}
	if (dump) {
		int rc = config_dump(conf, stdout);
		config_unref(conf);
		if (rc < 0)
			fprintf(stderr, "udo-vsockd: cannot write the configuration: %s\n", strerror(errno));
		return rc < 0 ? 1 : 0;
	}
	if (test_only) {
		printf("configuration OK\n");
		config_unref(conf);
		return 0;
	}
	enum log_level level = (enum log_level)conf->log_level;
	if (verbose > 0)
		level = verbose > 1 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
	log_set_level(level);
	log_route_libevent();
	raise_fd_limit();
	fsfreeze_recover();

	struct server s = {.config = conf, .config_path = path};
	clock_gettime(CLOCK_MONOTONIC, &s.stats.started);
	s.base = event_base_new_prioritized();
	if (s.base == NULL)
		fatalx("cannot create the event base");
	s.accept_timer = evtimer_new(s.base, accept_timer_cb, &s);
	if (s.accept_timer == NULL || module_set_event_base(s.base) < 0 || setup_signals(&s) < 0)
		fatal("cannot set up signals and timers");
	int passed = listeners_adopt_systemd(&s, conf);
	if (passed < 0)
		fatalx("cannot use the sockets passed by systemd");
	if (passed == 0) {
		struct listener *fresh = NULL;
		if (listeners_open(&s, conf, &fresh) < 0)
			fatalx("cannot open the listeners");
		s.listeners = fresh;
	}
	if (metrics_start(&s, conf) < 0)
		fatalx("cannot start the metrics endpoint");
	peers_dir_configure(&s, conf, conn_follow_names);
	if (guests_configure(&s, conf) < 0)
		fatalx("cannot open the notify-listen sockets");
	if (notify_open(&s) < 0 || notify_start_timers(&s) < 0)
		fatal("cannot start the systemd timers");
	if (conn_sweep_arm(&s) < 0)
		fatal("cannot start the timeout sweep");
	notify_ready(&s);
	log_notice_id(LOG_MSGID_READY, "udo-vsockd %s ready", PACKAGE_VERSION);
	announce_configure(&s, conf);
	if (event_base_dispatch(s.base) < 0)
		fatalx("event loop failed");
	log_ratelimit_flush(); /* what was suppressed is counted before the end */
	log_notice("stopped");
	server_free(&s);
	return 0;
}
