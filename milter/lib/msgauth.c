/*
 * msgauth: the per-message engine. See msgauth.h for the flow.
 *
 * Time. No thread is made per check and no callback joins one. Each
 * check is a state machine over the resolver's non-blocking calls: SPF
 * (spf_check_begin/step: its lookups depend on each other), each DKIM key
 * lookup, the DMARC tree walks (evaluated again until no answer is
 * missing). Every lookup of a message is attached to the message's
 * dns_waiter, and every event steps the SPF checks, so they progress as
 * the SMTP dialogue goes on. Where answers are needed (end of message;
 * MAIL FROM with spf.reject_fail) the callback sleeps on the waiter until
 * an answer arrives or the deadline passes: the message's own
 * (message_timeout from MAIL FROM, but at end of message at least
 * dns.timeout from then) or an SPF evaluation's (spf.timeout, RFC 7208
 * 4.6.4). What is still pending then is temperror, and on_dns_error
 * applies. Abort, close and a new MAIL FROM free pending queries without
 * waiting; a resolver left by an old configuration is freed by a thread
 * of its own, never in a callback.
 *
 * What runs when (so that no DNS answer is awaited at end of message that
 * could have been asked for earlier):
 *   MAIL FROM  SPF for the HELO and MAIL FROM identities starts; with
 *              spf.reject_fail the MAIL FROM result is awaited here.
 *   header     From: the DMARC lookups for its domain start (all tree-walk
 *              names at once). DKIM-Signature: the key lookup starts.
 *   body       each chunk goes to the body hashes; nothing is kept.
 *   end        the rest of SPF and the keys awaited, signatures verified
 *              (or made), DMARC decided, forged Authentication-Results
 *              removed, ours added.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "authres.h"
#include "buf.h"
#include "deadline.h"
#include "dkim_key.h"
#include "dkim_sign.h"
#include "dkim_verify.h"
#include "dmarc.h"
#include "dns.h"
#include "hdr.h"
#include "ipaddr.h"
#include "mailaddr.h"
#include "msgauth.h"
#include "report.h"
#include "spf.h"
#include "str.h"

#define AR_NAME       "Authentication-Results"
#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)
/* Signatures made per message: a table row names at most this many keys
 * (a rotation signs with old and new keys of both algorithms). */
#define MSGAUTH_MAX_SIGN_KEYS CONF_MAX_ROW_KEYS
/* Verified signatures handed to DMARC: the most dkim.max_signatures may
 * be. */
#define MSGAUTH_MAX_DKIM CONF_MAX_SIGNATURES
/* PTR names of the client checked against dmarc.trusted_forwarders: only
 * names on that list get an address lookup, at most this many (RFC 7208
 * 4.6.4 stops at 10 PTR names for the same reason). */
#define MSGAUTH_MAX_FW_NAMES 10

/* The resolver, shared by the contexts of successive reloads while the DNS
 * settings stay the same (so the cache survives a reload). */
struct msgauth_dns {
	atomic_uint refs;
	struct dns *dns;
};

struct msgauth_ctx {
	atomic_uint         refs;
	struct am_conf     *conf;
	struct msgauth_dns *dns;
	time_t              now;
	/* enum msgauth_pub of each dkim.sign.keys entry, same index */
	_Atomic unsigned char *pub;
};

/* One SPF evaluation running beside the SMTP dialogue. */
struct spf_run {
	struct spf_query *q;
	char             *domain; /* the identity's domain */
	char             *sender; /* local@domain */
	char             *helo;
	enum spf_result   result;
	bool              started;
	bool              done; /* result is final */
};

/* The results of a message, kept for the A-R field and the summary: SPF,
 * DMARC and up to MSGAUTH_MAX_RESULTS - 2 DKIM signatures (more than the
 * 29 dkim.max_signatures allows at most). DKIM results beyond the
 * room left are not listed but counted (eom_dkim); nothing is dropped
 * without a word in the summary. */
#define MSGAUTH_MAX_RESULTS 32
#define MSGAUTH_MAX_PROPS   6
_Static_assert(MSGAUTH_MAX_RESULTS <= AUTHRES_MAX_RESULTS &&
		   MSGAUTH_MAX_PROPS <= AUTHRES_MAX_PROPS,
    "every result kept must fit in the A-R field");

struct result {
	const char         *method;
	const char         *result;
	char               *reason; /* comment, or NULL */
	struct authres_prop prop[MSGAUTH_MAX_PROPS];
	size_t              nprops;
	char               *vals[MSGAUTH_MAX_PROPS]; /* owned prop values */
};

struct msgauth {
	/* The connection. */
	char         *hostname;
	char          addr_text[IPADDR_STRLEN];
	struct ipaddr addr;
	bool          have_addr;
	char         *helo;
	char         *daemon_name; /* the MTA's {daemon_name}, or NULL */

	/* The message: ctx is set from MAIL FROM to end of message. */
	struct msgauth_ctx *ctx;
	char                queue_id[64];
	bool                outbound;
	char               *mf_domain; /* MAIL FROM domain; NULL: none usable */
	bool             mf_unusable;  /* not the null path, no usable domain */
	bool             failed;       /* a check could not be set up (OOM) */
	char            *mf_addr;      /* local@domain, for SPF's %{s} */
	struct hdr_list *hdrs;
	bool             hdr_overflow;
	/* Every lookup of the message is attached to waiter; deadline is
	 * MAIL FROM + message_timeout (CLOCK_MONOTONIC). */
	struct dns_waiter *waiter;
	struct timespec    deadline;
	struct timespec    eom_deadline;     /* see eom_wait() */
	char           hdr_overflow_at[120]; /* "X-Big, a field of N bytes" */
	bool           hdr_oom; /* a field could not be stored: no edits */
	struct spf_run spf_mfrom, spf_helo;
	struct dkim_verify *dv;
	struct dkim_sign   *ds;
	/* The signer reads its params and keys until it is freed. */
	struct dkim_sign_params sign_params;
	struct dkim_sign_key    sign_keys[MSGAUTH_MAX_SIGN_KEYS];
	bool                    sign_failed;
	struct am_err           sign_err;
	struct dmarc           *dm;
	/* dmarc.trusted_forwarders by host name: forward-confirmed reverse
	 * DNS (the client's PTR names on the list, each resolving back to
	 * the client's address), started at MAIL FROM. */
	struct dns_query *fw_ptr;
	struct dns_query *fw_addr[MSGAUTH_MAX_FW_NAMES];
	size_t            nfw_addr;
	bool              fw_started, fw_done;
	bool              forwarder; /* a trusted forwarder (net or name) */
	size_t            nfrom_fields;
	char              from_domain[MAILADDR_DOMAIN_MAX + 1]; /* 1st */

	/* The results and what the last end of message produced. */
	struct result results[MSGAUTH_MAX_RESULTS];
	size_t        nresults;
	size_t        results_dropped; /* not in the A-R field: logged */
	size_t        dkim_ignored;  /* past dkim.max_signatures: not checked */
	size_t        dkim_unlisted; /* checked, no room in the A-R */
	char          helo_summary[320]; /* the HELO check, for the log */
	struct buf    summary;
	char         *ar_value;
	char         *rspf_value;
	char         *sig_values[MSGAUTH_MAX_SIGN_KEYS];
	size_t        nsig_values;
	/* The edits of the last end of message, grown as they are made;
	 * out_oom: one of them, or a result, could not be recorded. */
	struct msgauth_edit *edits;
	size_t               nedits, edits_cap;
	bool                 out_oom;
	char                 quarantine_reason[300];
	/* RFC 9990 PolicyOverrideType of the last DMARC result, or NULL. */
	const char *dmarc_override;
	/* The first envelope recipient's domain, for the report's
	 * envelope_to; "" when none usable. */
	char rcpt_domain[MAILADDR_DOMAIN_MAX + 1];
	/* The last end of message's aggregate-report row (made on first
	 * use, kept for the connection); have_report: it is current. */
	struct report_row *report;
	bool               have_report;
};

/* --- contexts --- */

/* Resolvers whose last reference went while a thread could not be made
 * for them: freed by the next msgauth_ctx_new() (a reload, in the main
 * thread). */
static pthread_mutex_t     graveyard_mu = PTHREAD_MUTEX_INITIALIZER;
static struct msgauth_dns *graveyard[16];
static size_t              ngraveyard;
static atomic_ulong        dns_freed_aside;

static void
dns_release(struct msgauth_dns *d)
{
	dns_free(d->dns);
	free(d);
}

static void *
dns_reaper(void *arg)
{
	dns_release(arg);
	atomic_fetch_add(&dns_freed_aside, 1);
	return NULL;
}

static void
graveyard_empty(void)
{
	struct msgauth_dns *d[sizeof(graveyard) / sizeof(graveyard[0])];
	size_t              n, i;

	pthread_mutex_lock(&graveyard_mu);
	n = ngraveyard;
	memcpy(d, graveyard, n * sizeof(d[0]));
	ngraveyard = 0;
	pthread_mutex_unlock(&graveyard_mu);
	for (i = 0; i < n; i++)
		(void)dns_reaper(d[i]);
}

/* dns_free() joins the resolver's threads. When the last reference goes
 * at the end of a message (in a libmilter callback: the last message of
 * an old configuration), aside is set and it runs on a detached thread
 * of its own; otherwise (a reload, the exit, a tool) here. */
static void
msgauth_dns_unref(struct msgauth_dns *d, bool aside)
{
	pthread_attr_t attr;
	pthread_t      t;
	bool           queued = false;

	if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	if (!aside) {
		dns_release(d);
		return;
	}
	if (pthread_attr_init(&attr) == 0) {
		(void)pthread_attr_setdetachstate(
		    &attr, PTHREAD_CREATE_DETACHED);
		queued = pthread_create(&t, &attr, dns_reaper, d) == 0;
		pthread_attr_destroy(&attr);
	}
	if (queued)
		return;
	pthread_mutex_lock(&graveyard_mu);
	if (ngraveyard < sizeof(graveyard) / sizeof(graveyard[0])) {
		graveyard[ngraveyard++] = d;
		queued = true;
	}
	pthread_mutex_unlock(&graveyard_mu);
	/* Sixteen reloads without a thread to spare: memory is kept rather
	 * than a callback blocked (the process is in trouble anyway). */
	(void)queued;
}

unsigned long
msgauth_dns_freed_aside(void)
{
	return atomic_load(&dns_freed_aside);
}

static bool
same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void ctx_unref(struct msgauth_ctx *ctx, bool aside);

