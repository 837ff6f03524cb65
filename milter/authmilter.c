/*
 * authmilter: the daemon. Options, configuration, the listening socket,
 * privileges, signals; the mail work is msgauth's, reached through the
 * libmilter callbacks in milter_cb.c.
 *
 * Signals, in one place. SIGHUP/SIGUSR1 reload the configuration and
 * keys; SIGTERM/SIGINT stop accepting and let connections in flight finish
 * (drain()). main() blocks the four before any thread exists, so every
 * thread inherits the mask, and reads them from a signalfd in its loop;
 * smfi_main() runs in a second thread.
 *
 * libmilter's signal thread. smfi_main() starts one (libmilter/signal.c,
 * mi_spawn_signal_thread) that loops in sigwait() on SIGHUP, SIGTERM and
 * SIGINT and, on any of them, stops the filter at once: mi_stop_milters()
 * closes the listening socket and smfi_main() returns, with no drain, and
 * a reload becomes a stop. Blocking does not keep it out: sigwait() takes
 * a blocked signal, and a process-directed signal pending for the process
 * goes to whichever thread waits for it first. Handlers in the main thread
 * did not either: Linux passes a signal to another eligible thread (a
 * sigwait() one) when the main thread already has one pending, so a burst
 * of SIGHUPs sometimes stopped the daemon (t/integration/signals.sh).
 * libmilter has no option to go without the thread, so this program
 * defines sigwait() itself (below): the dynamic linker binds libmilter's
 * call to the executable's definition (an executable's symbols come first
 * in the lookup order, and a static libmilter links against it the same
 * way), which parks the calling thread for good with every signal blocked.
 * Nothing else here calls sigwait(): we read the signalfd.
 *
 * Reload and privileges. Keys and the config are read again at every
 * reload, as the unprivileged user, so at start (as root) the config is
 * loaded a second time right after the privileges are dropped: a key only
 * root can read fails then, at start, and not at the first reload. A new
 * socket_mode is applied to the socket in place. libmilter cannot move its
 * listening socket, so a new socket makes the daemon drain and re-execute
 * itself (same pid, same user) on the new one: the unprivileged user must be
 * able to bind it. The user cannot change without a restart as root: such a
 * reload is refused.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <openssl/crypto.h>
#include <unbound.h>

#include "conf.h"
#include "log.h"
#include "milter_cb.h"
#include "msgauth.h"
#include "recorder.h"
#include "store.h"
#include "str.h"

/* How long a stop waits for transactions in flight (Postfix's
 * milter_content_timeout is 300 s). */
#define STOP_GRACE_SECONDS 300
/* How long a stop or a reload lets the report writer empty its queue. */
#define RECORDER_STOP_MS 5000
/* And for connections without a transaction: one that is about to send
 * MAIL FROM gets the drain's 421 (Postfix then closes the session), but
 * an idle SMTP session must not hold the stop for minutes; its MTA
 * applies milter_default_action when it finds the milter gone. */
#define STOP_IDLE_CONN_SECONDS 2
/* Set in the environment of a re-execution (see reload()). */
#define REEXEC_ENV "AUTHMILTER_REEXEC"

static int         sig_pipe[2] = {-1, -1};
static const char *conf_file = CONF_DEFAULT_FILE;
static bool        foreground;
static bool        reexec; /* this process is a re-execution */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: authmilter [-fnV] [-c config]\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -n       check the configuration and exit\n"
	    "  -V       print the version and exit\n",
	    CONF_DEFAULT_FILE);
	exit(2);
}

static void
syslog_sink(enum log_level level, const char *line, void *arg)
{
	(void)arg;
	syslog((int)level, "%s", line);
}

/* -f: lines on stderr, with a time stamp as syslog would give them. */
static void
stderr_sink(enum log_level level, const char *line, void *arg)
{
	static const char *names[] = {"emerg", "alert", "crit", "error",
	    "warning", "notice", "info", "debug"};
	char               ts[32];
	struct tm          tm;
	time_t             now = time(NULL);

	(void)arg;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", gmtime_r(&now, &tm));
	fprintf(stderr, "%s authmilter[%ld]: %s%s%s\n", ts, (long)getpid(),
	    level <= LOG_L_WARNING ? names[level] : "",
	    level <= LOG_L_WARNING ? ": " : "", line);
}

