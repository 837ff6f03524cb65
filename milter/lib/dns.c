/*
 * dns: asynchronous lookups over one libunbound context (see dns.h).
 *
 * Shape. dns_new() builds one ub_ctx in thread mode (ub_ctx_async(ctx, 1):
 * libunbound's worker is a thread of ours, so the cache is shared) and starts
 * one dispatcher thread that polls ub_fd() and a self-pipe and calls
 * ub_process(), which runs our callback for each answer. A query's owner
 * blocks in dns_wait() on the query's condition variable, with the
 * query's own deadline.
 *
 * Ownership of a query in flight. libunbound holds a pointer to the query
 * (its callback argument) from ub_resolve_async() until the callback has
 * run, or until ub_cancel() returns UB_NOERROR, after which libunbound
 * promises never to call it (libunbound.c: ub_cancel marks the query
 * cancelled under its lock, and process_answer_detail() drops the callback
 * of a cancelled query under the same lock; a query already answered is no
 * longer found and ub_cancel returns UB_NOID). We record that in in_ub, under
 * dns->mu. The owner's dns_query_free() sets abandoned. A query is freed
 * by whoever sees both abandoned and !in_ub first: the owner, or the
 * callback. ub_cancel() is called with dns->mu held, so the id it is given
 * is known to be live; that cannot deadlock, because libunbound calls
 * our callback without holding any of its own locks, and holds its cfglock
 * only for short non-blocking work.
 *
 * What is left at dns_free(): queries abandoned while libunbound still held
 * them. ub_ctx_delete() stops the worker without calling callbacks, so after
 * it those queries are ours alone and are freed from dns->queries.
 *
 * The answer cache. Even an answer from libunbound's own cache travels
 * through its pipe to its worker thread and back to our dispatcher, then
 * wakes the owner: some 20 system calls and three thread switches per
 * lookup, more than the rest of a message's checks cost. So final answers
 * (records, NXDOMAIN, NODATA; never a temporary failure) are also kept
 * here, for the TTL libunbound reports (at most DNS_CACHE_MAX_TTL), and a
 * hit is answered in dns_start() itself, in the caller's thread. The table
 * is set-associative (DNS_CACHE_SETS sets of DNS_CACHE_WAYS entries); a new
 * entry takes an expired slot or the one that expires first, and an answer
 * over DNS_CACHE_MAX_ENTRY bytes is not kept, so memory stays bounded.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "deadline.h"
#include "dns.h"
#include "str.h"

/* RFC 1035 3.1: a name is at most 255 octets in wire form, labels 63. */
#define DNS_MAX_WIRE_NAME 255
#define DNS_MAX_LABEL     63
/* A deadline beyond an hour is a configuration mistake; it also keeps the
 * timespec arithmetic far from overflow. */
#define DNS_MAX_TIMEOUT 3600.0
/* Room for why: "resolver: " and ub_strerror()'s longest text. */
#define DNS_WHY_MAX 80
/* An escaped name for ub_resolve_async(): each octet at most "\DDD". */
#define DNS_ESC_MAX (DNS_MAX_NAME * 4 + 2)
/* The answer cache: 4096 entries of at most 8 KiB of stored record bytes
 * each, a TXT record counting twice (joined and as published): 32 MiB in
 * the worst case; SPF, DKIM key and DMARC answers are far smaller. */
#define DNS_CACHE_SETS      1024
#define DNS_CACHE_WAYS      4
#define DNS_CACHE_MAX_ENTRY 8192
#define DNS_CACHE_MAX_TTL   3600

#define RCODE_NOERROR  0
#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED  5

/* One cached answer: status OK (with records), NXDOMAIN or NODATA. */
struct cache_entry {
	char  *key;     /* type octet, then the lower-case name; NULL: free */
	time_t expires; /* CLOCK_MONOTONIC seconds */
	struct dns_answer ans; /* why is "" */
};

struct dns {
	struct ub_ctx      *ctx;
	double              timeout;
	pthread_t           thread;
	bool                thread_started;
	int                 wake[2]; /* self-pipe: a byte means "stop" */
	pthread_mutex_t     mu;      /* guards everything below and queries */
	pthread_condattr_t  condattr;
	struct dns_query   *queries; /* all live queries, for dns_free() */
	int                 broken;  /* ub_process() failed: its error */
	atomic_ulong        started;
	atomic_bool         bg_masked; /* libunbound's thread exists */
	pthread_mutex_t     cache_mu;  /* guards cache */
	struct cache_entry *cache;     /* NULL: no cache (dns_params.nocache) */
	atomic_ulong        cache_hits;
};

struct dns_query {
	struct dns       *dns;
	struct dns_query *prev, *next; /* dns->queries */
	char             *name;
	enum dns_type     type;
	int               async_id;
	bool              in_ub;     /* libunbound may still call back */
	bool              done;      /* ans is final */
	bool              abandoned; /* the owner has freed it */
	struct timespec   deadline;  /* CLOCK_MONOTONIC */
	pthread_cond_t    cond;
	struct dns_answer ans;
	char              why[DNS_WHY_MAX];
	/* dns_query_notify(): the waiter and its list, under dns->mu. */
	struct dns_waiter *waiter;
	struct dns_query  *wprev, *wnext;
};