/* The state of the key in prev that is k (same domain, selector and key). */
static enum msgauth_pub
prev_pub(const struct msgauth_ctx *prev, const struct conf_key *k)
{
	const struct am_conf *pc = prev->conf;

	for (size_t i = 0; i < pc->dkim.sign.nkeys; i++) {
		const struct conf_key *o = &pc->dkim.sign.keys[i];

		if (strcmp(o->domain, k->domain) == 0 &&
		    strcmp(o->selector, k->selector) == 0 &&
		    EVP_PKEY_eq(o->pkey, k->pkey) == 1)
			return (enum msgauth_pub)atomic_load(&prev->pub[i]);
	}
	return MSGAUTH_PUB_UNCHECKED;
}

struct msgauth_ctx *
msgauth_ctx_new(
    struct am_conf *conf, const struct msgauth_ctx *prev, struct am_err *err)
{
	struct msgauth_ctx   *ctx = calloc(1, sizeof(*ctx));
	const struct am_conf *pc = prev ? prev->conf : NULL;

	graveyard_empty();
	if (ctx == NULL) {
		am_err_set(err, "out of memory");
		return NULL;
	}
	atomic_init(&ctx->refs, 1);
	if (pc != NULL &&
	    same_str(pc->dns.unbound_conf, conf->dns.unbound_conf) &&
	    same_str(pc->dns.trust_anchor, conf->dns.trust_anchor) &&
	    pc->dns.timeout == conf->dns.timeout) {
		ctx->dns = prev->dns;
		atomic_fetch_add(&ctx->dns->refs, 1);
	} else {
		struct dns_params dp = {
		    .unbound_conf = conf->dns.unbound_conf,
		    .trust_anchor = conf->dns.trust_anchor,
		    .timeout = conf->dns.timeout,
		};

		if ((ctx->dns = calloc(1, sizeof(*ctx->dns))) == NULL) {
			am_err_set(err, "out of memory");
			free(ctx);
			return NULL;
		}
		atomic_init(&ctx->dns->refs, 1);
		if ((ctx->dns->dns = dns_new(&dp, err)) == NULL) {
			free(ctx->dns);
			free(ctx);
			return NULL;
		}
	}
	ctx->conf = conf_ref(conf);
	if (conf->dkim.sign.nkeys > 0 &&
	    (ctx->pub = calloc(conf->dkim.sign.nkeys, sizeof(*ctx->pub))) ==
		NULL) {
		am_err_set(err, "out of memory");
		ctx_unref(ctx, false);
		return NULL;
	}
	for (size_t i = 0; i < conf->dkim.sign.nkeys; i++) {
		atomic_init(&ctx->pub[i], MSGAUTH_PUB_UNCHECKED);
		if (pc != NULL)
			atomic_store(
			    &ctx->pub[i], (unsigned char)prev_pub(
					      prev, &conf->dkim.sign.keys[i]));
	}
	return ctx;
}

struct msgauth_ctx *
msgauth_ctx_ref(struct msgauth_ctx *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
	return ctx;
}

static void
ctx_unref(struct msgauth_ctx *ctx, bool aside)
{
	if (ctx == NULL || atomic_fetch_sub(&ctx->refs, 1) != 1)
		return;
	msgauth_dns_unref(ctx->dns, aside);
	conf_unref(ctx->conf);
	free(ctx->pub);
	free(ctx);
}

void
msgauth_ctx_unref(struct msgauth_ctx *ctx)
{
	ctx_unref(ctx, false);
}

const struct am_conf *
msgauth_ctx_conf(const struct msgauth_ctx *ctx)
{
	return ctx->conf;
}

struct dns *
msgauth_ctx_dns(const struct msgauth_ctx *ctx)
{
	return ctx->dns->dns;
}

enum msgauth_pub
msgauth_key_pub(const struct msgauth_ctx *ctx, const struct conf_key *key)
{
	const struct am_conf *c = ctx->conf;

	if (key < c->dkim.sign.keys ||
	    key >= c->dkim.sign.keys + c->dkim.sign.nkeys)
		return MSGAUTH_PUB_UNCHECKED;
	return (enum msgauth_pub)atomic_load(
	    &ctx->pub[key - c->dkim.sign.keys]);
}

/* True when k has publish_check and a signing-table row uses it: a key
 * that signs nothing is not looked up. */
static bool
pub_wanted(const struct am_conf *c, const struct conf_key *k)
{
	if (!k->publish_check)
		return false;
	for (size_t i = 0; i < c->dkim.sign.ntable; i++)
		for (size_t j = 0; j < c->dkim.sign.table[i].nkeys; j++)
			if (c->dkim.sign.table[i].keys[j] == k)
				return true;
	return false;
}

bool
msgauth_publish_checked(const struct msgauth_ctx *ctx)
{
	for (size_t i = 0; i < ctx->conf->dkim.sign.nkeys; i++)
		if (pub_wanted(ctx->conf, &ctx->conf->dkim.sign.keys[i]))
			return true;
	return false;
}

/* What the answer a says of key k; why gets the reason. */
static enum msgauth_pub
pub_judge(const struct conf_key *k, const struct dns_answer *a,
    const char *name, char *why, size_t size)
{
	const char *reason = NULL;
	bool        other = false;

	switch (a->status) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		snprintf(why, size, "no TXT record at %s (%s)", name,
		    dns_status_str(a->status));
		return MSGAUTH_PUB_ABSENT;
	default:
		snprintf(why, size, "lookup of %s failed: %s", name,
		    a->why != NULL && a->why[0] != '\0'
			? a->why
			: dns_status_str(a->status));
		return MSGAUTH_PUB_FAILED;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct dkim_key dk;
		const char     *r;

		if (dkim_key_parse(a->rr[i].data, a->rr[i].len, &dk, &r) < 0) {
			if (strcmp(r, "out of memory") == 0) {
				snprintf(why, size, "out of memory");
				return MSGAUTH_PUB_FAILED;
			}
			reason = r;
			continue;
		}
		if (EVP_PKEY_eq(dk.pkey, k->pkey) == 1) {
			dkim_key_clear(&dk);
			snprintf(why, size, "published at %s", name);
			return MSGAUTH_PUB_OK;
		}
		other = true;
		dkim_key_clear(&dk);
	}
	if (other) {
		snprintf(why, size, "the record at %s holds another key", name);
		return MSGAUTH_PUB_MISMATCH;
	}
	snprintf(why, size, "the record at %s is not usable: %s", name,
	    reason != NULL ? reason : "no key record");
	return MSGAUTH_PUB_BAD;
}

size_t
msgauth_publish_check(struct msgauth_ctx *ctx, msgauth_pub_fn *fn, void *arg)
{
	const struct am_conf *c = ctx->conf;
	struct dns_query    **q;
	size_t                i, n = 0;

	if (c->dkim.sign.nkeys == 0 ||
	    (q = calloc(c->dkim.sign.nkeys, sizeof(*q))) == NULL)
		return 0;
	for (i = 0; i < c->dkim.sign.nkeys; i++) {
		const struct conf_key *k = &c->dkim.sign.keys[i];
		char                   name[DNS_MAX_NAME + 2];

		if (!pub_wanted(c, k))
			continue;
		if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s",
			k->selector, k->domain) >= sizeof(name))
			name[0] = '\0'; /* too long: answered as a bad name */
		q[i] = dns_start(ctx->dns->dns, name, DNS_T_TXT);
	}
	for (i = 0; i < c->dkim.sign.nkeys; i++) {
		const struct conf_key *k = &c->dkim.sign.keys[i];
		enum msgauth_pub       st, was;
		char                   why[DNS_MAX_NAME + 128];

		if (q[i] == NULL && !pub_wanted(c, k))
			continue;
		n++;
		if (q[i] == NULL) {
			st = MSGAUTH_PUB_FAILED;
			snprintf(why, sizeof(why), "out of memory");
		} else
			st = pub_judge(k, dns_wait(q[i]), dns_query_name(q[i]),
			    why, sizeof(why));
		dns_query_free(q[i]);
		was = (enum msgauth_pub)atomic_load(&ctx->pub[i]);
		if (st == MSGAUTH_PUB_FAILED && was != MSGAUTH_PUB_UNCHECKED)
			continue; /* keep what we knew */
		if (st == was)
			continue;
		atomic_store(&ctx->pub[i], (unsigned char)st);
		if (fn != NULL)
			fn(arg, k, st, why);
	}
	free(q);
	return n;
}

void
msgauth_ctx_set_now(struct msgauth_ctx *ctx, time_t now)
{
	ctx->now = now;
}

static time_t
ctx_now(const struct msgauth_ctx *ctx)
{
	return ctx->now ? ctx->now : time(NULL);
}

/* --- replies and results --- */