/* Set when libmilter's signal thread has been parked in sigwait(). */
static atomic_bool sigwait_parked;

/* Replaces the C library's sigwait() for this program (see the top of the
 * file): whoever calls it, libmilter's signal thread, never takes a signal
 * and never returns. The thread waits for nothing with every signal
 * blocked, until the process exits. */
int
sigwait(const sigset_t *restrict set, int *restrict sig)
{
	sigset_t all;

	(void)set;
	(void)sig;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	atomic_store(&sigwait_parked, true);
	for (;;)
		pause();
}

/* libmilter has no call that returns its listening socket; it is the one
 * socket in listening state, so find it and set TCP_NODELAY there (accepted
 * sockets inherit it on Linux). Without it, a reply that follows a header
 * change waits ~40 ms for the MTA's delayed ACK. */

/* libmilter's listening socket: the one socket of ours that listens
 * (libmilter keeps its descriptor to itself). -1 when there is none. */
static int
listener_fd(void)
{
	int       fd, acc;
	socklen_t len;

	for (fd = 0; fd < 1024; fd++) {
		len = sizeof(acc);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) ==
			0 &&
		    acc)
			return fd;
	}
	return -1;
}

static void
set_nodelay_on_listener(void)
{
	struct sockaddr_storage ss;
	socklen_t               slen = sizeof(ss);
	int                     fd = listener_fd(), on = 1;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &slen) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
		log_msg(LOG_L_WARNING, "TCP_NODELAY: %s", strerror(errno));
	else
		log_msg(LOG_L_INFO, "TCP_NODELAY set on the listening socket");
}

/* Wakes libmilter's listener with a connection of our own, closed at
 * once (the session libmilter starts for it reads end of file). */
static void
wake_listener(void)
{
	struct sockaddr_storage ss;
	socklen_t               slen = sizeof(ss);
	int                     fd = listener_fd(), s;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &slen) < 0)
		return;
	/* A socket bound to every address is reached on loopback. */
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		if (in->sin_addr.s_addr == htonl(INADDR_ANY))
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	}
	if ((s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)connect(s, (struct sockaddr *)&ss, slen);
	close(s);
}