/* See dns_waiter_wait(): fired counts completions of attached queries,
 * seen what the owner has been told of; both under dns->mu. */
struct dns_waiter {
	struct dns       *dns;
	pthread_cond_t    cond;
	struct dns_query *queries;
	unsigned long     fired, seen;
};

/* What dns_lookup() hands out: the answer first, so one free() does. */
struct dns_answer_copy {
	struct dns_answer ans;
	char              why[DNS_WHY_MAX];
};

static void
rrs_free(struct dns_rr *rr, size_t n)
{
	size_t i;

	if (rr == NULL)
		return;
	for (i = 0; i < n; i++)
		free(rr[i].data);
	free(rr);
}

/*
 * Rdata parsing. libunbound hands each record's rdata without its length
 * field and with names decompressed (RFC 1035 4.1.4 pointers resolved), so
 * a pointer here is malformed.
 */

/* Converts the wire name at p (at most len octets) into dotted text in out
 * (DNS_MAX_NAME + 1 bytes). Returns the octets the name used, or 0 when
 * it is malformed. The root name is "". */
static size_t
wire_name(const unsigned char *p, size_t len, char *out, size_t *outlen_r)
{
	size_t pos = 0, o = 0, l, i;

	for (;;) {
		if (pos >= len)
			return 0;
		l = p[pos];
		if (l == 0)
			break;
		/* 0xc0: a compression pointer; 0x40, 0x80: RFC 6891
		 * extended label types. None belongs in libunbound's rdata. */
		if (l > DNS_MAX_LABEL)
			return 0;
		if (l > len - pos - 1)
			return 0;
		/* pos + 1 + l + the root octet must stay within 255. */
		if (pos + 1 + l + 1 > DNS_MAX_WIRE_NAME)
			return 0;
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < l; i++) {
			unsigned char c = p[pos + 1 + i];

			/* A '.' inside a label, or a byte a reader could
			 * take for something else, makes the text ambiguous:
			 * the record is refused rather than escaped, since
			 * no mail host needs one. */
			if (c <= 0x20 || c >= 0x7f || c == '.')
				return 0;
			out[o++] = (char)c;
		}
		pos += 1 + l;
	}
	out[o] = '\0';
	*outlen_r = o;
	return pos + 1;
}

static int
rr_set_name(
    const unsigned char *p, size_t len, unsigned short pref, struct dns_rr *rr)
{
	char   text[DNS_MAX_NAME + 1];
	size_t tlen = 0, used;
	char  *d;

	used = wire_name(p, len, text, &tlen);
	if (used == 0 || used != len)
		return -1;
	if ((d = malloc(tlen + 1)) == NULL)
		return -2;
	memcpy(d, text, tlen + 1);
	rr->data = d;
	rr->len = tlen;
	rr->wire_len = 0;
	rr->pref = pref;
	return 0;
}

/* RFC 1035 3.3.14: TXT-DATA is one or more <character-string>s, each a
 * length octet and that many octets. They are joined without separator
 * (RFC 7208 3.3, RFC 6376 3.6.2.2); the rdata as it came follows the
 * joined text's NUL, for dns_txt_string(). */
static int
rr_set_txt(const unsigned char *p, size_t len, struct dns_rr *rr)
{
	size_t pos = 0, o = 0, l;
	char  *d;

	if (len == 0)
		return -1;
	for (pos = 0; pos < len; pos += 1 + l) {
		l = p[pos];
		if (l > len - pos - 1)
			return -1;
		o += l;
	}
	if ((d = malloc(o + 1 + len)) == NULL)
		return -2;
	o = 0;
	for (pos = 0; pos < len; pos += 1 + l) {
		l = p[pos];
		memcpy(d + o, p + pos + 1, l);
		o += l;
	}
	d[o] = '\0';
	memcpy(d + o + 1, p, len);
	rr->data = d;
	rr->len = o;
	rr->wire_len = len;
	rr->pref = 0;
	return 0;
}

bool
dns_txt_string(const struct dns_rr *rr, size_t i, const char **s, size_t *len)
{
	const unsigned char *w = (const unsigned char *)rr->data + rr->len + 1;
	size_t               pos;

	if (rr->wire_len == 0) {
		*s = rr->data;
		*len = rr->len;
		return i == 0;
	}
	/* rr_set_txt() checked every length. */
	for (pos = 0; pos < rr->wire_len; pos += 1 + w[pos]) {
		if (i-- == 0) {
			*s = (const char *)w + pos + 1;
			*len = w[pos];
			return true;
		}
	}
	return false;
}

static int
rr_set_addr(const unsigned char *p, size_t len, size_t want, struct dns_rr *rr)
{
	char *d;

	if (len != want)
		return -1;
	if ((d = malloc(len + 1)) == NULL)
		return -2;
	memcpy(d, p, len);
	d[len] = '\0';
	rr->data = d;
	rr->len = len;
	rr->wire_len = 0;
	rr->pref = 0;
	return 0;
}