static void reply_set(struct msgauth_reply *r, enum msgauth_verdict v,
    const char *code, const char *xcode, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
reply_set(struct msgauth_reply *r, enum msgauth_verdict v, const char *code,
    const char *xcode, const char *fmt, ...)
{
	char    raw[sizeof(r->text)];
	va_list ap;

	r->verdict = v;
	str_lcpy(r->code, code, sizeof(r->code));
	str_lcpy(r->xcode, xcode, sizeof(r->xcode));
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* The text may quote a domain or an SPF explanation. */
	str_printable(r->text, sizeof(r->text), raw, strlen(raw));
}

static void
reply_continue(struct msgauth_reply *r)
{
	r->verdict = MSGAUTH_CONTINUE;
	r->code[0] = r->xcode[0] = r->text[0] = '\0';
}

/* Adds a result; props are given as ptype, property, value triples ending
 * with NULL, values copied. Past the limit, the result is dropped and
 * counted: the summary says "results_dropped=N". eom_dkim leaves room for
 * DMARC, so this should never happen. */
static struct result *
result_add(struct msgauth *m, const char *method, const char *res,
    const char *reason, ...)
{
	struct result *r;
	const char    *ptype;
	va_list        ap;

	if (m->nresults == MSGAUTH_MAX_RESULTS) {
		m->results_dropped++;
		return NULL;
	}
	r = &m->results[m->nresults++];
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->result = res;
	r->reason = reason != NULL && reason[0] != '\0' ? strdup(reason) : NULL;
	if (reason != NULL && reason[0] != '\0' && r->reason == NULL)
		m->out_oom = true;
	va_start(ap, reason);
	while ((ptype = va_arg(ap, const char *)) != NULL) {
		const char *prop = va_arg(ap, const char *);
		const char *val = va_arg(ap, const char *);

		if (val == NULL || r->nprops == MSGAUTH_MAX_PROPS)
			continue;
		r->vals[r->nprops] = strdup(val);
		r->prop[r->nprops].ptype = ptype;
		r->prop[r->nprops].property = prop;
		r->prop[r->nprops].value = r->vals[r->nprops];
		if (r->vals[r->nprops] != NULL)
			r->nprops++;
		else
			m->out_oom = true;
	}
	va_end(ap);
	return r;
}

static void
results_clear(struct msgauth *m)
{
	size_t i, j;

	for (i = 0; i < m->nresults; i++) {
		free(m->results[i].reason);
		for (j = 0; j < m->results[i].nprops; j++)
			free(m->results[i].vals[j]);
	}
	m->nresults = 0;
	m->results_dropped = 0;
	m->dkim_ignored = m->dkim_unlisted = 0;
	m->helo_summary[0] = '\0';
}

/* --- message state --- */

static void
spf_run_clear(struct spf_run *s)
{
	spf_query_free(s->q); /* pending lookups abandoned, not awaited */
	free(s->domain);
	free(s->sender);
	free(s->helo);
	memset(s, 0, sizeof(*s));
}

/* Releases what a message holds while it runs. */
static void
msg_clear_work(struct msgauth *m)
{
	m->rcpt_domain[0] = '\0';
	spf_run_clear(&m->spf_mfrom);
	spf_run_clear(&m->spf_helo);
	dkim_verify_free(m->dv);
	m->dv = NULL;
	dkim_sign_free(m->ds);
	m->ds = NULL;
	m->sign_failed = false;
	dmarc_free(m->dm);
	m->dm = NULL;
	dns_query_free(m->fw_ptr);
	m->fw_ptr = NULL;
	while (m->nfw_addr > 0)
		dns_query_free(m->fw_addr[--m->nfw_addr]);
	m->fw_started = m->fw_done = m->forwarder = false;
	/* After every query attached to it is freed. */
	dns_waiter_free(m->waiter);
	m->waiter = NULL;
	if (m->hdrs != NULL)
		hdr_list_reset(m->hdrs);
	m->hdr_overflow = false;
	m->hdr_oom = false;
	m->failed = false;
	m->nfrom_fields = 0;
	m->from_domain[0] = '\0';
	free(m->mf_domain);
	free(m->mf_addr);
	m->mf_domain = m->mf_addr = NULL;
	m->mf_unusable = false;
	ctx_unref(m->ctx, true); /* perhaps in a callback: never a join */
	m->ctx = NULL;
}

/* Releases what the last end of message handed out. */
static void
msg_clear_output(struct msgauth *m)
{
	size_t i;

	results_clear(m);
	buf_reset(&m->summary);
	free(m->ar_value);
	free(m->rspf_value);
	m->ar_value = m->rspf_value = NULL;
	for (i = 0; i < m->nsig_values; i++)
		free(m->sig_values[i]);
	m->nsig_values = 0;
	m->nedits = 0;
	m->out_oom = false;
	m->quarantine_reason[0] = '\0';
	m->dmarc_override = NULL;
	m->have_report = false;
}

struct msgauth *
msgauth_new(void)
{
	struct msgauth *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if ((m->hdrs = hdr_list_new()) == NULL) {
		free(m);
		return NULL;
	}
	buf_init(&m->summary, 16384);
	str_lcpy(m->queue_id, "NOQUEUE", sizeof(m->queue_id));
	return m;
}

void
msgauth_free(struct msgauth *m)
{
	if (m == NULL)
		return;
	msg_clear_work(m);
	msg_clear_output(m);
	buf_free(&m->summary);
	free(m->edits);
	hdr_list_free(m->hdrs);
	free(m->hostname);
	free(m->helo);
	free(m->daemon_name);
	free(m->report);
	free(m);
}

void
msgauth_connect(struct msgauth *m, const char *hostname, const char *addr)
{
	free(m->hostname);
	m->hostname = strdup(hostname ? hostname : "unknown");
	m->have_addr = addr != NULL && ipaddr_parse(&m->addr, addr);
	if (m->have_addr)
		ipaddr_str(&m->addr, m->addr_text, sizeof(m->addr_text));
	else
		m->addr_text[0] = '\0';
}

void
msgauth_daemon_name(struct msgauth *m, const char *name)
{
	free(m->daemon_name);
	m->daemon_name = name != NULL ? strdup(name) : NULL;
}

void
msgauth_helo(struct msgauth *m, const char *helo)
{
	free(m->helo);
	m->helo = strdup(helo ? helo : "");
}

void
msgauth_rcpt(struct msgauth *m, const char *to)
{
	struct mailaddr_path path;

	if (m->rcpt_domain[0] != '\0' || to == NULL)
		return;
	if (mailaddr_parse_path(to, strlen(to), &path, NULL) == MAILADDR_OK &&
	    path.domain_ok)
		str_lcpy(m->rcpt_domain, path.domain_norm,
		    sizeof(m->rcpt_domain));
}

void
msgauth_queue_id(struct msgauth *m, const char *id)
{
	if (id != NULL && id[0] != '\0')
		str_printable(m->queue_id, sizeof(m->queue_id), id, strlen(id));
}

const char *
msgauth_log_id(const struct msgauth *m)
{
	return m->queue_id;
}

const char *
msgauth_dmarc_override(const struct msgauth *m)
{
	return m->dmarc_override;
}

const struct report_row *
msgauth_report(const struct msgauth *m)
{
	return m->have_report ? m->report : NULL;
}

bool
msgauth_outbound(const struct msgauth *m)
{
	return m->outbound;
}

const char *
msgauth_verdict_str(enum msgauth_verdict v)
{
	switch (v) {
	case MSGAUTH_CONTINUE:
		return "continue";
	case MSGAUTH_ACCEPT:
		return "accept";
	case MSGAUTH_REJECT:
		return "reject";
	case MSGAUTH_TEMPFAIL:
		return "tempfail";
	case MSGAUTH_QUARANTINE:
		return "quarantine";
	}
	return "?";
}

/* --- SPF and waiting --- */

/* Starts check_host() for one identity; its lookups go out now and it
 * advances at every event. Returns false only on OOM. */
static bool
spf_run_start(struct msgauth *m, struct spf_run *s, const char *domain,
    const char *sender)
{
	struct spf_params p = {
	    .receiver = m->ctx->conf->authserv_id,
	    .now = ctx_now(m->ctx),
	    .timeout = m->ctx->conf->spf.timeout,
	    .waiter = m->waiter,
	};

	s->q = spf_query_new(msgauth_ctx_dns(m->ctx), &p);
	s->domain = strdup(domain);
	s->sender = strdup(sender);
	s->helo = strdup(m->helo ? m->helo : "");
	if (s->q == NULL || s->domain == NULL || s->sender == NULL ||
	    s->helo == NULL)
		return false;
	s->started = true;
	spf_check_begin(s->q, &m->addr, s->domain, s->sender, s->helo);
	s->done = spf_check_step(s->q, &s->result);
	return true;
}

/* At MAIL FROM: is the client a dmarc.trusted_forwarders entry? A CIDR
 * is known at once; a host name needs the client's PTR names, then the
 * addresses of those on the list (started here, read as they come). */
static void
fw_start(struct msgauth *m)
{
	const struct am_conf *c = m->ctx->conf;
	char                  rev[80];

	if (!m->have_addr || m->dm == NULL)
		return;
	if (conf_forwarder_network(c, &m->addr)) {
		m->forwarder = true;
		return;
	}
	if (c->dmarc.nforwarder_names == 0)
		return;
	ipaddr_reverse_name(&m->addr, rev, sizeof(rev));
	m->fw_started = true;
	if ((m->fw_ptr = dns_start(msgauth_ctx_dns(m->ctx), rev, DNS_T_PTR)) ==
	    NULL) {
		m->fw_done = true; /* OOM: not verified, so enforced */
		return;
	}
	dns_query_notify(m->fw_ptr, m->waiter);
}

static bool
answer_has_addr(const struct dns_answer *a, const struct ipaddr *ip)
{
	struct ipaddr x;
	size_t        i;

	for (i = 0; a->status == DNS_OK && i < a->n; i++)
		if (ipaddr_from_bytes(&x, a->rr[i].data, a->rr[i].len) &&
		    x.family == ip->family && memcmp(x.a, ip->a, 16) == 0)
			return true;
	return false;
}

/* Advances the forward-confirmed reverse DNS check without waiting. */
static void
fw_step(struct msgauth *m)
{
	const struct dns_answer *a;
	size_t                   i;
	bool                     pending = false;

	if (!m->fw_started || m->fw_done)
		return;
	if (m->fw_ptr != NULL) {
		if (!dns_done(m->fw_ptr))
			return;
		a = dns_wait(m->fw_ptr);
		for (i = 0; a->status == DNS_OK && i < a->n &&
			    m->nfw_addr < MSGAUTH_MAX_FW_NAMES;
		     i++) {
			struct dns_query *q;

			if (!conf_forwarder_name(m->ctx->conf, a->rr[i].data))
				continue;
			q = dns_start(msgauth_ctx_dns(m->ctx), a->rr[i].data,
			    m->addr.family == AF_INET ? DNS_T_A : DNS_T_AAAA);
			if (q == NULL)
				continue;
			dns_query_notify(q, m->waiter);
			m->fw_addr[m->nfw_addr++] = q;
		}
		dns_query_free(m->fw_ptr);
		m->fw_ptr = NULL;
	}
	for (i = 0; i < m->nfw_addr; i++) {
		if (!dns_done(m->fw_addr[i])) {
			pending = true;
			continue;
		}
		if (answer_has_addr(dns_wait(m->fw_addr[i]), &m->addr))
			m->forwarder = true;
	}
	m->fw_done = m->forwarder || !pending;
}

/* Advances what can advance without waiting. */
static void
checks_step(struct msgauth *m)
{
	struct spf_run *s[2] = {&m->spf_helo, &m->spf_mfrom};
	size_t          i;

	fw_step(m);
	for (i = 0; i < 2; i++)
		if (s[i]->started && !s[i]->done)
			s[i]->done = spf_check_step(s[i]->q, &s[i]->result);
}

/* Sleeps until an answer for the message arrives or the earliest of
 * deadline and the pending SPF checks' own limits passes. Returns false
 * once deadline has passed. */
static bool
checks_wait(struct msgauth *m, const struct timespec *deadline)
{
	struct spf_run *s[2] = {&m->spf_helo, &m->spf_mfrom};
	struct timespec until = *deadline;
	size_t          i;

	if (deadline_passed(deadline))
		return false;
	for (i = 0; i < 2; i++)
		if (s[i]->started && !s[i]->done &&
		    deadline_before(spf_check_deadline(s[i]->q), &until))
			until = *spf_check_deadline(s[i]->q);
	(void)dns_waiter_wait(m->waiter, &until);
	return true;
}

/* What end of message needs: SPF ended, every DKIM key answer in. */
static bool
checks_ready(const struct msgauth *m)
{
	return (!m->spf_helo.started || m->spf_helo.done) &&
	       (!m->spf_mfrom.started || m->spf_mfrom.done) &&
	       (m->dv == NULL || !dkim_verify_pending(m->dv)) &&
	       (!m->fw_started || m->fw_done);
}

/* Past the message's time: whatever SPF has not decided is temperror. */
static void
spf_expire(struct spf_run *s)
{
	if (s->started && !s->done) {
		s->result = spf_check_stop(s->q, "message time limit");
		s->done = true;
	}
}

static void
spf_start(struct msgauth *m, struct msgauth_reply *r)
{
	const struct am_conf *c = m->ctx->conf;
	char                  sender[600];
	char                  helo_norm[MAILADDR_DOMAIN_MAX + 1];
	const char           *helo_domain = NULL;

	if (!c->spf.enabled || m->outbound || !m->have_addr)
		return;
	/* A HELO that is an address literal or garbage has no SPF identity;
	 * a name is checked in its normal form (case, trailing dot, IDN). */
	if (m->helo != NULL &&
	    mailaddr_domain_normalize(m->helo, strlen(m->helo), helo_norm))
		helo_domain = helo_norm;
	/* RFC 7208 2.3: the HELO identity, when it is a domain name. */
	if (c->spf.helo && helo_domain != NULL) {
		snprintf(sender, sizeof(sender), "postmaster@%s", helo_domain);
		if (!spf_run_start(m, &m->spf_helo, helo_domain, sender))
			goto oom;
	}
	/* RFC 7208 2.4: the MAIL FROM identity; for the null reverse-path,
	 * postmaster@ the HELO domain. A path whose domain is malformed is
	 * "none" (RFC 7208 4.3), said at end of message. */
	if (m->mf_domain != NULL) {
		if (!spf_run_start(m, &m->spf_mfrom, m->mf_domain, m->mf_addr))
			goto oom;
	} else if (!m->mf_unusable && helo_domain != NULL) {
		snprintf(sender, sizeof(sender), "postmaster@%s", helo_domain);
		if (!spf_run_start(m, &m->spf_mfrom, helo_domain, sender))
			goto oom;
	}
	if (!c->spf.reject_fail || !m->spf_mfrom.started)
		return;
	/* The MAIL FROM reply waits for SPF: at most spf.timeout, which
	 * conf.c keeps below the MTA's command timeout. */
	while (!m->spf_mfrom.done && checks_wait(m, &m->deadline))
		checks_step(m);
	spf_expire(&m->spf_mfrom);
	if (m->spf_mfrom.result == SPF_FAIL) {
		const char *exp = spf_explanation(m->spf_mfrom.q);

		/* RFC 7208 8.4 and RFC 7372 3.2: 5.7.23. */
		if (exp != NULL)
			reply_set(
			    r, MSGAUTH_REJECT, "550", "5.7.23", "%s", exp);
		else
			reply_set(r, MSGAUTH_REJECT, "550", "5.7.23",
			    "SPF: %s is not allowed to send mail from %s",
			    m->addr_text, m->spf_mfrom.domain);
	} else if (m->spf_mfrom.result == SPF_TEMPERROR &&
		   c->on_dns_error == CONF_TEMPFAIL) {
		reply_set(r, MSGAUTH_TEMPFAIL, "451", "4.7.24",
		    "SPF: temporary DNS error for %s, try again later",
		    m->spf_mfrom.domain);
	}
	return;
oom:
	reply_set(r, MSGAUTH_TEMPFAIL, "451", "4.3.0",
	    "local error, try again later");
}

/* --- the SMTP events --- */

void
msgauth_mailfrom(struct msgauth *m, struct msgauth_ctx *ctx, const char *from,
    const char *auth_authen, struct msgauth_reply *r)
{
	const struct am_conf *c;
	struct mailaddr_path  path;
	enum mailaddr_status  st;

	msgauth_abort(m);
	msg_clear_output(m);
	reply_continue(r);
	str_lcpy(m->queue_id, "NOQUEUE", sizeof(m->queue_id));
	m->ctx = msgauth_ctx_ref(ctx);
	c = ctx->conf;
	deadline_in(&m->deadline, c->message_timeout);
	if ((m->waiter = dns_waiter_new(msgauth_ctx_dns(ctx))) == NULL) {
		m->failed = true;
		reply_set(r, MSGAUTH_TEMPFAIL, "451", "4.3.0",
		    "local error, try again later");
		return;
	}
	/* Outbound (sign, do not verify) only for a signing source, as the
	 * MTA tells: an authenticated client, the service named for
	 * submission, a network of our own senders. A relay in
	 * trusted_networks is none of these by itself: mail it passes on
	 * claiming one of our domains is checked like any other. */
	m->outbound = (c->sign_authenticated && auth_authen != NULL &&
			  auth_authen[0] != '\0') ||
		      conf_sign_daemon(c, m->daemon_name) ||
		      (m->have_addr && conf_sign_network(c, &m->addr));
	/* The null path's SPF identity is the HELO name (RFC 7208 2.4); a
	 * path without a usable domain has none (RFC 7208 4.3). */
	st = mailaddr_parse_path(from, strlen(from), &path, NULL);
	m->mf_unusable =
	    st != MAILADDR_NULL && !(st == MAILADDR_OK && path.domain_ok);
	if (st == MAILADDR_OK && path.domain_ok) {
		m->mf_domain = strdup(path.domain_norm);
		m->mf_addr =
		    malloc(strlen(path.local) + strlen(path.domain) + 2);
		if (m->mf_domain == NULL || m->mf_addr == NULL) {
			reply_set(r, MSGAUTH_TEMPFAIL, "451", "4.3.0",
			    "local error, try again later");
			return;
		}
		sprintf(m->mf_addr, "%s@%s", path.local, path.domain);
	}
	if (!m->outbound) {
		if (c->dmarc.enabled)
			m->dm = dmarc_new(msgauth_ctx_dns(ctx),
			    &(struct dmarc_params){
				.pct = c->dmarc.pct == CONF_PCT_SAMPLE
					   ? DMARC_PCT_SAMPLE
					   : DMARC_PCT_IGNORE,
				.waiter = m->waiter});
		if (c->dkim.verify) {
			struct dkim_verify_params vp = {
			    .max_signatures = c->dkim.max_signatures,
			    .min_rsa_bits = c->dkim.min_rsa_bits,
			    .accept_sha1 = c->dkim.accept_sha1,
			    .ignore_l = c->dkim.ignore_l,
			    .now = ctx_now(ctx),
			    .waiter = m->waiter,
			};
			m->dv = dkim_verify_new(msgauth_ctx_dns(ctx), &vp);
		}
		/* Without a check that should run, no verdict can be trusted
		 * (a missing DKIM pass could turn into a DMARC reject). */
		m->failed = (c->dmarc.enabled && m->dm == NULL) ||
			    (c->dkim.verify && m->dv == NULL);
		fw_start(m);
	}
	spf_start(m, r);
}

/* The last two labels of a domain ("example.com" of "a.b.example.com"). */
static const char *
last_two_labels(const char *d)
{
	const char *p = d + strlen(d), *cut = d;
	int         dots = 0;

	while (p > d) {
		if (*--p == '.' && ++dots == 2) {
			cut = p + 1;
			break;
		}
	}
	return cut;
}

/* Relaxed alignment of another identifier (MAIL FROM, DKIM d=) with the
 * From domain needs the tree walk of that identifier too (RFC 9989
 * 4.10.2), unless the names are equal. Two domains whose last two labels
 * differ have different Organizational Domains in all but exotic set-ups
 * (an Org Domain one label below a psd=y TLD), and dmarc_evaluate() still
 * walks on demand then; so only the likely ones are started early. */
static void
prefetch_related(struct msgauth *m, const char *domain)
{
	if (m->dm == NULL || domain == NULL || m->from_domain[0] == '\0' ||
	    strcmp(domain, m->from_domain) == 0)
		return;
	if (strcmp(last_two_labels(domain), last_two_labels(m->from_domain)) ==
	    0)
		dmarc_prefetch(m->dm, domain);
}

void
msgauth_header(struct msgauth *m, const char *name, const char *value,
    struct msgauth_reply *r)
{
	const struct hdr_field *f;

	reply_continue(r);
	if (m->ctx == NULL || m->hdr_overflow || m->hdr_oom)
		return;
	checks_step(m);
	switch (
	    hdr_list_add(m->hdrs, name, strlen(name), value, strlen(value))) {
	case 0:
		break;
	case -2:
		/* Without this field the indexes of the forged fields after
		 * it would be wrong: the message tempfails at its end. */
		m->hdr_oom = true;
		return;
	default:
		/* Said in the reply and the summary: the MTA's log and ours
		 * show which field of what size (the name is printable and
		 * cut; reply_set sanitizes again). */
		m->hdr_overflow = true;
		snprintf(m->hdr_overflow_at, sizeof(m->hdr_overflow_at),
		    "at %.64s, a field of %zu bytes", name,
		    strlen(name) + 1 + strlen(value));
		return;
	}
	f = hdr_list_get(m->hdrs, hdr_list_count(m->hdrs) - 1);
	if (m->dv != NULL)
		dkim_verify_header(m->dv, f);
	if (hdr_name_is(f, "From")) {
		struct mailaddr_list *l;

		m->nfrom_fields++;
		/* Start the DMARC lookups now: they run while the body
		 * streams in. */
		if (m->dm != NULL && m->nfrom_fields == 1 &&
		    (l = mailaddr_parse_list(f->value, f->vallen)) != NULL) {
			size_t i;

			for (i = 0; i < l->count; i++) {
				if (l->addr[i].domain_norm == NULL)
					continue;
				if (m->from_domain[0] == '\0')
					str_lcpy(m->from_domain,
					    l->addr[i].domain_norm,
					    sizeof(m->from_domain));
				dmarc_prefetch(m->dm, l->addr[i].domain_norm);
			}
			mailaddr_list_free(l);
			prefetch_related(m, m->mf_domain);
		}
	}
}

/* The RFC5322.From situation of a message: DMARC needs exactly one From
 * field whose addresses all share one usable domain (RFC 9989 4.4). More
 * distinct domains than DMARC can evaluate is a problem no setting of
 * dmarc.multiple_from lets through (too_many). */
struct from_info {
	const char *problem; /* NULL when DMARC can proceed */
	bool        oom;     /* a From field could not be read: no memory */
	bool        too_many;
	bool        incomplete; /* an address unread or without a domain */
	char        domains[DMARC_MAX_FROM_DOMAINS][MAILADDR_DOMAIN_MAX + 1];
	size_t      ndomains;
	char        first_addr[600]; /* for the signing table */
};

static void
from_info_get(const struct msgauth *m, struct from_info *fi)
{
	size_t i, j, k, n = hdr_list_count(m->hdrs);
	bool   unusable = false, bad = false;

	memset(fi, 0, sizeof(*fi));
	for (i = 0; i < n; i++) {
		const struct hdr_field *f = hdr_list_get(m->hdrs, i);
		struct mailaddr_list   *l;

		if (!hdr_name_is(f, "From"))
			continue;
		if ((l = mailaddr_parse_list(f->value, f->vallen)) == NULL) {
			fi->oom = bad = true;
			continue;
		}
		if (l->status != MAILADDR_OK)
			bad = true;
		for (j = 0; j < l->count; j++) {
			const struct mailaddr *a = &l->addr[j];

			if (fi->first_addr[0] == '\0')
				snprintf(fi->first_addr, sizeof(fi->first_addr),
				    "%s@%s", a->local,
				    a->domain_norm ? a->domain_norm : "");
			if (a->domain_norm == NULL) {
				unusable = true;
				continue;
			}
			for (k = 0; k < fi->ndomains; k++)
				if (strcmp(fi->domains[k], a->domain_norm) == 0)
					break;
			if (k < fi->ndomains)
				continue;
			if (k == DMARC_MAX_FROM_DOMAINS)
				fi->too_many = true;
			else
				str_lcpy(fi->domains[fi->ndomains++],
				    a->domain_norm, sizeof(fi->domains[0]));
		}
		mailaddr_list_free(l);
	}
	if (m->nfrom_fields == 0)
		fi->problem = "no From field";
	else if (fi->too_many)
		fi->problem = "more than " STRINGIFY(
		    DMARC_MAX_FROM_DOMAINS) " From domains";
	else if (m->nfrom_fields > 1)
		fi->problem = "several From fields";
	else if (bad)
		fi->problem = "From field does not parse";
	else if (unusable || fi->ndomains == 0)
		fi->problem = "From field without a usable domain";
	else if (fi->ndomains > 1)
		fi->problem = "From addresses in several domains";
	fi->incomplete = bad || unusable;
}

size_t
msgauth_sign_setup(const struct msgauth_ctx *ctx,
    const struct conf_sign_rule *rule, time_t now,
    struct dkim_sign_params *params, struct dkim_sign_key *keys)
{
	const struct am_conf *c = ctx->conf;
	bool                  checked = false;
	size_t                i, j, n = 0;

	*params = (struct dkim_sign_params){
	    .header_canon = c->dkim.sign.header_canon == CONF_CANON_RELAXED
				? DKIM_CANON_RELAXED
				: DKIM_CANON_SIMPLE,
	    .body_canon = c->dkim.sign.body_canon == CONF_CANON_RELAXED
			      ? DKIM_CANON_RELAXED
			      : DKIM_CANON_SIMPLE,
	    .headers = (const char *const *)c->dkim.sign.headers,
	    .nheaders = c->dkim.sign.nheaders,
	    .oversign = (const char *const *)c->dkim.sign.oversign,
	    .noversign = c->dkim.sign.noversign,
	    .now = now,
	};
	/* See msgauth_publish_check in msgauth.h: with a publish_check key in
	 * the row, the first usable key of each algorithm. */
	for (i = 0; i < rule->nkeys; i++)
		checked = checked || rule->keys[i]->publish_check;
	for (i = 0; i < rule->nkeys && n < MSGAUTH_MAX_SIGN_KEYS; i++) {
		const struct conf_key *k = rule->keys[i];
		enum dkim_alg          alg = k->alg == CONF_ALG_ED25519_SHA256
						 ? DKIM_ALG_ED25519_SHA256
						 : DKIM_ALG_RSA_SHA256;

		if (checked) {
			if (k->publish_check &&
			    msgauth_key_pub(ctx, k) != MSGAUTH_PUB_OK)
				continue;
			for (j = 0; j < n && keys[j].alg != alg; j++)
				;
			if (j < n)
				continue;
		}
		keys[n++] = (struct dkim_sign_key){
		    .domain = k->domain,
		    .selector = k->selector,
		    .alg = alg,
		    .pkey = k->pkey,
		};
	}
	return n;
}

void
msgauth_eoh(struct msgauth *m, struct msgauth_reply *r)
{
	const struct am_conf        *c;
	const struct conf_sign_rule *rule;
	struct from_info             fi;
	size_t                       i;

	reply_continue(r);
	if (m->ctx == NULL || m->hdr_overflow || m->hdr_oom)
		return;
	checks_step(m);
	c = m->ctx->conf;
	if (m->dv != NULL) {
		dkim_verify_eoh(m->dv, m->hdrs);
		for (i = 0; i < dkim_verify_count(m->dv); i++)
			prefetch_related(
			    m, dkim_verify_result(m->dv, i)->domain);
	}
	if (!m->outbound || c->dkim.sign.ntable == 0)
		return;
	/* Sign only a message with one author domain: a row chosen by one of
	 * several From addresses would sign for the others too. */
	from_info_get(m, &fi);
	if (fi.oom) {
		/* Whether to sign is unknown: eom_sign decides as for a
		 * signer that failed. */
		am_err_set(&m->sign_err, "out of memory");
		m->sign_failed = true;
		return;
	}
	if (fi.problem != NULL ||
	    (rule = conf_sign_match(c, fi.first_addr)) == NULL)
		return;
	i = msgauth_sign_setup(
	    m->ctx, rule, ctx_now(m->ctx), &m->sign_params, m->sign_keys);
	if (i == 0) {
		am_err_set(&m->sign_err, "no published key for %s", rule->from);
		m->sign_failed = true;
		return;
	}
	m->ds = dkim_sign_new(&m->sign_params, m->sign_keys, i);
	if (m->ds == NULL) {
		/* The message should be signed: eom_sign decides. */
		am_err_set(&m->sign_err, "out of memory");
		m->sign_failed = true;
	} else if (dkim_sign_eoh(m->ds, &m->sign_err) < 0)
		m->sign_failed = true;
}

void
msgauth_body(
    struct msgauth *m, const void *p, size_t n, struct msgauth_reply *r)
{
	reply_continue(r);
	if (m->ctx != NULL)
		checks_step(m);
	if (m->dv != NULL)
		dkim_verify_body(m->dv, p, n);
	if (m->ds != NULL && !m->sign_failed &&
	    dkim_sign_body(m->ds, p, n, &m->sign_err) < 0)
		m->sign_failed = true;
}

void
msgauth_abort(struct msgauth *m)
{
	msg_clear_work(m);
}

/* --- end of message --- */

/* Waits for what end of message needs, until the message's deadline, but
 * at least dns.timeout from now: the lookups only end of message starts
 * (DMARC's walks of other identifiers) get one query's time, and a slow
 * client cannot make a check temperror. This is at most message_timeout
 * (or dns.timeout), which conf.c keeps below the MTA's content timeout.
 * SPF not ended by then is temperror. */
static void
eom_wait(struct msgauth *m)
{
	struct timespec min;

	deadline_in(&min, m->ctx->conf->dns.timeout);
	m->eom_deadline =
	    deadline_before(&m->deadline, &min) ? min : m->deadline;
	for (;;) {
		checks_step(m);
		if (checks_ready(m) || !checks_wait(m, &m->eom_deadline))
			break;
	}
	checks_step(m);
	spf_expire(&m->spf_helo);
	spf_expire(&m->spf_mfrom);
	/* A forwarder not confirmed in time is not one: enforced. */
	m->fw_done = true;
}

/* Evaluates DMARC for every From domain until no answer is missing, or
 * the end-of-message deadline has passed (then what is missing is a
 * temporary failure). The answers stay in m->dm: eom_dmarc's own
 * evaluation then needs no wait. */
static void
dmarc_settle(struct msgauth *m, const struct from_info *fi,
    const struct dmarc_auth *auth)
{
	struct dmarc_verdict v;
	size_t               i;
	bool                 pending;

	for (;;) {
		pending = false;
		for (i = 0; i < fi->ndomains; i++) {
			dmarc_evaluate(m->dm, fi->domains[i], auth, &v);
			pending = pending || dmarc_pending(m->dm);
		}
		if (!pending)
			return;
		if (!checks_wait(m, &m->eom_deadline))
			dmarc_expire(m->dm);
	}
}

/*
 * One spf= result in the A-R field: the MAIL FROM identity's, the one
 * DMARC uses; for the null reverse-path that is postmaster@ the HELO
 * domain (RFC 7208 2.4), shown as smtp.helo. The separate HELO check
 * (RFC 7208 2.3) goes to the summary line only (and to Received-SPF when
 * it is all there is): a second spf= result, a pass for an attacker's
 * own HELO name above the fail for a forged MAIL FROM, is what a reader
 * taking the first one mistakes for the message's (CVE-2019-20790).
 */
static void
eom_spf(struct msgauth *m)
{
	struct spf_run *h = &m->spf_helo, *s = &m->spf_mfrom;
	bool            null_path = m->mf_domain == NULL;
	char            d[300];

	if (h->started) {
		/* With the null path it is the same check as s. */
		if (!(s->started && null_path))
			snprintf(m->helo_summary, sizeof(m->helo_summary),
			    "spf=%s smtp.helo=%s ", spf_result_str(h->result),
			    str_printable(
				d, sizeof(d), h->domain, strlen(h->domain)));
	}
	if (s->started) {
		result_add(m, "spf", spf_result_str(s->result),
		    spf_reason(s->q), "smtp", null_path ? "helo" : "mailfrom",
		    s->domain, NULL);
	}
	/* No smtp.mailfrom: the domain is not one a property can carry. */
	if (m->mf_unusable && m->ctx->conf->spf.enabled && m->have_addr)
		result_add(
		    m, "spf", "none", "MAIL FROM has no usable domain", NULL);
}

/* True when a DKIM pass may count for DMARC: with dmarc.require_whole_body
 * not one whose l= leaves body bytes unsigned (RFC 6376 8.2: whoever holds
 * one such message can append anything), with
 * dmarc.require_signed_instances not one that leaves an instance of a
 * once-only field unsigned above the signed one. */
static bool
pass_counts(const struct am_conf *c, const struct dkim_result *d)
{
	if (d->l_partial && c->dmarc.require_whole_body)
		return false;
	return d->extra_field == NULL || !c->dmarc.require_signed_instances;
}

/* The A-R comment of a pass that leaves something unsigned. */
static void
pass_caveats(const struct am_conf *c, const struct dkim_result *d, char *out,
    size_t size)
{
	char extra[96] = "";

	if (d->extra_field != NULL)
		snprintf(extra, sizeof(extra), "%zu %s fields, h= signs %zu",
		    d->extra_count, d->extra_field, d->extra_signed);
	snprintf(out, size, "%s%s%s%s",
	    d->l_partial ? "l= leaves body bytes unsigned" : "",
	    d->l_partial && extra[0] != '\0' ? "; " : "", extra,
	    pass_counts(c, d) ? "" : ": not counted for DMARC");
}

/*
 * One result per signature, in header order. A pass that leaves
 * something unsigned says so (l= short of the body, RFC 6376 8.2: anything
 * may follow the signed part; an unsigned instance of a once-only field),
 * and whether DMARC counts it. Signatures past dkim.max_signatures were not
 * checked, and those for which the result table has no room (one place stays
 * for DMARC) are not listed: both are counted in a comment on the last DKIM
 * result and in the summary, never dropped silently.
 */
static void
eom_dkim(struct msgauth *m)
{
	char   why[AUTHRES_MAX_COMMENT], more[120], caveat[160];
	size_t i, n, shown, room;

	dkim_verify_eom(m->dv, m->hdrs);
	n = dkim_verify_count(m->dv);
	m->dkim_ignored = dkim_verify_ignored(m->dv);
	room = m->nresults < MSGAUTH_MAX_RESULTS - 1
		   ? MSGAUTH_MAX_RESULTS - 1 - m->nresults
		   : 0;
	shown = n < room ? n : room;
	m->dkim_unlisted = n - shown;
	more[0] = '\0';
	if (m->dkim_ignored > 0)
		snprintf(more, sizeof(more),
		    "%zu signature%s over the limit not checked",
		    m->dkim_ignored, m->dkim_ignored == 1 ? "" : "s");
	if (m->dkim_unlisted > 0)
		snprintf(more + strlen(more), sizeof(more) - strlen(more),
		    "%s%zu more signature%s not listed",
		    more[0] != '\0' ? ", " : "", m->dkim_unlisted,
		    m->dkim_unlisted == 1 ? "" : "s");
	if (shown == 0) {
		/* No result at all (the verifier ran out of memory for the
		 * first): signatures were there, so not "none". */
		result_add(m, "dkim", more[0] != '\0' ? "temperror" : "none",
		    more, NULL);
		return;
	}
	for (i = 0; i < shown; i++) {
		const struct dkim_result *d = dkim_verify_result(m->dv, i);
		const char               *reason = d->reason;

		if (d->status == DKIM_PASS &&
		    (d->l_partial || d->extra_field)) {
			pass_caveats(m->ctx->conf, d, caveat, sizeof(caveat));
			reason = caveat;
		}
		if (i + 1 == shown && more[0] != '\0') {
			snprintf(why, sizeof(why), "%s%s%s", reason,
			    reason[0] != '\0' ? "; " : "", more);
			reason = why;
		}
		result_add(m, "dkim", dkim_status_str(d->status), reason,
		    "header", "d", d->domain, "header", "i", d->identity,
		    "header", "s", d->selector, "header", "a", d->algorithm,
		    "header", "b", d->b8, NULL);
	}
}

/* A DMARC temperror defers the message (with on_dns_error = "tempfail")
 * only when what a fail would be given is unknown or more than none:
 * "p=none must not change mail handling", nor may p=quarantine with t=y,
 * but p=reject with t=y would quarantine (RFC 9989 4.7 "t"). */
static bool
temperror_defers(const struct dmarc_verdict *v)
{
	if (v->result != DMARC_TEMPERROR)
		return false;
	return v->fail_disposition != DMARC_POLICY_NONE;
}

/* Orders the results over several From domains for "the strictest": by
 * what they do to the message (reject, defer, quarantine, accept), and
 * among those that accept, a failure first. */
static int
verdict_rank(const struct dmarc_verdict *v, bool defer)
{
	if (v->result == DMARC_FAIL)
		return 10 + 2 * (int)v->disposition; /* none 12 ... reject 16 */
	if (v->result == DMARC_TEMPERROR)
		return defer && temperror_defers(v) ? 15 : 5;
	if (v->result == DMARC_PERMERROR)
		return 4;
	return v->result == DMARC_NONE ? 2 : 1;
}

/* The A-R comment's words on t and pct, after "dis=": why the disposition
 * is what it is. t=y (RFC 9989 4.7); a legacy pct=0 that stands for it;
 * with dmarc.pct = "sample" whether the message was sampled, with
 * "ignore" that pct was not applied. */
static void
testing_words(
    const struct dmarc_verdict *v, bool sample, char *out, size_t size)
{
	const char *how = "";

	if (v->pct >= 0) {
		if (v->sample == DMARC_SAMPLE_IN)
			how = " sampled";
		else if (v->sample == DMARC_SAMPLE_OUT)
			how = " not sampled";
		else if (!sample)
			how = v->testing && !v->t_y ? " as t=y" : " ignored";
	}
	if (v->pct >= 0)
		snprintf(out, size, "%s pct=%d%s", v->t_y ? " t=y" : "", v->pct,
		    how);
	else
		snprintf(out, size, "%s", v->t_y ? " t=y" : "");
}

/* A policy for the A-R comment; an absent tag shows what stands in for it
 * (sp defaults to p, p to none). */
static const char *
policy_name(enum dmarc_policy p, enum dmarc_policy fallback)
{
	if (p == DMARC_POLICY_UNSPEC)
		p = fallback;
	return p == DMARC_POLICY_UNSPEC ? "none" : dmarc_policy_str(p);
}

static enum report_policy
report_policy_of(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return REPORT_POLICY_NONE;
	case DMARC_POLICY_QUARANTINE:
		return REPORT_POLICY_QUARANTINE;
	case DMARC_POLICY_REJECT:
		return REPORT_POLICY_REJECT;
	default:
		return REPORT_POLICY_UNSPEC;
	}
}

