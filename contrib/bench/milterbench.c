/*
 * milterbench: a milter-protocol load generator. It plays Postfix 3.7
 * (t/tools/milter_client: protocol 6, option negotiation honouring the
 * filter's SMFIP_NO and SMFIP_NR flags, Postfix's per-stage macros, body
 * packets of up to 64 KiB) against one filter or a chain of filters, with
 * one milter connection per message as Postfix opens by default, and
 * reports throughput, latency and the filter processes' cost.
 *
 *	milterbench -s SPEC [-s SPEC2 ...] -i INDEX [options]
 *
 *	-s SPEC       filter socket (local:/path, inet:PORT@HOST); given
 *	              twice or more, the filters form a chain as Postfix
 *	              runs smtpd_milters: every envelope event goes to each
 *	              filter in turn, then the message goes through the first
 *	              filter to its end, its header edits are applied, and
 *	              the edited message goes through the next one
 *	-i INDEX      corpus index: lines "MAIL-FROM<TAB>FILE" (FILE relative
 *	              to the index's directory)
 *	-c N          concurrency: N threads, one connection each (1)
 *	-n N          messages in the measured phase (1000)
 *	-t SECONDS    measure for this long instead of a message count
 *	-w N          warm-up messages before measuring (100)
 *	-p PID        a filter process to account (CPU, RSS); repeatable
 *	-a IP         client address in connect ({client_addr}) (192.0.2.1)
 *	-H NAME       HELO name (mail.client.test)
 *	-r ADDR       recipient (postmaster@mx.bench.test)
 *	-A USER       SMTP AUTH user ({auth_type} PLAIN, {auth_authen})
 *	-m TEXT       count messages whose added or changed header fields
 *	              contain TEXT (case-sensitive); up to 4
 *	-b BYTES      instead of the corpus run: one message with a body of
 *	              BYTES (the first corpus message's header), sampling the
 *	              filters' VmRSS every 5 ms to report its growth
 *	-l LABEL      label for the RESULT line
 *	-T SECONDS    per-wait timeout on the socket (30)
 *	-N            TCP_NODELAY on our side (Postfix does not set it)
 *
 * Output: a human summary on stderr and one line on stdout,
 *	RESULT label=L c=N msgs=N secs=S rate=R p50=MS p90=MS p99=MS max=MS
 *	cpu_ms=MS rss_kb=KB hwm_kb=KB errors=N edits=N m1=N ...
 *	replies=accept:N,reject:N,...
 * cpu_ms is the filters' user+system CPU per measured message (from
 * /proc/PID/stat, before and after the measured phase), rss_kb their VmRSS
 * after it and hwm_kb their VmHWM (peak since the process started);
 * gen_cpu_ms is milterbench's own CPU per message (it shares the machine);
 * eom_p50/eom_p99 time the last filter's end of message alone.
 * Latency runs from the connect() of the first filter to the final
 * end-of-message reply of the last.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "milter_client.h"

#define MB_MAX_FILTERS 4                  /* filters in one chain */
#define MB_MAX_PIDS    8                  /* accounted processes */
#define MB_MAX_MATCH   4                  /* -m texts */
#define MB_MAX_THREADS 1024               /* -c */
#define MB_MAX_MSG     (64 * 1024 * 1024) /* bytes of one corpus file */
#define MB_MAX_FIELDS  1000               /* header fields of one message */
#define MB_MAX_LINE    4096               /* index line */
#define MB_NVERDICTS   (MILTER_CLIENT_NOTSENT + 2) /* + error */

struct field {
	char *name, *value; /* value: after the colon, folds joined by LF */
};

struct msg {
	char         *mail_from; /* "<addr>" */
	struct field *fields;
	size_t        nfields;
	char         *body; /* CRLF line ends */
	size_t        body_len;
};

struct opts {
	const char  *spec[MB_MAX_FILTERS];
	size_t       nspec;
	const char  *index;
	unsigned     conc;
	uint64_t     count, warmup;
	double       seconds;
	pid_t        pid[MB_MAX_PIDS];
	size_t       npid;
	const char  *ip, *helo, *rcpt, *auth, *label;
	const char  *match[MB_MAX_MATCH];
	size_t       nmatch;
	uint64_t     big;
	unsigned int timeout_ms;
	bool         nodelay;
};