int
dns_rdata_parse(
    enum dns_type type, const unsigned char *p, size_t len, struct dns_rr *rr)
{
	if (p == NULL && len > 0)
		return -1;
	switch (type) {
	case DNS_T_A:
		return rr_set_addr(p, len, 4, rr);
	case DNS_T_AAAA:
		return rr_set_addr(p, len, 16, rr);
	case DNS_T_TXT:
		return rr_set_txt(p, len, rr);
	case DNS_T_MX:
		/* RFC 1035 3.3.9: PREFERENCE (16 bits), EXCHANGE. */
		if (len < 3)
			return -1;
		return rr_set_name(
		    p + 2, len - 2, (unsigned short)((p[0] << 8) | p[1]), rr);
	case DNS_T_PTR:
		return rr_set_name(p, len, 0, rr);
	}
	return -1;
}

bool
dns_name_valid(const char *name)
{
	size_t n, i, label = 0;

	if (name == NULL)
		return false;
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	/* RFC 1035 2.3.4: 255 octets in wire form are 253 in text. */
	if (n == 0 || n > DNS_MAX_NAME)
		return false;
	for (i = 0; i < n; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > DNS_MAX_LABEL)
			return false;
	}
	return label > 0;
}

/* Writes name in the presentation format ub_resolve_async() parses: our
 * names take every octet literally, so '\' and octets that are not
 * printable become "\DDD". The result is absolute (trailing dot). */
static void
name_escape(const char *name, char *out, size_t outsize)
{
	size_t n = strlen(name), o = 0, i;

	if (n > 0 && name[n - 1] == '.')
		n--;
	for (i = 0; i < n && o + 5 < outsize; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '\\' || c <= 0x20 || c >= 0x7f || c == '"' ||
		    c == ';' || c == '(' || c == ')' || c == '@' || c == '$') {
			snprintf(out + o, outsize - o, "\\%03u", c);
			o += 4;
		} else
			out[o++] = (char)c;
	}
	out[o++] = '.';
	out[o] = '\0';
}

/*
 * Answers.
 */

static void
answer_tempfail(struct dns_answer *a, char *why, const char *text)
{
	rrs_free(a->rr, a->n);
	a->rr = NULL;
	a->n = 0;
	a->status = DNS_TEMPFAIL;
	str_lcpy(why, text, DNS_WHY_MAX);
	a->why = why;
}

/* Copies the records of res into a, within DNS_MAX_RRS and DNS_MAX_ANSWER
 * (RFC 1035 gives no limit a resolver would enforce; ours keep a hostile
 * zone from making us copy megabytes per lookup). */
static void
answer_records(struct dns_answer *a, char *why, enum dns_type type,
    const struct ub_result *res)
{
	size_t count = 0, total = 0, i, cap;
	int    r;

	while (res->data[count] != NULL)
		count++;
	cap = count < DNS_MAX_RRS ? count : DNS_MAX_RRS;
	if (cap == 0) {
		a->status = DNS_NODATA;
		return;
	}
	if ((a->rr = calloc(cap, sizeof(*a->rr))) == NULL) {
		answer_tempfail(a, why, "out of memory");
		return;
	}
	for (i = 0; i < count; i++) {
		struct dns_rr rr;

		if (res->len[i] < 0)
			continue;
		if (a->n == cap) {
			a->truncated = true;
			break;
		}
		r = dns_rdata_parse(type, (const unsigned char *)res->data[i],
		    (size_t)res->len[i], &rr);
		if (r == -2) {
			answer_tempfail(a, why, "out of memory");
			return;
		}
		if (r != 0)
			continue;
		if (rr.len > DNS_MAX_ANSWER - total) {
			free(rr.data);
			a->truncated = true;
			break;
		}
		total += rr.len;
		a->rr[a->n++] = rr;
	}
	/* Records were there but none could be read: not "no such record",
	 * which would let a broken zone pass for an empty one. */
	if (a->n == 0) {
		answer_tempfail(a, why, "malformed answer");
		return;
	}
	a->status = DNS_OK;
}

/* Fills a from libunbound's answer (err, res). */
static void
answer_from_result(struct dns_answer *a, char *why, enum dns_type type, int err,
    const struct ub_result *res)
{
	char text[DNS_WHY_MAX];

	memset(a, 0, sizeof(*a));
	why[0] = '\0';
	a->why = why;
	if (err != 0 || res == NULL) {
		snprintf(text, sizeof(text), "resolver: %s", ub_strerror(err));
		answer_tempfail(a, why, text);
		return;
	}
	a->secure = res->secure != 0;
	a->bogus = res->bogus != 0;
	/* A validation failure is temporary (RFC 7208 5; RFC 9989 uses the
	 * same rule): the signed data may be fixed or the chain repaired. */
	if (a->bogus) {
		answer_tempfail(a, why, "DNSSEC bogus");
		return;
	}
	switch (res->rcode) {
	case RCODE_NOERROR:
		if (res->havedata && res->data != NULL && res->len != NULL)
			answer_records(a, why, type, res);
		else
			a->status = DNS_NODATA;
		break;
	case RCODE_NXDOMAIN:
		a->status = DNS_NXDOMAIN;
		break;
	case RCODE_SERVFAIL:
		answer_tempfail(a, why, "SERVFAIL");
		break;
	case RCODE_REFUSED:
		answer_tempfail(a, why, "REFUSED");
		break;
	default:
		snprintf(text, sizeof(text), "rcode %d", res->rcode);
		answer_tempfail(a, why, text);
		break;
	}
}