static enum report_auth
report_dkim_of(enum dkim_status st)
{
	switch (st) {
	case DKIM_PASS:
		return REPORT_AUTH_PASS;
	case DKIM_FAIL:
		return REPORT_AUTH_FAIL;
	case DKIM_NEUTRAL:
		return REPORT_AUTH_NEUTRAL;
	case DKIM_POLICY:
		return REPORT_AUTH_POLICY;
	case DKIM_TEMPERROR:
		return REPORT_AUTH_TEMPERROR;
	default:
		return REPORT_AUTH_PERMERROR;
	}
}

static enum report_auth
report_spf_of(enum spf_result r)
{
	switch (r) {
	case SPF_NEUTRAL:
		return REPORT_AUTH_NEUTRAL;
	case SPF_PASS:
		return REPORT_AUTH_PASS;
	case SPF_FAIL:
		return REPORT_AUTH_FAIL;
	case SPF_SOFTFAIL:
		return REPORT_AUTH_SOFTFAIL;
	case SPF_TEMPERROR:
		return REPORT_AUTH_TEMPERROR;
	case SPF_PERMERROR:
		return REPORT_AUTH_PERMERROR;
	default:
		return REPORT_AUTH_NONE;
	}
}

/* Copies a name into a report field only when it fits whole and is
 * printable ASCII; "" otherwise (a report never carries a cut name). */