/* One message's outcome. */
struct outcome {
	double eom_ms;  /* the last end-of-message: BODYEOB to the reply */
	int    verdict; /* enum milter_client_verdict, or MB_NVERDICTS - 1 */
	bool   edited;
	bool   matched[MB_MAX_MATCH];
};

struct worker {
	pthread_t     th;
	unsigned      id;
	double       *lat, *eom; /* ms, measured phase */
	size_t        nlat, lat_cap;
	uint64_t      verdicts[MB_NVERDICTS];
	uint64_t      edits, matches[MB_MAX_MATCH];
	struct am_err last_err;
	uint64_t      errors;
};

static struct opts          o;
static struct msg          *corpus;
static size_t               ncorpus;
static atomic_uint_fast64_t next_msg; /* corpus position, all phases */
static atomic_uint_fast64_t claimed;  /* messages claimed in a phase */
static double               deadline; /* -t: end of the measured phase */
static pthread_barrier_t    barrier;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "milterbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		die("%s", "out of memory");
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* ---- corpus ---- */

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *data;
	long  n;

	if (fp == NULL)
		die("cannot open %s", path);
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    n > MB_MAX_MSG || fseek(fp, 0, SEEK_SET) != 0)
		die("cannot read %s (or over 64 MiB)", path);
	data = xmalloc((size_t)n + 1);
	if (fread(data, 1, (size_t)n, fp) != (size_t)n)
		die("cannot read %s", path);
	data[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return data;
}

/* The body with CRLF line ends and a final CRLF, as over SMTP. */
static char *
crlf_body(const char *p, size_t n, size_t *out_len)
{
	char  *out = xmalloc(2 * n + 2);
	size_t i, o_ = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			out[o_++] = '\r';
		out[o_++] = p[i];
	}
	if (o_ > 0 &&
	    !(o_ >= 2 && out[o_ - 2] == '\r' && out[o_ - 1] == '\n')) {
		out[o_++] = '\r';
		out[o_++] = '\n';
	}
	*out_len = o_;
	return out;
}

/* Splits a message into fields and body; folded lines are joined by LF,
 * CRs dropped, as Postfix hands them to milters. */
static void
parse_msg(struct msg *m, const char *data, size_t n, const char *path)
{
	size_t pos = 0, eol, lend, colon;
	size_t cap = 16;

	m->fields = xmalloc(cap * sizeof(*m->fields));
	m->nfields = 0;
	while (pos < n) {
		const char *nl = memchr(data + pos, '\n', n - pos);

		eol = nl != NULL ? (size_t)(nl - data) : n;
		lend = eol > pos && data[eol - 1] == '\r' ? eol - 1 : eol;
		if (lend == pos) { /* the empty line */
			pos = eol < n ? eol + 1 : n;
			break;
		}
		if ((data[pos] == ' ' || data[pos] == '\t') && m->nfields > 0) {
			/* a continuation line: append "\n" + line */
			struct field *f = &m->fields[m->nfields - 1];
			size_t        ol = strlen(f->value);
			char         *v = xmalloc(ol + 1 + (lend - pos) + 1);

			memcpy(v, f->value, ol);
			v[ol] = '\n';
			memcpy(v + ol + 1, data + pos, lend - pos);
			v[ol + 1 + lend - pos] = '\0';
			free(f->value);
			f->value = v;
		} else {
			const char *c = memchr(data + pos, ':', lend - pos);

			if (c == NULL)
				break; /* not a field: the body starts */
			colon = (size_t)(c - data);
			if (m->nfields == MB_MAX_FIELDS)
				die("too many header fields in %s", path);
			if (m->nfields == cap) {
				cap *= 2;
				m->fields = realloc(
				    m->fields, cap * sizeof(*m->fields));
				if (m->fields == NULL)
					die("%s", "out of memory");
			}
			m->fields[m->nfields].name =
			    xstrndup(data + pos, colon - pos);
			m->fields[m->nfields].value =
			    xstrndup(data + colon + 1, lend - colon - 1);
			m->nfields++;
		}
		pos = eol < n ? eol + 1 : n;
	}
	m->body = crlf_body(data + pos, n - pos, &m->body_len);
}