/*
 * The answer cache (see the top of the file).
 */

static time_t
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Writes the key of (name, type), a valid name, into key (DNS_MAX_NAME + 2
 * bytes): the type's octet (never 0), then the name in lower case without
 * its trailing dot. Returns the set it belongs to. */
static size_t
cache_key(const char *name, enum dns_type type, char *key)
{
	size_t   n = strlen(name), i;
	uint32_t h = 2166136261u; /* FNV-1a */

	if (n > 0 && name[n - 1] == '.')
		n--;
	key[0] = (char)type;
	for (i = 0; i < n; i++)
		key[1 + i] = (char)str_tolower((unsigned char)name[i]);
	key[1 + n] = '\0';
	for (i = 0; i <= n; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h % DNS_CACHE_SETS;
}

/* Copies status, flags and records of src into dst (whose why stays).
 * Returns false, dst holding no records, when out of memory. */
static bool
answer_copy(struct dns_answer *dst, const struct dns_answer *src)
{
	size_t i;

	dst->status = src->status;
	dst->secure = src->secure;
	dst->bogus = src->bogus;
	dst->truncated = src->truncated;
	dst->rr = NULL;
	dst->n = 0;
	if (src->n == 0)
		return true;
	if ((dst->rr = calloc(src->n, sizeof(*dst->rr))) == NULL)
		return false;
	for (i = 0; i < src->n; i++) {
		const struct dns_rr *r = &src->rr[i];

		if ((dst->rr[i].data = malloc(r->len + 1 + r->wire_len)) ==
		    NULL) {
			rrs_free(dst->rr, i);
			dst->rr = NULL;
			return false;
		}
		memcpy(dst->rr[i].data, r->data, r->len + 1 + r->wire_len);
		dst->rr[i].len = r->len;
		dst->rr[i].wire_len = r->wire_len;
		dst->rr[i].pref = r->pref;
	}
	dst->n = src->n;
	return true;
}

/* Fills a (its why left as is) from the cache. True on a hit. */
static bool
cache_get(
    struct dns *d, const char *name, enum dns_type type, struct dns_answer *a)
{
	char                key[DNS_MAX_NAME + 2];
	struct cache_entry *set;
	time_t              now = mono_seconds();
	size_t              i;
	bool                hit = false;

	if (d->cache == NULL)
		return false;
	set = d->cache + cache_key(name, type, key) * DNS_CACHE_WAYS;
	pthread_mutex_lock(&d->cache_mu);
	for (i = 0; i < DNS_CACHE_WAYS; i++)
		if (set[i].key != NULL && set[i].expires > now &&
		    strcmp(set[i].key, key) == 0) {
			hit = answer_copy(a, &set[i].ans);
			break;
		}
	pthread_mutex_unlock(&d->cache_mu);
	if (hit)
		atomic_fetch_add(&d->cache_hits, 1);
	return hit;
}

/* Keeps a final answer for ttl seconds. Out of memory: not kept. */
static void
cache_put(struct dns *d, const char *name, enum dns_type type,
    const struct dns_answer *a, int ttl)
{
	struct cache_entry e = {0}, old, *set, *slot = NULL;
	char               key[DNS_MAX_NAME + 2];
	size_t             i, bytes = 0;

	if (d->cache == NULL || ttl <= 0 ||
	    (a->status != DNS_OK && a->status != DNS_NXDOMAIN &&
		a->status != DNS_NODATA))
		return;
	for (i = 0; i < a->n; i++)
		bytes += a->rr[i].len + a->rr[i].wire_len;
	if (bytes > DNS_CACHE_MAX_ENTRY)
		return;
	set = d->cache + cache_key(name, type, key) * DNS_CACHE_WAYS;
	e.expires = mono_seconds() +
		    (ttl < DNS_CACHE_MAX_TTL ? ttl : DNS_CACHE_MAX_TTL);
	e.ans.why = "";
	if ((e.key = strdup(key)) == NULL)
		return;
	if (!answer_copy(&e.ans, a)) {
		free(e.key);
		return;
	}
	pthread_mutex_lock(&d->cache_mu);
	/* The same key, else a free slot (slots fill in order and are never
	 * emptied, so the key would come first), else the one that expires
	 * first: an expired one expires before any live one. */
	for (i = 0; i < DNS_CACHE_WAYS; i++) {
		if (set[i].key == NULL || strcmp(set[i].key, key) == 0) {
			slot = &set[i];
			break;
		}
		if (slot == NULL || set[i].expires < slot->expires)
			slot = &set[i];
	}
	old = *slot;
	*slot = e;
	pthread_mutex_unlock(&d->cache_mu);
	free(old.key);
	rrs_free(old.ans.rr, old.ans.n);
}

/*
 * Queries.
 */

static void
query_unlink(struct dns_query *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->dns->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

static void
query_destroy(struct dns_query *q)
{
	rrs_free(q->ans.rr, q->ans.n);
	pthread_cond_destroy(&q->cond);
	free(q->name);
	free(q);
}

/* With d->mu held: q completed; wake its waiter, if any. */
static void
waiter_fire_locked(struct dns_query *q)
{
	if (q->waiter == NULL)
		return;
	q->waiter->fired++;
	pthread_cond_broadcast(&q->waiter->cond);
}

/* With d->mu held: takes q off its waiter's list. */
static void
waiter_detach_locked(struct dns_query *q)
{
	if (q->waiter == NULL)
		return;
	if (q->wprev != NULL)
		q->wprev->wnext = q->wnext;
	else
		q->waiter->queries = q->wnext;
	if (q->wnext != NULL)
		q->wnext->wprev = q->wprev;
	q->wprev = q->wnext = NULL;
	q->waiter = NULL;
}

/* Runs in the dispatcher thread, from ub_process(), without libunbound's
 * locks. */
static void
query_cb(void *arg, int err, struct ub_result *res)
{
	struct dns_query *q = arg;
	struct dns       *d = q->dns;
	struct dns_answer a;
	char              why[DNS_WHY_MAX];
	bool              gone;

	/* q->type is constant, and q cannot be freed while in_ub is set. */
	answer_from_result(&a, why, q->type, err, res);
	if (res != NULL)
		cache_put(d, q->name, q->type, &a, res->ttl);
	ub_resolve_free(res);

	pthread_mutex_lock(&d->mu);
	q->in_ub = false;
	if (!q->done) {
		q->ans = a;
		str_lcpy(q->why, why, sizeof(q->why));
		q->ans.why = q->why;
		a.rr = NULL;
		a.n = 0;
		q->done = true;
		/* Under the lock: the owner may free q as soon as it wakes. */
		pthread_cond_broadcast(&q->cond);
		waiter_fire_locked(q);
	}
	gone = q->abandoned;
	if (gone)
		query_unlink(q);
	pthread_mutex_unlock(&d->mu);

	rrs_free(a.rr, a.n);
	if (gone)
		query_destroy(q);
}

/* With d->mu held: tells libunbound to forget q. True when it will not call
 * back (it may still be resolving the name, for its cache). */
static bool
query_cancel_locked(struct dns_query *q)
{
	if (!q->in_ub)
		return true;
	if (ub_cancel(q->dns->ctx, q->async_id) == 0)
		q->in_ub = false;
	return !q->in_ub;
}

struct dns_query *
dns_start(struct dns *d, const char *name, enum dns_type type)
{
	struct dns_query *q;
	char              esc[DNS_ESC_MAX];
	sigset_t          all, old;
	bool              mask;
	int               r, id = 0;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->name = strdup(name)) == NULL) {
		free(q);
		return NULL;
	}
	if (pthread_cond_init(&q->cond, &d->condattr) != 0) {
		free(q->name);
		free(q);
		return NULL;
	}
	q->dns = d;
	q->type = type;
	q->ans.why = q->why;
	deadline_in(&q->deadline, d->timeout);

	if (!dns_name_valid(name)) {
		q->ans.status = DNS_BADNAME;
		q->done = true;
	} else if (cache_get(d, name, type, &q->ans))
		q->done = true;
	pthread_mutex_lock(&d->mu);
	if (!q->done && d->broken != 0) {
		char text[DNS_WHY_MAX];

		snprintf(
		    text, sizeof(text), "resolver: %s", ub_strerror(d->broken));
		answer_tempfail(&q->ans, q->why, text);
		q->done = true;
	}
	q->next = d->queries;
	if (d->queries != NULL)
		d->queries->prev = q;
	d->queries = q;
	/* Set before ub_resolve_async(): its callback may run before the
	 * call returns, and it clears in_ub. */
	q->in_ub = !q->done;
	pthread_mutex_unlock(&d->mu);
	if (q->done)
		return q;

	/* libunbound sends the query from its worker thread, which the first
	 * ub_resolve_async() creates and which inherits the caller's signal
	 * mask: block every signal for that call, so the daemon's signals
	 * are never delivered to a thread that does not expect them. */
	mask = !atomic_load(&d->bg_masked);
	if (mask) {
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
	}
	name_escape(name, esc, sizeof(esc));
	/* libunbound writes the id before it hands the query to its worker;
	 * only this thread (the owner's) reads it. */
	r = ub_resolve_async(d->ctx, esc, (int)type, 1, q, query_cb, &id);
	q->async_id = id;
	if (mask) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r == 0)
			atomic_store(&d->bg_masked, true);
	}
	if (r != 0) {
		char text[DNS_WHY_MAX];

		/* No callback will come. */
		snprintf(text, sizeof(text), "resolver: %s", ub_strerror(r));
		pthread_mutex_lock(&d->mu);
		q->in_ub = false;
		answer_tempfail(&q->ans, q->why, text);
		q->done = true;
		pthread_mutex_unlock(&d->mu);
	} else
		atomic_fetch_add(&d->started, 1);
	return q;
}