static void
report_name(char *dst, size_t size, const char *src)
{
	const char *p;

	dst[0] = '\0';
	if (src == NULL || strlen(src) >= size)
		return;
	for (p = src; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~')
			return;
	memcpy(dst, src, (size_t)(p - src) + 1);
}

/*
 * The aggregate-report row of a DMARC pass or fail with a policy record
 * (RFC 9990 3.1): what was published, what was done and why, and the
 * uninterpreted DKIM and SPF results. Made only for a connection with an
 * IP address (source_ip is required). The whole row is zeroed first: the
 * recorder compares rows as bytes. Nothing fails here: without memory
 * there is no row, and the message goes on.
 */
static void
report_fill(struct msgauth *m, const struct dmarc_verdict *v,
    const char *from_domain, bool enforced)
{
	const struct am_conf      *c = m->ctx->conf;
	const struct dmarc_record *rec = v->rec;
	struct report_row         *row;
	size_t                     i, n;

	if (!c->reports.enabled || rec == NULL || !m->have_addr ||
	    (v->result != DMARC_PASS && v->result != DMARC_FAIL))
		return;
	if (m->report == NULL &&
	    (m->report = malloc(sizeof(*m->report))) == NULL)
		return;
	row = m->report;
	memset(row, 0, sizeof(*row));
	row->when = (int64_t)ctx_now(m->ctx);
	report_name(row->pol.domain, sizeof(row->pol.domain),
	    v->record_domain);
	row->pol.p = report_policy_of(v->p);
	if (row->pol.p == REPORT_POLICY_UNSPEC)
		row->pol.p = REPORT_POLICY_NONE;
	row->pol.sp = report_policy_of(v->sp);
	row->pol.np = report_policy_of(v->np);
	row->pol.adkim_strict = rec->adkim_strict;
	row->pol.aspf_strict = rec->aspf_strict;
	row->pol.testing = rec->t_y;
	row->pol.psd = rec->psd == DMARC_PSD_Y   ? REPORT_PSD_Y
		       : rec->psd == DMARC_PSD_N ? REPORT_PSD_N
						 : REPORT_PSD_U;
	report_name(row->pol.fo, sizeof(row->pol.fo), rec->fo);
	report_name(row->pol.rua, sizeof(row->pol.rua), rec->rua);

	str_lcpy(row->source_ip, m->addr_text, sizeof(row->source_ip));
	row->dkim_aligned = v->dkim_aligned;
	row->spf_aligned = v->spf_aligned;
	if (v->result == DMARC_PASS)
		row->disposition = REPORT_DIS_PASS;
	else {
		enum dmarc_policy d = enforced ? v->disposition
					       : DMARC_POLICY_NONE;

		row->disposition = d == DMARC_POLICY_REJECT ? REPORT_DIS_REJECT
				   : d == DMARC_POLICY_QUARANTINE
				       ? REPORT_DIS_QUARANTINE
				       : REPORT_DIS_NONE;
		/* Why what was done differs from the policy. */
		if (m->dmarc_override != NULL)
			row->reasons |= report_reason_parse(m->dmarc_override);
		else if (!c->dmarc.enforce && v->disposition != DMARC_POLICY_NONE)
			row->reasons |= REPORT_REASON_LOCAL_POLICY;
		if (v->testing)
			row->reasons |= REPORT_REASON_POLICY_TEST_MODE;
		if (v->sample == DMARC_SAMPLE_OUT)
			row->reasons |= REPORT_REASON_OTHER;
	}
	report_name(row->header_from, sizeof(row->header_from), from_domain);
	report_name(
	    row->envelope_from, sizeof(row->envelope_from), m->mf_domain);
	report_name(row->envelope_to, sizeof(row->envelope_to), m->rcpt_domain);

	n = m->dv != NULL ? dkim_verify_count(m->dv) : 0;
	for (i = 0; i < n && row->ndkim < REPORT_MAX_DKIM; i++) {
		const struct dkim_result *d = dkim_verify_result(m->dv, i);
		struct report_dkim       *k = &row->dkim[row->ndkim];

		report_name(k->domain, sizeof(k->domain), d->domain);
		report_name(k->selector, sizeof(k->selector), d->selector);
		if (k->domain[0] == '\0' || k->selector[0] == '\0') {
			memset(k, 0, sizeof(*k)); /* the schema needs both */
			continue;
		}
		k->result = report_dkim_of(d->status);
		row->ndkim++;
	}
	if (m->spf_mfrom.started && m->spf_mfrom.domain != NULL) {
		report_name(row->spf_domain, sizeof(row->spf_domain),
		    m->spf_mfrom.domain);
		row->has_spf = row->spf_domain[0] != '\0';
		row->spf_result =
		    row->has_spf ? report_spf_of(m->spf_mfrom.result) : 0;
	}
	m->have_report = row->pol.domain[0] != '\0' &&
			 row->header_from[0] != '\0';
}

static void
eom_dmarc(struct msgauth *m, struct msgauth_reply *r)
{
	const struct am_conf  *c = m->ctx->conf;
	struct from_info       fi;
	struct dmarc_auth      auth = {0};
	struct dmarc_auth_dkim dk[MSGAUTH_MAX_DKIM];
	struct dmarc_verdict   v, worst;
	const char            *worst_domain = NULL;
	char                   comment[160], np[32], tw[64];
	bool                   defer = c->on_dns_error == CONF_TEMPFAIL;
	size_t                 i, n;

	from_info_get(m, &fi);
	if (fi.oom) {
		m->out_oom = true; /* not a From that does not parse */
		return;
	}
	if (fi.problem != NULL &&
	    (c->dmarc.multiple_from == CONF_MULTI_FROM_REJECT ||
		fi.ndomains == 0 || fi.too_many || fi.incomplete)) {
		/* RFC 9989 leaves these to local policy; they are where a
		 * forged author hides, so they never pass and are never "no
		 * DMARC". "strictest" can only judge the domains it has: an
		 * address it could not read or without a domain (its author
		 * unknown) is rejected all the same, and so are too many
		 * domains to evaluate (never a DNS temperror: on_dns_error =
		 * "accept" would let a p=reject author through behind a list
		 * of throwaways). */
		result_add(m, "dmarc", "permerror", fi.problem, "header",
		    "from", fi.ndomains > 0 ? fi.domains[0] : NULL, NULL);
		if (c->dmarc.enforce)
			reply_set(r, MSGAUTH_REJECT, "550", "5.7.1",
			    "Message rejected: %s (RFC 5322 3.6.2 asks for one "
			    "author domain)",
			    fi.problem);
		return;
	}
	if (m->spf_mfrom.started) {
		auth.spf = m->spf_mfrom.result == SPF_PASS ? DMARC_AUTH_PASS
			   : m->spf_mfrom.result == SPF_TEMPERROR
			       ? DMARC_AUTH_TEMPERROR
			       : DMARC_AUTH_OTHER;
		auth.spf_domain = m->spf_mfrom.domain;
	}
	n = m->dv != NULL ? dkim_verify_count(m->dv) : 0;
	for (i = 0; i < n && i < MSGAUTH_MAX_DKIM; i++) {
		const struct dkim_result *d = dkim_verify_result(m->dv, i);

		dk[i].domain = d->domain;
		dk[i].testing = d->testing;
		dk[i].result = d->status == DKIM_PASS && pass_counts(c, d)
				   ? DMARC_AUTH_PASS
			       : d->status == DKIM_TEMPERROR
				   ? DMARC_AUTH_TEMPERROR
				   : DMARC_AUTH_OTHER;
	}
	auth.ndkim = i;
	auth.dkim = dk;
	dmarc_settle(m, &fi, &auth);
	memset(&worst, 0, sizeof(worst));
	for (i = 0; i < fi.ndomains; i++) {
		dmarc_evaluate(m->dm, fi.domains[i], &auth, &v);
		if (worst_domain == NULL ||
		    verdict_rank(&v, defer) > verdict_rank(&worst, defer)) {
			worst = v;
			worst_domain = fi.domains[i];
		}
	}
	/* np only when the record has it: it has no fallback to show. */
	np[0] = '\0';
	if (worst.np != DMARC_POLICY_UNSPEC)
		snprintf(np, sizeof(np), " np=%s", dmarc_policy_str(worst.np));
	if (worst.result != DMARC_PASS && worst.result != DMARC_FAIL)
		snprintf(comment, sizeof(comment), "%s", worst.reason);
	else {
		testing_words(
		    &worst, c->dmarc.pct == CONF_PCT_SAMPLE, tw, sizeof(tw));
		snprintf(comment, sizeof(comment), "p=%s sp=%s%s dis=%s%s",
		    policy_name(worst.p, DMARC_POLICY_NONE),
		    policy_name(worst.sp, worst.p), np,
		    policy_name(worst.disposition, DMARC_POLICY_NONE), tw);
	}
	/* Local policy (RFC 9989 4.8 leaves the action to the receiver):
	 * the result stands and is reported, with the reason RFC 9990's
	 * PolicyOverrideType names, and nothing is enforced. A trusted
	 * forwarder (a mailing list, a forwarding service) breaks the
	 * author's signatures; an exempt author domain is the
	 * administrator's call. Only a fail or a temperror that would defer
	 * is overridden: no action to set aside otherwise. */
	if (worst.result == DMARC_FAIL ||
	    (worst.result == DMARC_TEMPERROR && temperror_defers(&worst))) {
		bool exempt = fi.ndomains > 0;

		for (i = 0; i < fi.ndomains; i++)
			exempt = exempt && conf_dmarc_exempt(c, fi.domains[i]);
		if (m->forwarder)
			m->dmarc_override = "trusted_forwarder";
		else if (exempt)
			m->dmarc_override = "local_policy";
	}
	if (m->dmarc_override != NULL) {
		size_t len = strlen(comment);

		snprintf(comment + len, sizeof(comment) - len, "%soverride=%s",
		    len > 0 ? " " : "", m->dmarc_override);
	}
	result_add(m, "dmarc", dmarc_result_str(worst.result), comment,
	    "header", "from", worst_domain, "policy", "dmarc",
	    worst.result == DMARC_FAIL ? dmarc_policy_str(worst.disposition)
				       : NULL,
	    NULL);
	report_fill(m, &worst, worst_domain,
	    c->dmarc.enforce && m->dmarc_override == NULL);
	if (!c->dmarc.enforce || m->dmarc_override != NULL)
		return;
	if (worst.result == DMARC_FAIL &&
	    worst.disposition == DMARC_POLICY_REJECT) {
		reply_set(r, MSGAUTH_REJECT, "550", "5.7.1",
		    "Email rejected per DMARC policy for %s", worst_domain);
	} else if (worst.result == DMARC_FAIL &&
		   worst.disposition == DMARC_POLICY_QUARANTINE &&
		   c->dmarc.quarantine == CONF_QUARANTINE_HOLD) {
		r->verdict = MSGAUTH_QUARANTINE;
		snprintf(m->quarantine_reason, sizeof(m->quarantine_reason),
		    "DMARC policy quarantine for %s", worst_domain);
	} else if (defer && temperror_defers(&worst)) {
		reply_set(r, MSGAUTH_TEMPFAIL, "451", "4.7.1",
		    "Temporary DNS error evaluating DMARC for %s, try again "
		    "later",
		    worst_domain);
	}
}

/* Appends the words of text, each after a space or, where it would pass
 * column 78 (RFC 5322 2.1.1), after a fold; *col is the current column.
 * Returns 0, or -1 when b is full or out of memory. */
static int
fold_words(struct buf *b, size_t *col, const char *text)
{
	const char *p = text, *e;
	size_t      n;
	int         rc = 0;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return rc;
		e = strchr(p, ' ');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (*col + 1 + n > 78 && *col > 8) {
			rc |= buf_append(b, "\n\t", 2);
			*col = 8;
		} else {
			rc |= buf_append_char(b, ' ');
			(*col)++;
		}
		rc |= buf_append(b, p, n);
		*col += n;
		p += n;
	}
}