static void
load_corpus(const char *index)
{
	FILE  *fp = fopen(index, "r");
	char   line[MB_MAX_LINE], path[MB_MAX_LINE + 256], dir[MB_MAX_LINE];
	char  *tab, *data, *slash;
	size_t cap = 64, n, len;

	if (fp == NULL)
		die("cannot open %s", index);
	snprintf(dir, sizeof(dir), "%s", index);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		slash[0] = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	corpus = xmalloc(cap * sizeof(*corpus));
	while (fgets(line, sizeof(line), fp) != NULL) {
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if ((tab = strchr(line, '\t')) == NULL)
			die("bad index line: %s", line);
		*tab = '\0';
		if (ncorpus == cap) {
			cap *= 2;
			corpus = realloc(corpus, cap * sizeof(*corpus));
			if (corpus == NULL)
				die("%s", "out of memory");
		}
		if (tab[1] == '/')
			snprintf(path, sizeof(path), "%s", tab + 1);
		else
			snprintf(path, sizeof(path), "%s/%s", dir, tab + 1);
		data = read_file(path, &len);
		corpus[ncorpus].mail_from = xmalloc(strlen(line) + 3);
		sprintf(corpus[ncorpus].mail_from, "<%s>", line);
		parse_msg(&corpus[ncorpus], data, len, path);
		free(data);
		ncorpus++;
	}
	fclose(fp);
	if (ncorpus == 0)
		die("no messages in %s", index);
}

/* ---- one transaction ---- */

static int
set_macros(struct milter_client *mc, const char *mail_from, const char *qid)
{
	char   under[512], addr[512];
	size_t n = strlen(mail_from);
	int    rc = 0;

	snprintf(under, sizeof(under), "[%s] [%s]", o.ip, o.ip);
	snprintf(addr, sizeof(addr), "%.*s", (int)(n >= 2 ? n - 2 : 0),
	    mail_from + 1);
	/* Postfix's milter_*_macros defaults, plus the client's address. */
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "j", "mx.bench.test");
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{daemon_name}", "mx.bench.test");
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{daemon_addr}", "127.0.0.1");
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "v", "Postfix 3.7.11");
	rc |= milter_client_macro(mc, MILTER_CLIENT_CONNECT, "_", under);
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{client_addr}", o.ip);
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_CONNECT, "{client_name}", "unknown");
	rc |= milter_client_macro(mc, MILTER_CLIENT_MAIL, "i", qid);
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_MAIL, "{mail_mailer}", "smtp");
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_MAIL, "{mail_host}", "mx.bench.test");
	rc |= milter_client_macro(mc, MILTER_CLIENT_MAIL, "{mail_addr}", addr);
	if (o.auth != NULL) {
		rc |= milter_client_macro(
		    mc, MILTER_CLIENT_MAIL, "{auth_type}", "PLAIN");
		rc |= milter_client_macro(
		    mc, MILTER_CLIENT_MAIL, "{auth_authen}", o.auth);
	}
	rc |= milter_client_macro(mc, MILTER_CLIENT_RCPT, "i", qid);
	rc |= milter_client_macro(
	    mc, MILTER_CLIENT_RCPT, "{rcpt_mailer}", "local");
	rc |= milter_client_macro(mc, MILTER_CLIENT_RCPT, "{rcpt_host}", "");
	rc |=
	    milter_client_macro(mc, MILTER_CLIENT_RCPT, "{rcpt_addr}", o.rcpt);
	rc |= milter_client_macro(mc, MILTER_CLIENT_DATA, "i", qid);
	rc |= milter_client_macro(mc, MILTER_CLIENT_EOH, "i", qid);
	rc |= milter_client_macro(mc, MILTER_CLIENT_EOM, "i", qid);
	return rc;
}