bool
dns_done(struct dns_query *q)
{
	bool done;

	pthread_mutex_lock(&q->dns->mu);
	done = q->done || deadline_passed(&q->deadline);
	pthread_mutex_unlock(&q->dns->mu);
	return done;
}

const struct dns_answer *
dns_wait(struct dns_query *q)
{
	struct dns *d = q->dns;
	int         r = 0;

	pthread_mutex_lock(&d->mu);
	while (!q->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&q->cond, &d->mu, &q->deadline);
	if (!q->done) {
		answer_tempfail(&q->ans, q->why, "timeout");
		q->done = true;
		/* Stop libunbound from calling back; if the answer is already
		 * on its way, the callback sees done and drops it. */
		(void)query_cancel_locked(q);
	}
	pthread_mutex_unlock(&d->mu);
	return &q->ans;
}

void
dns_query_free(struct dns_query *q)
{
	struct dns *d;
	bool        mine;

	if (q == NULL)
		return;
	d = q->dns;
	pthread_mutex_lock(&d->mu);
	waiter_detach_locked(q);
	q->abandoned = true;
	mine = query_cancel_locked(q);
	if (mine)
		query_unlink(q);
	pthread_mutex_unlock(&d->mu);
	/* Otherwise the callback runs (or is running) and frees q. */
	if (mine)
		query_destroy(q);
}