/* Appends s as the inside of a quoted-string (RFC 5322 3.2.4): quote and
 * backslash escaped. s is already printable (str_printable). 0 or -1. */
static int
append_quoted(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			rc |= buf_append_char(b, '\\');
		rc |= buf_append_char(b, *s);
	}
	return rc;
}

/* RFC 7208 9.1: Received-SPF for the MAIL FROM identity (or HELO, when
 * that is all there was). NULL when no SPF ran, or with *oom set when the
 * field could not be made whole. */
static char *
received_spf(const struct msgauth *m, bool *oom)
{
	const struct spf_run *s =
	    m->spf_mfrom.started ? &m->spf_mfrom : &m->spf_helo;
	const char *rcv = m->ctx->conf->authserv_id;
	const char *why;
	char        helo[256], sender[600], why_p[300], *v;
	struct buf  b, t;
	size_t      col = sizeof("Received-SPF:") - 1;
	int         rc = 0;

	if (!s->started)
		return NULL;
	why = spf_reason(s->q);
	str_printable(helo, sizeof(helo), s->helo, strlen(s->helo));
	str_printable(sender, sizeof(sender), s->sender, strlen(s->sender));
	str_printable(why_p, sizeof(why_p), why, strlen(why));
	buf_init(&b, 4096);
	buf_init(&t, 4096);
	rc |= fold_words(&b, &col, spf_result_str(s->result));
	if (s->result == SPF_PASS)
		rc |= buf_printf(&t,
		    "(%s: domain of %s designates %s as permitted "
		    "sender)",
		    rcv, sender, m->addr_text);
	else if (s->result == SPF_FAIL || s->result == SPF_SOFTFAIL)
		rc |= buf_printf(&t,
		    "(%s: domain of %s does not designate %s as "
		    "permitted sender)",
		    rcv, sender, m->addr_text);
	else
		rc |= buf_printf(&t, "(%s: %s)", rcv,
		    why_p[0] ? why_p : spf_result_str(s->result));
	/* A comment may not hold unescaped parentheses of its own. */
	for (char *p = t.data != NULL ? t.data + 1 : NULL;
	     p != NULL && *p != '\0'; p++)
		if ((*p == '(' || *p == ')' || *p == '\\') && p[1] != '\0')
			*p = ' ';
	rc |= fold_words(&b, &col, buf_cstr(&t));
	buf_reset(&t);
	/* The sender and the HELO argument (the client's text) go in quoted
	 * strings: quote and backslash escaped, so neither can close the
	 * string and add key-value pairs of its own. */
	rc |= buf_printf(&t, "client-ip=%s; envelope-from=\"", m->addr_text);
	rc |= append_quoted(&t, sender);
	rc |= buf_append_str(&t, "\"; helo=\"");
	rc |= append_quoted(&t, helo);
	rc |= buf_printf(&t, "\"; receiver=%s; identity=%s;", rcv,
	    s == &m->spf_mfrom ? "mailfrom" : "helo");
	rc |= fold_words(&b, &col, buf_cstr(&t));
	buf_free(&t);
	v = rc == 0 ? buf_take(&b) : NULL;
	buf_free(&b);
	if (v == NULL)
		*oom = true;
	return v;
}