static bool
goes_on(const struct milter_client_reply *r)
{
	return r->verdict == MILTER_CLIENT_CONTINUE ||
	       r->verdict == MILTER_CLIENT_NOREPLY ||
	       r->verdict == MILTER_CLIENT_NOTSENT ||
	       r->verdict == MILTER_CLIENT_SKIP;
}

/* The header as the next filter of a chain sees it. */
struct hdrs {
	struct field *f;
	size_t        n, cap;
	bool          owned; /* f[i] strings allocated by us */
};

static void
hdrs_insert(struct hdrs *h, size_t at, const char *name, const char *value)
{
	char *v;

	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 32;
		h->f = realloc(h->f, h->cap * sizeof(*h->f));
		if (h->f == NULL)
			die("%s", "out of memory");
	}
	if (at > h->n)
		at = h->n;
	memmove(h->f + at + 1, h->f + at, (h->n - at) * sizeof(*h->f));
	/* Filters give the value without the space after the colon. */
	v = xmalloc(strlen(value) + 2);
	v[0] = ' ';
	strcpy(v + 1, value);
	h->f[at].name = xstrndup(name, strlen(name));
	h->f[at].value = v;
	h->n++;
}

static void
hdrs_apply(struct hdrs *h, struct milter_client *mc)
{
	size_t i, j, k, nact = milter_client_nactions(mc);

	for (i = 0; i < nact; i++) {
		const struct milter_client_action *a =
		    milter_client_action(mc, i);

		if (a->type == MILTER_CLIENT_ADDHEADER)
			hdrs_insert(h, h->n, a->name, a->value);
		else if (a->type == MILTER_CLIENT_INSHEADER)
			hdrs_insert(h, a->index, a->name, a->value);
		else if (a->type == MILTER_CLIENT_CHGHEADER) {
			/* index: the nth field of that name, from 1 */
			for (j = 0, k = 0; j < h->n; j++)
				if (strcasecmp(h->f[j].name, a->name) == 0 &&
				    ++k == a->index)
					break;
			if (j == h->n)
				continue;
			free(h->f[j].name);
			free(h->f[j].value);
			if (a->value[0] == '\0') {
				memmove(h->f + j, h->f + j + 1,
				    (h->n - j - 1) * sizeof(*h->f));
				h->n--;
			} else {
				h->f[j].name =
				    xstrndup(a->name, strlen(a->name));
				h->f[j].value = xmalloc(strlen(a->value) + 2);
				h->f[j].value[0] = ' ';
				strcpy(h->f[j].value + 1, a->value);
			}
		}
	}
}

static void
hdrs_free(struct hdrs *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->f[i].name);
		free(h->f[i].value);
	}
	free(h->f);
}

static void
note_actions(struct milter_client *mc, struct outcome *out)
{
	size_t i, k, nact = milter_client_nactions(mc);

	for (i = 0; i < nact; i++) {
		const struct milter_client_action *a =
		    milter_client_action(mc, i);

		if (a->type != MILTER_CLIENT_ADDHEADER &&
		    a->type != MILTER_CLIENT_INSHEADER &&
		    a->type != MILTER_CLIENT_CHGHEADER)
			continue;
		out->edited = true;
		for (k = 0; k < o.nmatch; k++)
			if (a->value != NULL && strstr(a->value, o.match[k]))
				out->matched[k] = true;
	}
}