struct dns_waiter *
dns_waiter_new(struct dns *d)
{
	struct dns_waiter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	if (pthread_cond_init(&w->cond, &d->condattr) != 0) {
		free(w);
		return NULL;
	}
	w->dns = d;
	return w;
}

void
dns_waiter_free(struct dns_waiter *w)
{
	if (w == NULL)
		return;
	/* Queries still attached (a caller's slip) are let go, so no
	 * callback can reach the freed waiter. */
	pthread_mutex_lock(&w->dns->mu);
	while (w->queries != NULL)
		waiter_detach_locked(w->queries);
	pthread_mutex_unlock(&w->dns->mu);
	pthread_cond_destroy(&w->cond);
	free(w);
}

void
dns_query_notify(struct dns_query *q, struct dns_waiter *w)
{
	struct dns *d = q->dns;

	pthread_mutex_lock(&d->mu);
	waiter_detach_locked(q);
	q->waiter = w;
	q->wnext = w->queries;
	if (w->queries != NULL)
		w->queries->wprev = q;
	w->queries = q;
	if (q->done)
		waiter_fire_locked(q);
	pthread_mutex_unlock(&d->mu);
}

bool
dns_waiter_wait(struct dns_waiter *w, const struct timespec *deadline)
{
	struct dns       *d = w->dns;
	struct dns_query *q;
	struct timespec   until;
	bool              have, fired = false;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		/* A query past its own deadline is done now, as dns_wait()
		 * would make it; the earliest other deadline bounds the
		 * sleep. */
		have = deadline != NULL;
		if (have)
			until = *deadline;
		for (q = w->queries; q != NULL; q = q->wnext) {
			if (q->done)
				continue;
			if (deadline_passed(&q->deadline)) {
				answer_tempfail(&q->ans, q->why, "timeout");
				q->done = true;
				(void)query_cancel_locked(q);
				waiter_fire_locked(q);
			} else if (!have ||
				   deadline_before(&q->deadline, &until)) {
				until = q->deadline;
				have = true;
			}
		}
		if (w->fired != w->seen) {
			w->seen = w->fired;
			fired = true;
			break;
		}
		if (!have || (deadline != NULL && deadline_passed(deadline)))
			break;
		(void)pthread_cond_timedwait(&w->cond, &d->mu, &until);
	}
	pthread_mutex_unlock(&d->mu);
	return fired;
}

const char *
dns_query_name(const struct dns_query *q)
{
	return q->name;
}

struct dns_answer *
dns_lookup(struct dns *d, const char *name, enum dns_type type)
{
	struct dns_query        *q;
	struct dns_answer_copy  *c;
	const struct dns_answer *a;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((q = dns_start(d, name, type)) == NULL) {
		free(c);
		return NULL;
	}
	a = dns_wait(q);
	/* The answer is final once dns_wait() returns: nothing else writes
	 * it, so it can be moved out without the lock. */
	c->ans = *a;
	str_lcpy(c->why, a->why, sizeof(c->why));
	c->ans.why = c->why;
	q->ans.rr = NULL;
	q->ans.n = 0;
	dns_query_free(q);
	return &c->ans;
}

void
dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	rrs_free(a->rr, a->n);
	free(a); /* the start of a struct dns_answer_copy */
}

unsigned long
dns_queries_started(const struct dns *d)
{
	return atomic_load(&d->started);
}

int
dns_ub_option(const struct dns *d, const char *opt, char *buf, size_t size)
{
	char *v = NULL;
	int   r;

	if ((r = ub_ctx_get_option(d->ctx, opt, &v)) != 0 || v == NULL)
		return -1;
	r = str_lcpy(buf, v, size) < size ? 0 : -1;
	free(v);
	return r;
}

unsigned long
dns_cache_hits(const struct dns *d)
{
	return atomic_load(&d->cache_hits);
}

const char *
dns_status_str(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_NODATA:
		return "nodata";
	case DNS_TEMPFAIL:
		return "tempfail";
	case DNS_BADNAME:
		return "badname";
	}
	return "unknown";
}

/*
 * The resolver and its dispatcher thread.
 */