/* The summary line: every result as method=result ptype.prop=value, then
 * the action. */
static void
summary_build(struct msgauth *m, const struct msgauth_result *res)
{
	char   v[300];
	size_t i, j;

	buf_reset(&m->summary);
	buf_append_str(&m->summary, m->helo_summary);
	for (i = 0; i < m->nresults; i++) {
		const struct result *r = &m->results[i];

		buf_printf(&m->summary, "%s=%s ", r->method, r->result);
		for (j = 0; j < r->nprops; j++) {
			char *sp;

			/* Spaces separate the line's fields (a contract,
			 * authmilter(8)); an i= local-part may hold one. */
			str_printable(v, sizeof(v), r->prop[j].value,
			    strlen(r->prop[j].value));
			while ((sp = strchr(v, ' ')) != NULL)
				*sp = '?';
			buf_printf(&m->summary, "%s.%s=%s ", r->prop[j].ptype,
			    r->prop[j].property, v);
		}
	}
	if (m->dkim_ignored > 0)
		buf_printf(&m->summary, "dkim_ignored=%zu ", m->dkim_ignored);
	if (m->dkim_unlisted > 0)
		buf_printf(&m->summary, "dkim_unlisted=%zu ", m->dkim_unlisted);
	/* Each also has dkim=policy (verification budget exceeded). */
	if (m->dv != NULL && dkim_verify_over_budget(m->dv) > 0)
		buf_printf(&m->summary, "dkim_over_budget=%zu ",
		    dkim_verify_over_budget(m->dv));
	if (m->results_dropped > 0)
		buf_printf(
		    &m->summary, "results_dropped=%zu ", m->results_dropped);
	if (m->dmarc_override != NULL)
		buf_printf(&m->summary, "override=%s ", m->dmarc_override);
	if (m->outbound)
		buf_printf(
		    &m->summary, "outbound signatures=%zu ", m->nsig_values);
	buf_printf(
	    &m->summary, "action=%s", msgauth_verdict_str(res->reply.verdict));
	if (res->reply.verdict == MSGAUTH_REJECT ||
	    res->reply.verdict == MSGAUTH_TEMPFAIL)
		buf_printf(&m->summary, " reply=\"%s %s %s\"", res->reply.code,
		    res->reply.xcode, res->reply.text);
}