/* For local sockets: the mode from the config, and the owner we run as. */
static int
set_socket_owner(const struct am_conf *conf, const struct passwd *pw)
{
	const char *path = conf->socket_path;

	if (path == NULL)
		return 0;
	if (chmod(path, (mode_t)conf->socket_mode) < 0) {
		log_msg(LOG_L_ERR, "chmod %s: %s", path, strerror(errno));
		return -1;
	}
	if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		log_msg(LOG_L_ERR, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_pidfile(const char *path)
{
	FILE *f;

	if (path == NULL || path[0] == '\0')
		return 0;
	if ((f = fopen(path, "w")) == NULL) {
		log_msg(LOG_L_ERR, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0) {
		log_msg(LOG_L_ERR, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
drop_privileges(const struct passwd *pw)
{
	if (pw == NULL || (geteuid() == pw->pw_uid && getuid() == pw->pw_uid))
		return 0; /* started as that user already (systemd User=) */
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		log_msg(LOG_L_ERR, "cannot become user %s: %s", pw->pw_name,
		    strerror(errno));
		return -1;
	}
	/* Make sure there is no way back. */
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		log_msg(LOG_L_ERR, "privileges could be regained after setuid");
		return -1;
	}
	return 0;
}

static void
daemonize(void)
{
	pid_t pid = fork();
	int   fd;

	if (pid < 0) {
		log_msg(LOG_L_ERR, "fork: %s", strerror(errno));
		exit(1);
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") < 0)
		exit(1);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* Until the daemon detaches, errors and warnings also go to stderr: an
 * administrator starting it by hand, or a host without a syslog daemon,
 * sees why it did not start. */
static void
startup_sink(enum log_level level, const char *line, void *arg)
{
	syslog_sink(level, line, arg);
	if (level <= LOG_L_WARNING)
		fprintf(stderr, "authmilter: %s\n", line);
}

/* Whether this process can listen on spec now (after the privileges are
 * gone): a local socket's directory must be writable, an inet address
 * resolvable and, with bind_it, bindable. Says why not in why. */
static bool
can_listen(const struct am_conf *c, bool bind_it, char *why, size_t whysize)
{
	struct addrinfo hints = {0}, *ai = NULL;
	const char     *at, *colon = strchr(c->socket, ':');
	char            dir[4096], port[16];
	int             fd, on = 1, r;
	bool            ok;

	if (c->socket_path != NULL) {
		char *slash;

		str_lcpy(dir, c->socket_path, sizeof(dir));
		if ((slash = strrchr(dir, '/')) != NULL)
			*(slash == dir ? slash + 1 : slash) = '\0';
		if (access(dir, W_OK | X_OK) == 0)
			return true;
		snprintf(why, whysize, "its directory: %s", strerror(errno));
		return false;
	}
	/* inet:PORT[@HOST] or inet6:PORT[@HOST] (conf_socket_check passed):
	 * without a host, every address. */
	if ((at = strchr(c->socket, '@')) == NULL)
		at = c->socket + strlen(c->socket);
	if (colon == NULL || (size_t)(at - colon - 1) >= sizeof(port)) {
		snprintf(why, whysize, "unexpected socket spec");
		return false;
	}
	memcpy(port, colon + 1, (size_t)(at - colon - 1));
	port[at - colon - 1] = '\0';
	hints.ai_family =
	    strncmp(c->socket, "inet6:", 6) == 0 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((r = getaddrinfo(*at == '@' ? at + 1 : NULL, port, &hints, &ai)) !=
	    0) {
		snprintf(why, whysize, "%s", gai_strerror(r));
		return false;
	}
	if (!bind_it) {
		freeaddrinfo(ai);
		return true;
	}
	ok = (fd = socket(ai->ai_family, SOCK_STREAM, 0)) >= 0 &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
	     bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
	if (!ok)
		snprintf(why, whysize, "%s", strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return ok;
}

/* -n: the report store as the daemon will open it (it creates a SQLite
 * file that is not there yet). A SQLite store that cannot be opened is an
 * error, a PostgreSQL server that does not answer now only a warning (it
 * may come up later; rows are dropped meanwhile). Returns 0 or 2. */
static int
check_store(const struct am_conf *conf, const char *as)
{
	struct am_err err;
	struct store *st;

	if (!conf->reports.enabled)
		return 0;
	if ((st = store_open(conf->reports.store, &err)) != NULL) {
		store_close(st);
		return 0;
	}
	if (strncmp(conf->reports.store, "sqlite:", 7) == 0) {
		fprintf(stderr, "%s: reports.store%s: %s\n", conf_file, as,
		    err.msg);
		return 2;
	}
	fprintf(stderr,
	    "%s: warning: reports.store%s: %s (rows are dropped until it "
	    "answers)\n",
	    conf_file, as, err.msg);
	return 0;
}

/* -n: what start-up would find beyond the file: the user, the socket's
 * directory or host, and the keys as the user reads them at every
 * reload (a child process drops to the user and loads the file again).
 * Returns 0, or 2 after printing why. */
static int
check_start(const struct am_conf *conf)
{
	const struct passwd *pw = NULL;
	struct am_err        err;
	char                 why[512];
	pid_t                pid;
	int                  st;

	if (!can_listen(conf, false, why, sizeof(why))) {
		fprintf(stderr, "%s: socket \"%s\": %s\n", conf_file,
		    conf->socket, why);
		return 2;
	}
	if (conf->user == NULL && geteuid() == 0) {
		fprintf(stderr, "%s: refusing to run as root: set user\n",
		    conf_file);
		return 2;
	}
	if (conf->user == NULL || geteuid() != 0)
		return check_store(conf, ""); /* runs as the invoking user */
	if ((pw = getpwnam(conf->user)) == NULL || pw->pw_uid == 0) {
		fprintf(stderr, "%s: user \"%s\" %s\n", conf_file, conf->user,
		    pw == NULL ? "does not exist" : "is root");
		return 2;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		struct am_conf *c;

		if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
		    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
			fprintf(stderr, "cannot become user %s: %s\n",
			    pw->pw_name, strerror(errno));
			_exit(2);
		}
		if ((c = conf_load(conf_file, &err)) == NULL) {
			fprintf(stderr,
			    "as user %s: %s (the daemon reads the "
			    "configuration and keys as this user)\n",
			    pw->pw_name, err.msg);
			_exit(2);
		}
		int rc;

		snprintf(why, sizeof(why), " (as user %s)", pw->pw_name);
		rc = check_store(c, why);
		conf_unref(c);
		_exit(rc);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 2;
}

static void
pub_log(
    void *arg, const struct conf_key *k, enum msgauth_pub st, const char *why)
{
	(void)arg;
	if (st == MSGAUTH_PUB_OK)
		log_msg(LOG_L_NOTICE,
		    "DKIM key %s (s=%s d=%s): %s; signing with it", k->name,
		    k->selector, k->domain, why);
	else
		log_msg(LOG_L_WARNING,
		    "DKIM key %s (s=%s d=%s): not signing with it: %s", k->name,
		    k->selector, k->domain, why);
}

/* dkim.sign.publish_check: looks the keys up (in this thread, never in a
 * libmilter callback) and logs what changed. */
static void
publish_check(struct msgauth_ctx *ctx)
{
	if (msgauth_publish_checked(ctx))
		(void)msgauth_publish_check(ctx, pub_log, NULL);
}

/* Loads the config and makes its context, sharing the resolver of prev
 * when the DNS settings did not change, with its keys' publication
 * checked before any message can use it. NULL after logging why. */
static struct msgauth_ctx *
load(const struct msgauth_ctx *prev)
{
	struct am_err       err;
	struct am_conf     *conf = conf_load(conf_file, &err);
	struct msgauth_ctx *ctx;

	if (conf == NULL) {
		log_msg(LOG_L_ERR, "%s", err.msg);
		return NULL;
	}
	for (size_t i = 0; i < conf->nwarnings; i++)
		log_msg(LOG_L_WARNING, "%s", conf->warnings[i]);
	ctx = msgauth_ctx_new(conf, prev, &err);
	conf_unref(conf);
	if (ctx == NULL)
		log_msg(LOG_L_ERR, "%s", err.msg);
	else
		publish_check(ctx);
	return ctx;
}

static bool
same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Starts the report writer conf asks for (none without a reports group)
 * and stops the one before it, after it has written what it holds. */
static void
recorder_swap(const struct am_conf *conf)
{
	struct recorder *r = NULL;
	struct am_err    err;

	if (conf != NULL && conf->reports.enabled &&
	    (r = recorder_start(conf->reports.store, conf->reports.queue,
		 &err)) == NULL)
		log_msg(LOG_L_ERR, "%s (nothing is recorded)", err.msg);
	else if (r != NULL) /* a PostgreSQL URI may hold a password */
		log_msg(LOG_L_INFO, "reports: recording to %s",
		    strncmp(conf->reports.store, "sqlite:", 7) == 0
			? conf->reports.store
			: "a PostgreSQL store");
	recorder_stop(milter_cb_set_recorder(r), RECORDER_STOP_MS);
}

/* Seconds on CLOCK_MONOTONIC. */
static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* When the keys' records are next looked up, after a check just now. */
static double
check_due(const struct msgauth_ctx *ctx)
{
	return mono_now() + msgauth_ctx_conf(ctx)->dkim.sign.publish_interval;
}

/* Loads the config anew and swaps it in. Returns true when the socket
 * changed: the caller then re-executes the daemon. */
static bool
reload(void)
{
	struct msgauth_ctx *old = milter_cb_get_ctx();
	struct msgauth_ctx *ctx = load(old);
	bool                moved = false;

	char why[256];

	if (ctx != NULL &&
	    !same(
		msgauth_ctx_conf(old)->socket, msgauth_ctx_conf(ctx)->socket) &&
	    !can_listen(msgauth_ctx_conf(ctx), true, why, sizeof(why))) {
		log_msg(LOG_L_ERR, "%s: cannot listen on %s: %s", conf_file,
		    msgauth_ctx_conf(ctx)->socket, why);
		msgauth_ctx_unref(ctx);
		ctx = NULL;
	}
	if (ctx != NULL &&
	    !same(msgauth_ctx_conf(old)->user, msgauth_ctx_conf(ctx)->user)) {
		/* The privileges to become another user are gone. */
		log_msg(LOG_L_ERR,
		    "%s: user \"%s\": the user cannot change while running "
		    "(privileges were dropped at start); restart authmilter",
		    conf_file,
		    msgauth_ctx_conf(ctx)->user ? msgauth_ctx_conf(ctx)->user
						: "");
		msgauth_ctx_unref(ctx);
		ctx = NULL;
	}
	if (ctx == NULL) {
		log_msg(
		    LOG_L_ERR, "reload failed; the old configuration stays");
	} else {
		const struct am_conf *oc = msgauth_ctx_conf(old);
		const struct am_conf *nc = msgauth_ctx_conf(ctx);

		moved = !same(oc->socket, nc->socket);
		if (!moved && oc->socket_mode != nc->socket_mode)
			(void)set_socket_owner(nc, NULL);
		if (!same(oc->pidfile, nc->pidfile) &&
		    write_pidfile(nc->pidfile) == 0 && oc->pidfile != NULL)
			unlink(oc->pidfile);
		if (!foreground && oc->syslog_facility != nc->syslog_facility) {
			closelog();
			openlog("authmilter", LOG_PID | LOG_NDELAY,
			    nc->syslog_facility);
		}
		log_set_level((enum log_level)nc->log_level);
		if (oc->reports.enabled != nc->reports.enabled ||
		    !same(oc->reports.store, nc->reports.store) ||
		    oc->reports.queue != nc->reports.queue)
			recorder_swap(nc);
		milter_cb_set_ctx(ctx);
		log_msg(
		    LOG_L_NOTICE, "configuration reloaded from %s", conf_file);
		if (moved)
			log_msg(LOG_L_NOTICE,
			    "socket %s: moving from %s; restarting in place",
			    nc->socket, oc->socket);
	}
	msgauth_ctx_unref(old);
	return moved;
}

/* After libmilter has stopped: runs this program again, same pid, same
 * user, on the configuration now in force. Returns only on failure. */
static void
reexecute(void)
{
	static char path[4096];
	char       *args[] = {
		  "authmilter", "-c", path, foreground ? "-f" : NULL, NULL};

	if (str_lcpy(path, conf_file, sizeof(path)) < sizeof(path) &&
	    setenv(REEXEC_ENV, "1", 1) == 0)
		execv("/proc/self/exe", args);
	log_msg(LOG_L_ERR, "cannot re-execute: %s", strerror(errno));
}

/* A stop lets transactions in flight finish: new ones are refused with a
 * tempfail while we wait (libmilter's own stop would drop them). */
static void
drain(void)
{
	time_t   start = time(NULL), deadline = start + STOP_GRACE_SECONDS;
	unsigned n = 0;
	int      i;

	milter_cb_drain();
	/* Connections too, for a moment: one set up before the drain that
	 * sends MAIL FROM soon gets our 421 rather than a reset. */
	for (i = 0; time(NULL) < deadline; i++) {
		n = milter_cb_in_flight();
		if (n == 0 && (milter_cb_connections() == 0 ||
				  time(NULL) >= start + STOP_IDLE_CONN_SECONDS))
			break;
		if (i % 100 == 0)
			log_msg(LOG_L_NOTICE,
			    "waiting for %u transaction(s) and %u "
			    "connection(s) to finish",
			    milter_cb_in_flight(), milter_cb_connections());
		poll(NULL, 0, 50);
	}
	if (n > 0)
		log_msg(
		    LOG_L_WARNING, "%u transaction(s) cut short at exit", n);
}

static void *
stopper(void *arg)
{
	(void)arg;
	smfi_stop();
	return NULL;
}

/* Stops libmilter and waits for smfi_main() to return in thread tid.
 * smfi_stop() sets the stop flag, then waits for the lock that the
 * listener holds while it polls its socket, and that poll times out only
 * every 5 s (MI_CHK_TIME): an idle daemon took that long to stop. So the
 * stop runs in a thread of its own while this one wakes the listener
 * until smfi_main() has returned (a wake before the flag is set only
 * costs a round). */
static void
stop_milter(pthread_t tid)
{
	pthread_t       st;
	struct timespec ts;
	bool            own = pthread_create(&st, NULL, stopper, NULL) == 0;
	int             i;

	if (!own)
		smfi_stop();        /* the old way: at most a poll's time */
	for (i = 0; i < 500; i++) { /* 10 s in rounds of 20 ms */
		wake_listener();
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(tid, NULL, &ts) == 0)
			break;
	}
	if (i == 500)
		pthread_join(tid, NULL);
	if (own)
		pthread_join(st, NULL);
}

static void *
milter_thread(void *arg)
{
	int *rc = arg;

	*rc = smfi_main();
	/* Wake the main loop: libmilter has stopped. */
	while (write(sig_pipe[1], "", 1) < 0 && errno == EINTR)
		;
	return NULL;
}

int
main(int argc, char **argv)
{
	struct am_err       err;
	struct am_conf     *conf;
	struct msgauth_ctx *ctx;
	struct passwd      *pw = NULL;
	sigset_t            sigs;
	int                 sig_fd;
	pthread_t           tid;
	bool                check_only = false, moved = false;
	int                 ch, milter_rc = MI_FAILURE;
	long                ncpu;
	double              next_check;

	while ((ch = getopt(argc, argv, "c:fnV")) != -1) {
		switch (ch) {
		case 'c':
			conf_file = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check_only = true;
			break;
		case 'V':
			printf("authmilter %s (%s, libunbound %s, libmilter "
			       "%d.%d.%d)\n",
			    PACKAGE_VERSION, OpenSSL_version(OPENSSL_VERSION),
			    ub_version(), SM_LM_VRS_MAJOR(SMFI_VERSION),
			    SM_LM_VRS_MINOR(SMFI_VERSION),
			    SM_LM_VRS_PLVL(SMFI_VERSION));
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Reloads read it again after daemonize() has left the directory. */
	if (conf_file[0] != '/') {
		char *abs = realpath(conf_file, NULL);

		if (abs == NULL) {
			fprintf(stderr, "%s: %s\n", conf_file, strerror(errno));
			return 2;
		}
		conf_file = abs;
	}
	reexec = getenv(REEXEC_ENV) != NULL;
	unsetenv(REEXEC_ENV);

	/* libmilter runs a thread per connection and glibc gives busy threads
	 * arenas of their own (8 per core): at 64 connections that was 3.5 MB
	 * of RSS and slower, not faster (contrib/bench/RESULTS.md). One arena
	 * per core is enough. */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	mallopt(M_ARENA_MAX, ncpu > 1 ? (int)ncpu : 1);
	if ((conf = conf_load(conf_file, &err)) == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	if (check_only) {
		int rc = check_start(conf);

		for (size_t i = 0; i < conf->nwarnings; i++)
			fprintf(stderr, "%s\n", conf->warnings[i]);
		if (rc == 0)
			printf("%s: configuration OK\n", conf_file);
		conf_unref(conf);
		return rc;
	}
	log_set_level((enum log_level)conf->log_level);
	if (foreground) {
		log_set_sink(stderr_sink, NULL);
	} else {
		openlog(
		    "authmilter", LOG_PID | LOG_NDELAY, conf->syslog_facility);
		log_set_sink(reexec ? syslog_sink : startup_sink, NULL);
	}
	for (size_t i = 0; i < conf->nwarnings; i++)
		log_msg(LOG_L_WARNING, "%s", conf->warnings[i]);

	if (conf->user != NULL && conf->user[0] != '\0') {
		if ((pw = getpwnam(conf->user)) == NULL) {
			log_msg(LOG_L_ERR, "%s: user \"%s\" does not exist",
			    conf_file, conf->user);
			return 1;
		}
		if (pw->pw_uid == 0) {
			log_msg(LOG_L_ERR,
			    "%s: user \"%s\" is root: name an unprivileged "
			    "user",
			    conf_file, conf->user);
			return 1;
		}
	} else if (geteuid() == 0) {
		log_msg(LOG_L_ERR, "%s: refusing to run as root: set user",
		    conf_file);
		return 1;
	}

	(void)smfi_setmaxdatasize(MILTER_CB_MAX_DATA);
	if (smfi_register(milter_cb_desc) != MI_SUCCESS ||
	    smfi_setconn(conf->socket) != MI_SUCCESS ||
	    smfi_settimeout(7200) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		char why[512] = "libmilter refused it";

		/* libmilter says why only to syslog: ask the system again. */
		(void)can_listen(conf, true, why, sizeof(why));
		log_msg(
		    LOG_L_ERR, "cannot listen on %s: %s", conf->socket, why);
		return 1;
	}
	set_nodelay_on_listener();
	if (set_socket_owner(conf, pw) < 0)
		return 1;
	/* A re-execution is detached already, and its pid is the same. */
	if (!foreground && !reexec) {
		daemonize();
		log_set_sink(syslog_sink, NULL);
	}
	if ((!reexec && write_pidfile(conf->pidfile) < 0) ||
	    drop_privileges(pw) < 0)
		return 1;
	if (pw != NULL && getuid() != 0) {
		struct am_conf *again = conf_load(conf_file, &err);

		if (again == NULL) {
			log_msg(LOG_L_ERR,
			    "as user %s: %s (reloads read the configuration "
			    "and keys as this user)",
			    pw->pw_name, err.msg);
			return 1;
		}
		conf_unref(again);
	}

	/* Our signals are blocked before the first thread starts, so that
	 * every thread inherits the mask; they are read from sig_fd only (see
	 * the top of the file). Signals that came before stay pending. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0 ||
	    pipe2(sig_pipe, O_CLOEXEC) < 0) {
		log_msg(LOG_L_ERR, "signalfd or pipe: %s", strerror(errno));
		return 1;
	}

	/* Threads start only now: after fork, after setuid. */
	ctx = msgauth_ctx_new(conf, NULL, &err);
	if (ctx == NULL) {
		log_msg(LOG_L_ERR, "%s", err.msg);
		return 1;
	}
	publish_check(ctx);
	milter_cb_set_ctx(ctx);
	recorder_swap(conf);

	if (pthread_create(&tid, NULL, milter_thread, &milter_rc) != 0) {
		log_msg(LOG_L_ERR, "cannot start the milter thread");
		return 1;
	}
	log_msg(LOG_L_NOTICE, "authmilter %s listening on %s", PACKAGE_VERSION,
	    conf->socket);
	conf_unref(conf);

	next_check = check_due(ctx);
	for (;;) {
		struct pollfd pfd[2] = {{.fd = sig_fd, .events = POLLIN},
		    {.fd = sig_pipe[0], .events = POLLIN}};
		struct signalfd_siginfo si;
		struct msgauth_ctx     *cur = milter_cb_get_ctx();
		int                     sig, timeout = -1, rc;

		if (msgauth_publish_checked(cur)) {
			double left = next_check - mono_now();

			if (left <= 0) {
				publish_check(cur);
				next_check = check_due(cur);
				msgauth_ctx_unref(cur);
				continue;
			}
			timeout = (int)(left * 1000) + 1;
		}
		msgauth_ctx_unref(cur);
		if ((rc = poll(pfd, 2, timeout)) == 0)
			continue;
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_L_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents != 0) {
			log_msg(LOG_L_ERR, "libmilter stopped");
			break;
		}
		if (pfd[0].revents == 0 ||
		    read(sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		sig = (int)si.ssi_signo;
		if (sig == SIGHUP || sig == SIGUSR1) {
			if (!(moved = reload())) {
				/* load() checked the keys just now */
				cur = milter_cb_get_ctx();
				next_check = check_due(cur);
				msgauth_ctx_unref(cur);
				continue;
			}
		} else
			log_msg(LOG_L_NOTICE, "stopping on signal %d", sig);
		if (!atomic_load(&sigwait_parked))
			log_msg(LOG_L_DEBUG, "libmilter's signal thread was "
					     "not parked in sigwait()");
		drain();
		break;
	}
	stop_milter(tid);
	recorder_swap(NULL);
	ctx = milter_cb_get_ctx();
	if (!moved && msgauth_ctx_conf(ctx)->pidfile != NULL)
		unlink(msgauth_ctx_conf(ctx)->pidfile); /* may fail: not ours */
	msgauth_ctx_unref(ctx);
	milter_cb_set_ctx(NULL);
	if (moved)
		reexecute();
	log_msg(LOG_L_NOTICE, "stopped");
	return milter_rc == MI_SUCCESS && !moved ? 0 : 1;
}