static void *
dispatcher(void *arg)
{
	struct dns   *d = arg;
	struct pollfd pfd[2];
	nfds_t        nfds = 2;
	int           r;

	pfd[0].fd = d->wake[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = ub_fd(d->ctx);
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents != 0)
			break;
		if (nfds < 2 || pfd[1].revents == 0)
			continue;
		if ((r = ub_process(d->ctx)) != 0) {
			/* The worker is gone: new queries fail at once,
			 * those in flight at their deadline. */
			pthread_mutex_lock(&d->mu);
			d->broken = r;
			pthread_mutex_unlock(&d->mu);
			nfds = 1;
		}
	}
	return NULL;
}

/* True when /etc/resolv.conf names at least one server. ub_ctx_resolvconf()
 * falls back to 127.0.0.1 when it names none (resolv.conf(5)); we would
 * rather recurse from the root hints than query a port nobody serves. */
static bool
resolvconf_has_server(const char *path)
{
	FILE *f;
	char  line[1024];
	bool  found = false;
	char *p;

	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		for (p = line; str_iswsp((unsigned char)*p); p++)
			;
		if (strncmp(p, "nameserver", 10) == 0 &&
		    str_iswsp((unsigned char)p[10]))
			found = true;
	}
	fclose(f);
	return found;
}

static int
file_readable(const char *what, const char *path, struct am_err *err)
{
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return am_err_set(err, "dns: cannot read %s %s: %s", what, path,
		    strerror(errno));
	fclose(f);
	return 0;
}

/*
 * Our defaults for libunbound's resources, set before the admin's
 * unbound_conf (or resolv.conf) is read, so that any of these the file sets
 * wins: ub_ctx_config() parses the file over the settings already made.
 *
 * Why. A query we give up on at our deadline is cancelled with ub_cancel(),
 * but in libunbound that only drops the callback: its worker keeps
 * resolving the name for its cache (libworker.c handle_cancel() and
 * ub_cancel() set q->cancelled, nothing more), with one outgoing port per
 * query in flight, retrying with backoff for ~17 s or more. Measured with
 * t/integration/dnsflood.sh: a stream of messages from names that are never
 * answered, 8 at a time, sent ~45 upstream queries per lookup we had given
 * up on, and libunbound's own defaults then stopped all DNS:
 *
 * - outgoing-range (ports, one socket each) is 16 in libunbound (4096 in
 *   the unbound daemon). The abandoned queries held all 16; every other
 *   query waited in libunbound's queue for a port, so after ~10 s not one
 *   query for a working domain reached the server and every message
 *   tempfailed at exactly dns.timeout. We allow DNS_UB_PORTS, within a
 *   quarter of the open-file limit (the rest is for milter connections).
 * - The infra cache keeps one timeout state per server and zone, so
 *   timeouts for some names on a forwarder back off that forwarder for all
 *   names, up to infra-cache-max-rtt (120 s) per try, and past 12 s
 *   (PROBE_MAXRTO, fixed) it gets one probe query at a time; by default a
 *   server whose probe failed is not probed again until its entry expires
 *   (infra-host-ttl, 900 s). infra-keep-probing lets the next query probe
 *   once the probe delay (the timeout plus 2 s) is over, and a cap of
 *   12 s on the timeout (the lowest that keeps probing working: below
 *   PROBE_MAXRTO a server at the cap is simply down until its entry
 *   expires) makes that delay 14 s, not 122 s, so the resolver recovers by
 *   itself soon after a flood. A server slower than 12 s is useless to a
 *   milter anyway.
 *
 * num-queries-per-thread does not bound libunbound's callback queries
 * (mesh_new_callback: "there are no limits on the number of callbacks"),
 * so it is left alone.
 */
#define DNS_UB_PORTS     1024
#define DNS_UB_MIN_PORTS 16
static int
ctx_defaults(struct ub_ctx *ctx, struct am_err *err)
{
	struct rlimit rl;
	rlim_t        ports = DNS_UB_PORTS;
	char          text[16];
	int           r;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < ports)
		ports = rl.rlim_cur / 4;
	if (ports < DNS_UB_MIN_PORTS)
		ports = DNS_UB_MIN_PORTS;
	snprintf(text, sizeof(text), "%u", (unsigned)ports);
	if ((r = ub_ctx_set_option(ctx, "outgoing-range:", text)) != 0 ||
	    (r = ub_ctx_set_option(ctx, "infra-keep-probing:", "yes")) != 0 ||
	    (r = ub_ctx_set_option(ctx, "infra-cache-max-rtt:", "12000")) != 0)
		return am_err_set(err, "dns: libunbound: %s", ub_strerror(r));
	return 0;
}