/* Appends an edit, growing the list: no fixed array limits how many
 * forged fields are deleted. An edit that cannot be recorded sets out_oom,
 * and the message tempfails (msgauth_eom). */
static void
edit_add(struct msgauth *m, enum msgauth_edit_type type, const char *name,
    const char *value, size_t index)
{
	if (m->nedits == m->edits_cap) {
		size_t               cap = m->edits_cap ? m->edits_cap * 2 : 16;
		struct msgauth_edit *ne;

		if (cap > SIZE_MAX / sizeof(*ne) ||
		    (ne = realloc(m->edits, cap * sizeof(*ne))) == NULL) {
			m->out_oom = true;
			return;
		}
		m->edits = ne;
		m->edits_cap = cap;
	}
	m->edits[m->nedits++] = (struct msgauth_edit){
	    .type = type, .name = name, .value = value, .index = index};
}

/* RFC 8601 5: every Authentication-Results field that claims our
 * authserv-id (or may: authres_is_ours fails closed) is removed, from the
 * last one back so that the indexes of those before stay right (OpenDKIM
 * CVE-2022-48521). The walk goes backwards, so no list of indexes is
 * kept: there is no limit on how many are removed. */
static void
eom_strip_forged(struct msgauth *m)
{
	size_t n = hdr_list_count(m->hdrs), i;
	size_t k = hdr_list_count_name(m->hdrs, AR_NAME);

	for (i = n; i > 0 && k > 0; i--) {
		const struct hdr_field *f = hdr_list_get(m->hdrs, i - 1);

		if (!hdr_name_is(f, AR_NAME))
			continue;
		if (authres_is_ours(
			f->value, f->vallen, m->ctx->conf->authserv_id))
			edit_add(m, MSGAUTH_EDIT_DELETE, AR_NAME, NULL, k);
		k--;
	}
}

/* Unsigned mail would fail DMARC at its destination: a signing failure
 * tempfails the message (the MTA tries again), unless dkim.sign.on_error
 * is "accept"; either way the summary says dkim-sign=error. */
static void
sign_failed(struct msgauth *m, struct msgauth_result *res, const char *why)
{
	result_add(m, "dkim-sign", "error", why, NULL);
	if (m->ctx->conf->dkim.sign.on_error == CONF_ACCEPT)
		return;
	reply_set(&res->reply, MSGAUTH_TEMPFAIL, "451", "4.3.0",
	    "DKIM signing failed, try again later");
}

static void
eom_sign(struct msgauth *m, struct msgauth_result *res)
{
	size_t i, n;

	if (m->sign_failed || dkim_sign_eom(m->ds, m->hdrs, &m->sign_err) < 0) {
		sign_failed(m, res, m->sign_err.msg);
		return;
	}
	n = dkim_sign_count(m->ds);
	if (n > MSGAUTH_MAX_SIGN_KEYS) {
		sign_failed(m, res, "more signatures than keys");
		return;
	}
	for (i = 0; i < n; i++) {
		const char *field = dkim_sign_field(m->ds, i);
		const char *colon = strchr(field, ':');
		char       *v = strdup(colon ? colon + 1 : ""), *p, *q;

		if (v == NULL) {
			/* A signature left out is mail sent less signed than
			 * configured: the whole signing failed. */
			sign_failed(m, res, "out of memory");
			return;
		}
		/* MTAs take folds in milter header values as LF. */
		for (p = q = v; *p != '\0'; p++)
			if (*p != '\r')
				*q++ = *p;
		*q = '\0';
		m->sig_values[m->nsig_values++] = v;
	}
	/* The log line names each signature (dkim_sign signs with every key,
	 * in order, or fails): an administrator rotating keys sees which one
	 * signed without opening the mail. */
	for (i = 0; i < n; i++)
		result_add(m, "dkim-sign", "signed", NULL, "header", "d",
		    m->sign_keys[i].domain, "header", "s",
		    m->sign_keys[i].selector, "header", "a",
		    dkim_alg_str(m->sign_keys[i].alg), NULL);
	/* Inserted at the top one after the other, so the last goes first:
	 * insert in reverse to keep the signing order. */
	for (i = m->nsig_values; i > 0; i--)
		edit_add(m, MSGAUTH_EDIT_INSERT, "DKIM-Signature",
		    m->sig_values[i - 1], 0);
}

/* Ends a message whose edits are not all known: tempfail, whatever
 * on_internal_error says, since forged fields may remain. */
static void
eom_local_error(struct msgauth_result *res)
{
	reply_set(&res->reply, MSGAUTH_TEMPFAIL, "451", "4.3.0",
	    "local error, try again later");
	res->quarantine_reason = NULL;
}

void
msgauth_eom(struct msgauth *m, struct msgauth_result *res)
{
	const struct am_conf *c;
	struct authres       *ar;
	size_t                i;

	memset(res, 0, sizeof(*res));
	res->reply.verdict = MSGAUTH_ACCEPT;
	msg_clear_output(m);
	if (m->ctx == NULL) {
		/* An end of message without MAIL FROM: nothing to add. */
		res->summary = "no transaction";
		return;
	}
	c = m->ctx->conf;
	if (m->hdr_overflow) {
		/* Rejected: nothing is delivered, so nothing to remove. */
		reply_set(&res->reply, MSGAUTH_REJECT, "552", "5.3.4",
		    "Message header exceeds %d fields or %d bytes (%s)",
		    HDR_MAX_FIELDS, HDR_MAX_BYTES, m->hdr_overflow_at);
		summary_build(m, res);
		res->summary = buf_cstr(&m->summary);
		msg_clear_work(m);
		return;
	}
	if (m->hdr_oom) {
		/* A field is missing from the list: the indexes of forged
		 * fields after it are unknown. */
		eom_local_error(res);
		summary_build(m, res);
		res->summary = buf_cstr(&m->summary);
		msg_clear_work(m);
		return;
	}
	/* First, on every path that may deliver. */
	eom_strip_forged(m);
	if (m->failed) {
		if (c->on_internal_error == CONF_TEMPFAIL)
			reply_set(&res->reply, MSGAUTH_TEMPFAIL, "451", "4.3.0",
			    "local error, try again later");
	} else if (m->outbound) {
		if (m->ds != NULL || m->sign_failed)
			eom_sign(m, res);
	} else {
		eom_wait(m);
		eom_spf(m);
		if (m->dv != NULL)
			eom_dkim(m);
		if (m->dm != NULL)
			eom_dmarc(m, &res->reply);
		if (c->spf.received_spf &&
		    (m->rspf_value = received_spf(m, &m->out_oom)) != NULL)
			edit_add(m, MSGAUTH_EDIT_INSERT, "Received-SPF",
			    m->rspf_value, 0);
		if ((ar = authres_new(c->authserv_id)) != NULL) {
			for (i = 0; i < m->nresults; i++)
				if (authres_add(ar, m->results[i].method,
					m->results[i].result,
					m->results[i].reason,
					m->results[i].prop,
					m->results[i].nprops) < 0)
					m->results_dropped++;
			m->ar_value = authres_value(ar);
			authres_free(ar);
		}
		if (m->ar_value != NULL)
			edit_add(
			    m, MSGAUTH_EDIT_INSERT, AR_NAME, m->ar_value, 0);
		else if (c->on_internal_error == CONF_TEMPFAIL)
			reply_set(&res->reply, MSGAUTH_TEMPFAIL, "451", "4.3.0",
			    "local error, try again later");
	}
	if (res->reply.verdict == MSGAUTH_QUARANTINE)
		res->quarantine_reason = m->quarantine_reason;
	/* Every edit and result recorded, or the message tempfails. */
	if (m->out_oom)
		eom_local_error(res);
	else {
		res->edit = m->edits;
		res->nedits = m->nedits;
	}
	summary_build(m, res);
	res->summary = buf_cstr(&m->summary);
	msg_clear_work(m);
}