/* One message through the chain; 0 with *out filled, or -1. */
static int
transaction(const struct msg *m, const char *body, size_t body_len,
    uint64_t seq, struct outcome *out, struct am_err *err)
{
	struct milter_client_params p = {0};
	struct milter_client       *mc[MB_MAX_FILTERS] = {0};
	struct milter_client_reply  r;
	struct hdrs                 h = {0};
	const char                 *argv[2] = {NULL, NULL};
	char                        qid[32], name[64];
	size_t                      i, k, n = o.nspec;
	bool                        stop = false;
	double                      t_eom;
	int                         rc = -1;

	memset(out, 0, sizeof(*out));
	out->verdict = MILTER_CLIENT_ACCEPT;
	p.timeout_ms = o.timeout_ms;
	p.nodelay = o.nodelay;
	snprintf(qid, sizeof(qid), "4B%010" PRIX64, seq);
	snprintf(name, sizeof(name), "[%s]", o.ip);
	for (i = 0; i < n; i++) {
		if ((mc[i] = milter_client_new(&p)) == NULL ||
		    set_macros(mc[i], m->mail_from, qid) < 0) {
			am_err_set(err, "out of memory");
			goto out;
		}
		if (milter_client_open(mc[i], o.spec[i], err) < 0)
			goto out;
	}
#define EACH(call)                                                             \
	for (i = 0; i < n && !stop; i++) {                                     \
		if ((call) < 0)                                                \
			goto out;                                              \
		if (!goes_on(&r)) {                                            \
			out->verdict = (int)r.verdict;                         \
			stop = true;                                           \
		}                                                              \
	}
	EACH(milter_client_connect(mc[i], name, o.ip, 25, &r, err));
	EACH(milter_client_helo(mc[i], o.helo, &r, err));
	argv[0] = m->mail_from;
	EACH(milter_client_mail(mc[i], argv, &r, err));
	argv[0] = o.rcpt;
	EACH(milter_client_rcpt(mc[i], argv, &r, err));
	EACH(milter_client_data(mc[i], &r, err));
#undef EACH
	/* The message, filter after filter, each seeing the edits before. */
	for (i = 0; i < n && !stop; i++) {
		const struct field *f = i == 0 ? m->fields : h.f;
		size_t              nf = i == 0 ? m->nfields : h.n;

		for (k = 0; k < nf && !stop; k++) {
			if (milter_client_header(
				mc[i], f[k].name, f[k].value, &r, err) < 0)
				goto out;
			stop = !goes_on(&r);
		}
		if (!stop && milter_client_eoh(mc[i], &r, err) < 0)
			goto out;
		stop = stop || !goes_on(&r);
		if (!stop &&
		    milter_client_body(mc[i], body, body_len, &r, err) < 0)
			goto out;
		stop = stop || !goes_on(&r);
		t_eom = now_s();
		if (!stop && milter_client_eom(mc[i], &r, err) < 0)
			goto out;
		out->eom_ms = (now_s() - t_eom) * 1000.0;
		if (stop || (r.verdict != MILTER_CLIENT_ACCEPT &&
				r.verdict != MILTER_CLIENT_CONTINUE)) {
			out->verdict = (int)r.verdict;
			stop = true;
		}
		note_actions(mc[i], out);
		if (i + 1 < n && !stop) {
			if (i == 0)
				for (k = 0; k < m->nfields; k++)
					hdrs_insert(&h, h.n, m->fields[k].name,
					    m->fields[k].value[0] == ' '
						? m->fields[k].value + 1
						: m->fields[k].value);
			hdrs_apply(&h, mc[i]);
		}
	}
	for (i = 0; i < n; i++)
		if (milter_client_quit(mc[i], err) < 0)
			goto out;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		milter_client_free(mc[i]);
	hdrs_free(&h);
	return rc;
}

/* ---- the load ---- */

static bool
claim(bool measure)
{
	uint64_t limit = measure ? o.count : o.warmup;

	if (measure && o.seconds > 0)
		return now_s() < deadline;
	return atomic_fetch_add(&claimed, 1) < limit;
}