static int
ctx_setup(struct ub_ctx *ctx, const struct dns_params *p, struct am_err *err)
{
	int r;

	if ((r = ub_ctx_async(ctx, 1)) != 0)
		return am_err_set(err, "dns: libunbound: %s", ub_strerror(r));
	if (ctx_defaults(ctx, err) < 0)
		return -1;
	if (p->unbound_conf != NULL && p->unbound_conf[0] != '\0') {
		if (file_readable("unbound config", p->unbound_conf, err) < 0)
			return -1;
		/* The file is the whole set-up; libunbound reports the
		 * offending line on its log output (stderr by default). */
		if ((r = ub_ctx_config(ctx, p->unbound_conf)) != 0)
			return am_err_set(err, "dns: %s: %s", p->unbound_conf,
			    r == UB_SYNTAX ? "unbound config syntax error"
					   : ub_strerror(r));
	} else if (resolvconf_has_server("/etc/resolv.conf")) {
		/* Forwarders on loopback (a local unbound, systemd-resolved)
		 * are common, and libunbound refuses them by default. */
		if ((r = ub_ctx_set_option(
			 ctx, "do-not-query-localhost:", "no")) != 0 ||
		    (r = ub_ctx_resolvconf(ctx, NULL)) != 0)
			return am_err_set(
			    err, "dns: /etc/resolv.conf: %s", ub_strerror(r));
	}
	if (p->trust_anchor != NULL && p->trust_anchor[0] != '\0') {
		if (file_readable("trust anchor", p->trust_anchor, err) < 0)
			return -1;
		if ((r = ub_ctx_add_ta_file(ctx, p->trust_anchor)) != 0)
			return am_err_set(err, "dns: trust anchor %s: %s",
			    p->trust_anchor, ub_strerror(r));
	}
	/* libunbound reads the rest (trust anchors, module set-up) when it
	 * is first used; removing a zone that is not there makes it do so now,
	 * so that a bad set-up fails at start and not at the first message. */
	if ((r = ub_ctx_zone_remove(ctx, "authmilter-setup-check.invalid.")) !=
	    0)
		return am_err_set(err,
		    "dns: libunbound set-up: %s (its log says why)",
		    ub_strerror(r));
	return 0;
}

struct dns *
dns_new(const struct dns_params *params, struct am_err *err)
{
	static const struct dns_params none;
	const struct dns_params       *p = params != NULL ? params : &none;
	struct dns                    *d;
	sigset_t                       all, old;
	int                            r;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		am_err_set(err, "dns: out of memory");
		return NULL;
	}
	d->wake[0] = d->wake[1] = -1;
	atomic_init(&d->started, 0);
	atomic_init(&d->bg_masked, false);
	atomic_init(&d->cache_hits, 0);
	d->timeout = p->timeout;
	if (!(d->timeout > 0) || !isfinite(d->timeout))
		d->timeout = DNS_DEFAULT_TIMEOUT;
	if (d->timeout > DNS_MAX_TIMEOUT)
		d->timeout = DNS_MAX_TIMEOUT;
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		free(d);
		am_err_set(err, "dns: cannot create a mutex");
		return NULL;
	}
	if (pthread_mutex_init(&d->cache_mu, NULL) != 0) {
		pthread_mutex_destroy(&d->mu);
		free(d);
		am_err_set(err, "dns: cannot create a mutex");
		return NULL;
	}
	if (pthread_condattr_init(&d->condattr) != 0 ||
	    pthread_condattr_setclock(&d->condattr, CLOCK_MONOTONIC) != 0) {
		pthread_mutex_destroy(&d->cache_mu);
		pthread_mutex_destroy(&d->mu);
		free(d);
		am_err_set(err, "dns: cannot set up condition variables");
		return NULL;
	}
	if (!p->nocache && (d->cache = calloc(DNS_CACHE_SETS * DNS_CACHE_WAYS,
				sizeof(*d->cache))) == NULL) {
		am_err_set(err, "dns: out of memory");
		goto fail;
	}
	if ((d->ctx = ub_ctx_create()) == NULL) {
		am_err_set(err, "dns: libunbound: cannot create a context");
		goto fail;
	}
	if (ctx_setup(d->ctx, p, err) < 0)
		goto fail;
	if (pipe2(d->wake, O_CLOEXEC) < 0) {
		am_err_set(err, "dns: pipe: %s", strerror(errno));
		goto fail;
	}
	/* The dispatcher takes no signals: they belong to the daemon. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&d->thread, NULL, dispatcher, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		am_err_set(err, "dns: cannot start a thread: %s", strerror(r));
		goto fail;
	}
	d->thread_started = true;
	return d;
fail:
	dns_free(d);
	return NULL;
}

void
dns_free(struct dns *d)
{
	struct dns_query *q, *next;
	size_t            i;

	if (d == NULL)
		return;
	if (d->thread_started) {
		while (write(d->wake[1], "x", 1) < 0 && errno == EINTR)
			;
		pthread_join(d->thread, NULL);
	}
	/* Stops libunbound's worker; no callback runs after this. */
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);
	/* Queries abandoned while libunbound held them. A query not yet
	 * freed by its owner is a caller's bug; it is left alone. */
	for (q = d->queries; q != NULL; q = next) {
		next = q->next;
		if (q->abandoned) {
			query_unlink(q);
			query_destroy(q);
		}
	}
	if (d->wake[0] >= 0)
		close(d->wake[0]);
	if (d->wake[1] >= 0)
		close(d->wake[1]);
	if (d->cache != NULL)
		for (i = 0; i < DNS_CACHE_SETS * DNS_CACHE_WAYS; i++) {
			free(d->cache[i].key);
			rrs_free(d->cache[i].ans.rr, d->cache[i].ans.n);
		}
	free(d->cache);
	pthread_condattr_destroy(&d->condattr);
	pthread_mutex_destroy(&d->cache_mu);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