static void
run_phase(struct worker *w, bool measure)
{
	struct outcome    out;
	struct am_err     err;
	double            t0, ms;
	uint64_t          seq;
	const struct msg *m;
	size_t            k;

	while (claim(measure)) {
		seq = atomic_fetch_add(&next_msg, 1);
		m = &corpus[seq % ncorpus];
		t0 = now_s();
		err.msg[0] = '\0';
		if (transaction(m, m->body, m->body_len, seq, &out, &err) < 0) {
			out.verdict = MB_NVERDICTS - 1;
			if (measure) {
				w->errors++;
				w->last_err = err;
			}
		}
		ms = (now_s() - t0) * 1000.0;
		if (!measure)
			continue;
		if (w->nlat == w->lat_cap) {
			w->lat_cap = w->lat_cap ? 2 * w->lat_cap : 1024;
			w->lat = realloc(w->lat, w->lat_cap * sizeof(double));
			w->eom = realloc(w->eom, w->lat_cap * sizeof(double));
			if (w->lat == NULL || w->eom == NULL)
				die("%s", "out of memory");
		}
		w->eom[w->nlat] = out.eom_ms;
		w->lat[w->nlat++] = ms;
		w->verdicts[out.verdict]++;
		w->edits += out.edited;
		for (k = 0; k < o.nmatch; k++)
			w->matches[k] += out.matched[k];
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	run_phase(w, false);
	pthread_barrier_wait(&barrier); /* warm-up done */
	pthread_barrier_wait(&barrier); /* counters read */
	run_phase(w, true);
	return NULL;
}

/* ---- /proc ---- */

/* utime + stime in clock ticks, or 0 when unreadable. */
static uint64_t
proc_cpu(pid_t pid)
{
	char               path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE              *fp;
	size_t             n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* after "pid (comm) ", fields 3.. : state is 3, utime 14, stime 15 */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		&st) != 2)
		return 0;
	return ut + st;
}

/* A "Vm...:  N kB" line of /proc/PID/status, in kB. */
static uint64_t
proc_kb(pid_t pid, const char *key)
{
	char               path[64], line[256];
	unsigned long long v = 0;
	size_t             kl = strlen(key);
	FILE              *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			sscanf(line + kl + 1, "%llu", &v);
			break;
		}
	fclose(fp);
	return v;
}

static uint64_t
sum_cpu(void)
{
	uint64_t s = 0;
	size_t   i;

	for (i = 0; i < o.npid; i++)
		s += proc_cpu(o.pid[i]);
	return s;
}

static uint64_t
sum_kb(const char *key)
{
	uint64_t s = 0;
	size_t   i;

	for (i = 0; i < o.npid; i++)
		s += proc_kb(o.pid[i], key);
	return s;
}

/* ---- the big-body test ---- */

static atomic_bool      sampling;
static _Atomic uint64_t rss_max;

static void *
sampler(void *arg)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	uint64_t        v;

	(void)arg;
	while (atomic_load(&sampling)) {
		v = sum_kb("VmRSS");
		if (v > atomic_load(&rss_max))
			atomic_store(&rss_max, v);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int
big_test(void)
{
	struct outcome out;
	struct am_err  err = {{0}};
	pthread_t      th;
	char          *body;
	size_t         i, line = 78; /* 76 characters + CRLF */
	uint64_t       before, hwm_before, after;
	double         t0, secs;

	if (o.big < line)
		o.big = line;
	body = xmalloc(o.big);
	for (i = 0; i + line <= o.big; i += line) {
		memset(body + i, 'a' + (char)((i / line) % 26), line - 2);
		body[i + line - 2] = '\r';
		body[i + line - 1] = '\n';
	}
	o.big = i;
	/* one small message first so the filter is past its start-up */
	if (transaction(&corpus[0], corpus[0].body, corpus[0].body_len, 0, &out,
		&err) < 0)
		die("first message: %s", err.msg);
	before = sum_kb("VmRSS");
	hwm_before = sum_kb("VmHWM");
	atomic_store(&rss_max, before);
	atomic_store(&sampling, true);
	if (pthread_create(&th, NULL, sampler, NULL) != 0)
		die("%s", "pthread_create failed");
	t0 = now_s();
	if (transaction(&corpus[0], body, o.big, 1, &out, &err) < 0)
		die("big message: %s", err.msg);
	secs = now_s() - t0;
	atomic_store(&sampling, false);
	pthread_join(th, NULL);
	after = sum_kb("VmRSS");
	fprintf(stderr,
	    "milterbench: %s: one %" PRIu64 "-byte body in %.2f s (%.0f MB/s), "
	    "verdict %s; filter VmRSS %" PRIu64 " kB before, %" PRIu64
	    " kB at most during, %" PRIu64 " kB after (VmHWM %" PRIu64
	    " -> %" PRIu64 " kB)\n",
	    o.label, o.big, secs, (double)o.big / secs / 1e6,
	    milter_client_verdict_name(out.verdict), before,
	    atomic_load(&rss_max), after, hwm_before, sum_kb("VmHWM"));
	printf("RESULT label=%s big=%" PRIu64 " secs=%.3f verdict=%s "
	       "rss_before_kb=%" PRIu64 " rss_max_kb=%" PRIu64
	       " rss_after_kb=%" PRIu64 " growth_kb=%" PRId64 "\n",
	    o.label, o.big, secs, milter_client_verdict_name(out.verdict),
	    before, atomic_load(&rss_max), after,
	    (int64_t)atomic_load(&rss_max) - (int64_t)before);
	free(body);
	return 0;
}

/* ---- main ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static const char *
verdict_name(int v)
{
	return v == MB_NVERDICTS - 1 ? "error" : milter_client_verdict_name(v);
}

static uint64_t
parse_num(const char *s, const char *what)
{
	char              *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		die("bad number for %s", what);
	return v;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: milterbench -s SPEC [-s SPEC ...] -i INDEX [-c N] "
	    "[-n N | -t SECONDS] [-w N]\n"
	    "       [-p PID ...] [-a IP] [-H HELO] [-r RCPT] [-A USER] "
	    "[-m TEXT ...] [-b BYTES]\n"
	    "       [-l LABEL] [-T SECONDS] [-N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct worker *w;
	double        *all, *eom, t0, secs;
	uint64_t       cpu0, cpu1, self0, self1, verdicts[MB_NVERDICTS] = {0};
	uint64_t       edits = 0, errors = 0, matches[MB_MAX_MATCH] = {0};
	size_t         nall = 0, i, k;
	long           hz = sysconf(_SC_CLK_TCK);
	char          *end;
	int            c;

	o.conc = 1;
	o.count = 1000;
	o.warmup = 100;
	o.ip = "192.0.2.1";
	o.helo = "mail.client.test";
	o.rcpt = "<postmaster@mx.bench.test>";
	o.label = "run";
	o.timeout_ms = 30000;
	while (
	    (c = getopt(argc, argv, "A:a:b:c:H:i:l:m:Nn:p:r:s:T:t:w:")) != -1) {
		switch (c) {
		case 'A':
			o.auth = optarg;
			break;
		case 'a':
			o.ip = optarg;
			break;
		case 'b':
			o.big = parse_num(optarg, "-b");
			break;
		case 'c':
			o.conc = (unsigned)parse_num(optarg, "-c");
			if (o.conc == 0 || o.conc > MB_MAX_THREADS)
				die("-c %s: 1 to 1024", optarg);
			break;
		case 'H':
			o.helo = optarg;
			break;
		case 'i':
			o.index = optarg;
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'm':
			if (o.nmatch == MB_MAX_MATCH)
				die("%s", "at most 4 -m");
			o.match[o.nmatch++] = optarg;
			break;
		case 'N':
			o.nodelay = true;
			break;
		case 'n':
			o.count = parse_num(optarg, "-n");
			break;
		case 'p':
			if (o.npid == MB_MAX_PIDS)
				die("%s", "at most 8 -p");
			o.pid[o.npid++] = (pid_t)parse_num(optarg, "-p");
			break;
		case 'r':
			o.rcpt = optarg;
			break;
		case 's':
			if (o.nspec == MB_MAX_FILTERS)
				die("%s", "at most 4 -s");
			o.spec[o.nspec++] = optarg;
			break;
		case 'T':
			o.timeout_ms = (unsigned)(strtod(optarg, &end) * 1000);
			if (*end != '\0' || o.timeout_ms == 0)
				die("bad -T %s", optarg);
			break;
		case 't':
			o.seconds = strtod(optarg, &end);
			if (*end != '\0' || !(o.seconds > 0))
				die("bad -t %s", optarg);
			break;
		case 'w':
			o.warmup = parse_num(optarg, "-w");
			break;
		default:
			usage();
		}
	}
	if (o.nspec == 0 || o.index == NULL || optind != argc)
		usage();
	load_corpus(o.index);
	if (o.big > 0)
		return big_test();

	w = calloc(o.conc, sizeof(*w));
	if (w == NULL || pthread_barrier_init(&barrier, NULL, o.conc + 1) != 0)
		die("%s", "out of memory");
	for (i = 0; i < o.conc; i++) {
		w[i].id = (unsigned)i;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			die("%s", "pthread_create failed");
	}
	pthread_barrier_wait(&barrier); /* warm-up done */
	atomic_store(&claimed, 0);
	cpu0 = sum_cpu();
	self0 = proc_cpu(getpid());
	t0 = now_s();
	deadline = t0 + o.seconds;
	pthread_barrier_wait(&barrier);
	for (i = 0; i < o.conc; i++)
		pthread_join(w[i].th, NULL);
	secs = now_s() - t0;
	cpu1 = sum_cpu();
	self1 = proc_cpu(getpid());

	for (i = 0; i < o.conc; i++)
		nall += w[i].nlat;
	all = xmalloc(nall * sizeof(double));
	eom = xmalloc(nall * sizeof(double));
	nall = 0;
	for (i = 0; i < o.conc; i++) {
		memcpy(all + nall, w[i].lat, w[i].nlat * sizeof(double));
		memcpy(eom + nall, w[i].eom, w[i].nlat * sizeof(double));
		nall += w[i].nlat;
		for (k = 0; k < MB_NVERDICTS; k++)
			verdicts[k] += w[i].verdicts[k];
		for (k = 0; k < o.nmatch; k++)
			matches[k] += w[i].matches[k];
		edits += w[i].edits;
		errors += w[i].errors;
		if (w[i].errors > 0)
			fprintf(stderr,
			    "milterbench: thread %zu: %" PRIu64
			    " errors, last: %s\n",
			    i, w[i].errors, w[i].last_err.msg);
	}
	qsort(all, nall, sizeof(double), cmp_double);
	qsort(eom, nall, sizeof(double), cmp_double);

	printf("RESULT label=%s c=%u msgs=%zu secs=%.3f rate=%.1f p50=%.3f "
	       "p90=%.3f p99=%.3f max=%.3f cpu_ms=%.3f rss_kb=%" PRIu64
	       " hwm_kb=%" PRIu64 " errors=%" PRIu64 " edits=%" PRIu64,
	    o.label, o.conc, nall, secs, secs > 0 ? (double)nall / secs : 0,
	    pct(all, nall, 0.5), pct(all, nall, 0.9), pct(all, nall, 0.99),
	    nall ? all[nall - 1] : 0,
	    nall && o.npid
		? (double)(cpu1 - cpu0) * 1000.0 / (double)hz / (double)nall
		: 0,
	    sum_kb("VmRSS"), sum_kb("VmHWM"), errors, edits);
	printf(" eom_p50=%.3f eom_p99=%.3f gen_cpu_ms=%.3f",
	    pct(eom, nall, 0.5), pct(eom, nall, 0.99),
	    nall ? (double)(self1 - self0) * 1000.0 / (double)hz / (double)nall
		 : 0);
	for (k = 0; k < o.nmatch; k++)
		printf(" m%zu=%" PRIu64, k + 1, matches[k]);
	printf(" replies=");
	for (k = 0, c = 0; k < MB_NVERDICTS; k++)
		if (verdicts[k] > 0)
			printf("%s%s:%" PRIu64, c++ ? "," : "",
			    verdict_name((int)k), verdicts[k]);
	printf("\n");
	fprintf(stderr,
	    "milterbench: %s: %zu msgs in %.2f s at C=%u: %.0f msg/s, latency "
	    "p50 %.2f p90 %.2f p99 %.2f max %.2f ms, filter CPU %.3f ms/msg, "
	    "errors %" PRIu64 "\n",
	    o.label, nall, secs, o.conc, secs > 0 ? (double)nall / secs : 0,
	    pct(all, nall, 0.5), pct(all, nall, 0.9), pct(all, nall, 0.99),
	    nall ? all[nall - 1] : 0,
	    nall && o.npid
		? (double)(cpu1 - cpu0) * 1000.0 / (double)hz / (double)nall
		: 0,
	    errors);
	fflush(stdout);
	_exit(errors > 0 && errors == nall ? 1 : 0);
}
