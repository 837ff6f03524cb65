/*
 * rx_summary: a summary of received DMARC aggregate reports and a
 * verdict. See rx_summary.h for the thresholds and the limits.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "ipaddr.h"
#include "rx_summary.h"
#include "str.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The org table: open addressing over a power of two above twice
 * RX_MAX_ORGS, so that a probe always ends. */
#define ORG_SLOTS   32768
#define NO_ORG      UINT32_MAX
#define MAX_REASONS 12

/* One source IP. Kept small: a million of them is about 100 MB. The
 * strings a table shows (PTR name, org names) live in the published
 * copy (struct pub), made only for the few sources that are shown. */
struct src {
	char     ip[REPORT_IP_MAX + 1];
	uint8_t  norgs;
	bool     more_orgs;
	bool     other; /* the bucket past max_sources */
	uint8_t  spf;   /* enum rx_spf */
	uint8_t  cls;   /* enum rx_class */
	uint32_t orgs[RX_ORGS_PER_SOURCE];
	uint32_t next; /* hash chain: index + 1; 0 ends it */
	uint32_t pub;  /* published copy: index + 1; 0 none */
	uint64_t messages, pass, dkim, spf_aligned;
};

struct pub {
	struct rx_source s;
	char             ptr[RX_PTR_MAX + 1];
};

struct rx_summary {
	struct rx_summary_params p;
	int64_t                  day0;
	bool                     finished;
	/* Sources: an array grown by doubling, and a chained hash. */
	struct src *src;
	size_t      nsrc, capsrc;
	uint32_t   *heads;
	size_t      nheads; /* a power of two */
	struct src  other;  /* sources past max_sources */
	/* Orgs. */
	char    **orgs;
	size_t    norgs;
	uint32_t *org_slots;
	bool      orgs_full;
	/* The report last seen (rows of one report come together). */
	uint32_t           last_org;
	char               last_id[256];
	int64_t            last_begin, last_end;
	bool               have_last;
	int64_t            latest_begin; /* the newest report's policy */
	bool               have_policy;
	enum report_policy latest_p;
	bool               latest_testing;
	/* Per day. */
	struct rx_day *days;
	bool          *enforced;
	/* Totals. */
	struct rx_result r;
	/* Published sources and their lists. */
	struct pub              *pubs;
	size_t                   npubs, cappubs;
	const struct rx_source **listed, **failing;
	char                    *reasons[MAX_REASONS];
};

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* floor(a * 10000 / b), exact while a * 10000 fits; at most 10000. */
static unsigned
bp(uint64_t a, uint64_t b)
{
	uint64_t v;

	if (b == 0)
		return 0;
	if (a <= UINT64_MAX / 10000)
		v = a * 10000 / b;
	else
		v = (uint64_t)((long double)a * 10000.0L / (long double)b);
	return v > 10000 ? 10000 : (unsigned)v;
}

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct rx_summary *
rx_summary_new(const struct rx_summary_params *params)
{
	struct rx_summary *s;
	size_t             ndays;

	if (params->since > params->now)
		return NULL;
	ndays = (size_t)((report_day(params->now) - report_day(params->since)) /
			 86400) +
		1;
	if (ndays > RX_MAX_DAYS)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->p = *params;
	if (s->p.domain == NULL)
		s->p.domain = "";
	if (s->p.max_sources == 0 || s->p.max_sources > UINT32_MAX - 1)
		s->p.max_sources = RX_MAX_SOURCES;
	if (s->p.max_checked == 0)
		s->p.max_checked = RX_MAX_CHECKED;
	if (s->p.max_listed == 0)
		s->p.max_listed = RX_MAX_LISTED;
	s->day0 = report_day(params->since);
	s->r.since = params->since;
	s->r.now = params->now;
	s->r.ndays = ndays;
	s->nheads = 1024;
	s->days = calloc(ndays, sizeof(*s->days));
	s->enforced = calloc(ndays, sizeof(*s->enforced));
	s->heads = calloc(s->nheads, sizeof(*s->heads));
	s->org_slots = malloc(ORG_SLOTS * sizeof(*s->org_slots));
	s->orgs = calloc(RX_MAX_ORGS, sizeof(*s->orgs));
	if (s->days == NULL || s->enforced == NULL || s->heads == NULL ||
	    s->org_slots == NULL || s->orgs == NULL) {
		rx_summary_free(s);
		return NULL;
	}
	memset(s->org_slots, 0xff, ORG_SLOTS * sizeof(*s->org_slots));
	for (size_t i = 0; i < ndays; i++)
		s->days[i].day = s->day0 + (int64_t)i * 86400;
	s->other.cls = RX_CLASS_UNCHECKED;
	s->r.days = s->days;
	return s;
}

void
rx_summary_free(struct rx_summary *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->norgs; i++)
		free(s->orgs[i]);
	for (i = 0; i < MAX_REASONS; i++)
		free(s->reasons[i]);
	free(s->orgs);
	free(s->org_slots);
	free(s->src);
	free(s->heads);
	free(s->days);
	free(s->enforced);
	free(s->pubs);
	free(s->listed);
	free(s->failing);
	free(s);
}

/* The org's index, interned; NO_ORG past RX_MAX_ORGS (or out of memory,
 * which only loses a name). */
static uint32_t
org_index(struct rx_summary *s, const char *org)
{
	size_t   len = strnlen(org, RX_ORG_MAX);
	uint32_t h = 2166136261u, i;
	size_t   k;

	for (k = 0; k < len; k++)
		h = (h ^ (unsigned char)org[k]) * 16777619u;
	for (i = h & (ORG_SLOTS - 1);; i = (i + 1) & (ORG_SLOTS - 1)) {
		uint32_t x = s->org_slots[i];

		if (x == NO_ORG)
			break;
		if (strlen(s->orgs[x]) == len &&
		    memcmp(s->orgs[x], org, len) == 0)
			return x;
	}
	if (s->norgs >= RX_MAX_ORGS) {
		s->orgs_full = true;
		return NO_ORG;
	}
	if ((s->orgs[s->norgs] = str_ndup(org, len)) == NULL)
		return NO_ORG;
	s->org_slots[i] = (uint32_t)s->norgs;
	return (uint32_t)s->norgs++;
}

static int
grow_heads(struct rx_summary *s)
{
	size_t    n = s->nheads * 2, i;
	uint32_t *h = calloc(n, sizeof(*h));

	if (h == NULL)
		return -1;
	for (i = 0; i < s->nsrc; i++) {
		uint32_t b = hash(s->src[i].ip) & (uint32_t)(n - 1);

		s->src[i].next = h[b];
		h[b] = (uint32_t)(i + 1);
	}
	free(s->heads);
	s->heads = h;
	s->nheads = n;
	return 0;
}

/* The source for ip, made when new; the "other" bucket past the cap;
 * NULL when out of memory. */
static struct src *
source(struct rx_summary *s, const char *ip)
{
	uint32_t    b = hash(ip) & (uint32_t)(s->nheads - 1), x;
	struct src *e;

	for (x = s->heads[b]; x != 0; x = s->src[x - 1].next)
		if (strcmp(s->src[x - 1].ip, ip) == 0)
			return &s->src[x - 1];
	if (s->nsrc >= s->p.max_sources) {
		s->other.other = true;
		return &s->other;
	}
	if (s->nsrc == s->capsrc) {
		size_t      n = s->capsrc == 0 ? 256 : s->capsrc * 2;
		struct src *v;

		if (n > s->p.max_sources)
			n = s->p.max_sources;
		if ((v = realloc(s->src, n * sizeof(*v))) == NULL)
			return NULL;
		s->src = v;
		s->capsrc = n;
	}
	if (s->nsrc >= s->nheads) {
		if (grow_heads(s) < 0)
			return NULL;
		b = hash(ip) & (uint32_t)(s->nheads - 1);
	}
	e = &s->src[s->nsrc];
	memset(e, 0, sizeof(*e));
	str_lcpy(e->ip, ip, sizeof(e->ip));
	e->next = s->heads[b];
	s->heads[b] = (uint32_t)++s->nsrc;
	return e;
}

static void
source_org(struct src *e, uint32_t org)
{
	size_t i;

	if (org == NO_ORG) {
		e->more_orgs = true;
		return;
	}
	for (i = 0; i < e->norgs; i++)
		if (e->orgs[i] == org)
			return;
	if (e->norgs < RX_ORGS_PER_SOURCE)
		e->orgs[e->norgs++] = org;
	else
		e->more_orgs = true;
}

static size_t
day_index(const struct rx_summary *s, int64_t t)
{
	int64_t d = report_day(t);

	if (d < s->day0)
		return 0;
	if ((uint64_t)(d - s->day0) / 86400 >= s->r.ndays)
		return s->r.ndays - 1;
	return (size_t)((d - s->day0) / 86400);
}

/* The days of the period that [begin, end] touches, into *lo_r..*hi_r;
 * false when none. A date range that ends at a midnight (end = begin +
 * 86400, as some receivers write it) does not touch the next day. */
static bool
day_range(const struct rx_summary *s, const struct rx_meta *m, size_t *lo_r,
    size_t *hi_r)
{
	int64_t b = m->begin, e = m->end > m->begin ? m->end - 1 : m->begin;

	if (e < s->r.since || b > s->r.now)
		return false;
	*lo_r = day_index(s, b < s->r.since ? s->r.since : b);
	*hi_r = day_index(s, e > s->r.now ? s->r.now : e);
	return true;
}

static void
new_report(struct rx_summary *s, const struct rx_meta *m,
    const struct report_policy_pub *pol)
{
	bool enforced = pol->p >= REPORT_POLICY_QUARANTINE &&
			pol->p <= REPORT_POLICY_REJECT && !pol->testing;
	size_t lo, hi;

	s->r.reports++;
	if (day_range(s, m, &lo, &hi))
		for (; lo <= hi; lo++) {
			s->days[lo].covered = true;
			s->enforced[lo] |= enforced;
		}
	if (!s->have_policy || m->begin >= s->latest_begin) {
		s->have_policy = true;
		s->latest_begin = m->begin;
		s->latest_p = pol->p;
		s->latest_testing = pol->testing;
	}
}

int
rx_summary_add(struct rx_summary *s, const struct rx_meta *m,
    const struct report_row *row, uint64_t count, struct am_err *err)
{
	const struct report_policy_pub *pol =
	    m->pol != NULL ? m->pol : &row->pol;
	const char    *id = m->report_id != NULL ? m->report_id : "";
	char           ip[REPORT_IP_MAX + 1];
	struct ipaddr  a;
	struct src    *e;
	struct rx_day *d;
	uint32_t       org;
	bool           pass;

	if (s->finished)
		return am_err_set(
		    err, "rx_summary_add after rx_summary_finish");
	if (count == 0)
		return 0;
	org = org_index(s, m->org != NULL ? m->org : "");
	if (!s->have_last || org != s->last_org || m->begin != s->last_begin ||
	    m->end != s->last_end ||
	    strncmp(id, s->last_id, sizeof(s->last_id) - 1) != 0) {
		s->have_last = true;
		s->last_org = org;
		s->last_begin = m->begin;
		s->last_end = m->end;
		str_lcpy(s->last_id, id, sizeof(s->last_id));
		new_report(s, m, pol);
	}
	/* One text form per address, so that 2001:DB8::1 and 2001:db8::1
	 * are one source; anything else is kept as reported. */
	memcpy(ip, row->source_ip, sizeof(ip) - 1);
	ip[sizeof(ip) - 1] = '\0';
	if (ipaddr_parse(&a, ip))
		ipaddr_str(&a, ip, sizeof(ip));
	if ((e = source(s, ip)) == NULL)
		return am_err_set(err, "out of memory");
	pass = row->dkim_aligned || row->spf_aligned;
	s->r.total = sat_add(s->r.total, count);
	e->messages = sat_add(e->messages, count);
	if (pass) {
		s->r.pass = sat_add(s->r.pass, count);
		e->pass = sat_add(e->pass, count);
	}
	if (row->dkim_aligned) {
		s->r.dkim_aligned = sat_add(s->r.dkim_aligned, count);
		e->dkim = sat_add(e->dkim, count);
	}
	if (row->spf_aligned) {
		s->r.spf_aligned = sat_add(s->r.spf_aligned, count);
		e->spf_aligned = sat_add(e->spf_aligned, count);
	}
	{
		unsigned k = (unsigned)row->disposition < 4
				 ? (unsigned)row->disposition
				 : 0;

		s->r.dispositions[k] = sat_add(s->r.dispositions[k], count);
	}
	d = &s->days[day_index(s, m->begin)];
	if (pass)
		d->pass = sat_add(d->pass, count);
	else
		d->fail = sat_add(d->fail, count);
	source_org(e, org);
	return 0;
}

/* Sorts: by messages, descending, then by IP. */
static int
by_volume(const void *a, const void *b)
{
	const struct src *x = *(const struct src *const *)a,
			 *y = *(const struct src *const *)b;

	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->ip, y->ip);
}

/* By messages not DKIM-aligned, then by volume. */
static int
by_failing(const void *a, const void *b)
{
	const struct src *x = *(const struct src *const *)a,
			 *y = *(const struct src *const *)b;
	uint64_t fx = x->messages - x->dkim, fy = y->messages - y->dkim;

	if (fx != fy)
		return fx > fy ? -1 : 1;
	return by_volume(a, b);
}

/* The published copy of e, with its PTR name asked for once. */
static const struct rx_source *
publish(struct rx_summary *s, struct src *e)
{
	struct pub *p;
	size_t      i;

	if (e->pub != 0)
		return &s->pubs[e->pub - 1].s;
	if (s->npubs == s->cappubs)
		return NULL; /* sized in finish(): not reached */
	p = &s->pubs[s->npubs];
	memset(p, 0, sizeof(*p));
	p->s.ip = e->ip;
	p->s.ptr = p->ptr;
	if (!e->other && e->ip[0] != '\0' && s->p.ptr_name != NULL &&
	    !s->p.ptr_name(s->p.cb_arg, e->ip, p->ptr, sizeof(p->ptr)))
		p->ptr[0] = '\0';
	p->ptr[sizeof(p->ptr) - 1] = '\0';
	for (i = 0; i < e->norgs; i++)
		p->s.orgs[i] = s->orgs[e->orgs[i]];
	p->s.norgs = e->norgs;
	p->s.more_orgs = e->more_orgs;
	p->s.messages = e->messages;
	p->s.pass = e->pass;
	p->s.dkim_aligned = e->dkim;
	p->s.spf_aligned = e->spf_aligned;
	p->s.spf = (enum rx_spf)e->spf;
	p->s.cls = (enum rx_class)e->cls;
	p->s.other = e->other;
	e->pub = (uint32_t)++s->npubs;
	return &p->s;
}

/* "Classes of sources" in rx_summary.h. Receivers that saw SPF pass for
 * an aligned domain are as good a proof of authorization as our own check
 * now: either way the source is allowed to send for us. */
static enum rx_class
classify(const struct src *e)
{
	bool auth = e->spf_aligned > 0 || e->spf == RX_SPF_AUTHORIZED;

	if (e->other)
		return e->dkim == e->messages ? RX_CLASS_ALIGNED
					      : RX_CLASS_UNCHECKED;
	if (e->dkim == e->messages)
		return !auth && e->spf == RX_SPF_NOT_AUTHORIZED
			   ? RX_CLASS_FORWARDER
			   : RX_CLASS_ALIGNED;
	if (auth)
		return RX_CLASS_AUTHORIZED;
	if (e->spf == RX_SPF_NOT_AUTHORIZED)
		return e->dkim > 0 ? RX_CLASS_FORWARDER : RX_CLASS_UNAUTHORIZED;
	return RX_CLASS_UNCHECKED;
}

static void
pct(struct buf *b, unsigned v)
{
	buf_printf(b, "%u.%02u%%", v / 100, v % 100);
}

/* "ip (ptr)" in printable ASCII. */
static void
name(struct buf *b, const struct rx_source *x)
{
	char t[RX_PTR_MAX + 1];

	if (x->other) {
		buf_append_str(b, "(other sources)");
		return;
	}
	buf_append_str(b,
	    x->ip[0] != '\0' ? str_printable(t, sizeof(t), x->ip, strlen(x->ip))
			     : "(no IP)");
	if (x->ptr[0] != '\0')
		buf_printf(b, " (%s)",
		    str_printable(t, sizeof(t), x->ptr, strlen(x->ptr)));
}

static int
reason(struct rx_summary *s, struct buf *b)
{
	char *t;

	if (s->r.nreasons >= MAX_REASONS) {
		buf_free(b);
		return 0;
	}
	if ((t = buf_take(b)) == NULL)
		return -1;
	s->reasons[s->r.nreasons++] = t;
	return 0;
}

/* One reason about the sources of class cls: "N sources, X% of mail,
 * WHAT: a (ptr), b, and N more". all: the sources in failing order. */
static int
class_reason(struct rx_summary *s, struct src **all, size_t n,
    enum rx_class cls, const char *what, bool whole)
{
	struct buf b;
	size_t     count = 0, named = 0, i;
	uint64_t   mail = 0;

	buf_init(&b, 4096);
	for (i = 0; i < n; i++)
		if (all[i]->cls == cls) {
			count++;
			mail = sat_add(
			    mail, whole ? all[i]->messages
					: all[i]->messages - all[i]->dkim);
		}
	if (count == 0)
		return 0;
	buf_printf(&b, "%zu source%s, ", count, count == 1 ? "" : "s");
	pct(&b, bp(mail, s->r.total));
	buf_printf(&b, " of mail, %s: ", what);
	for (i = 0; i < n && named < RX_NAMES_IN_REASON; i++)
		if (all[i]->cls == cls) {
			const struct rx_source *x = publish(s, all[i]);

			if (named++ > 0)
				buf_append_str(&b, ", ");
			if (x != NULL)
				name(&b, x);
		}
	if (count > named)
		buf_printf(&b, ", and %zu more", count - named);
	return reason(s, &b);
}

static int
verdict(struct rx_summary *s, struct src **fail, size_t nfail)
{
	struct rx_result *r = &s->r;
	unsigned          pass = bp(r->pass, r->total);
	bool              authorized = false;
	struct buf        b;
	size_t            i;

	for (i = 0; i < nfail; i++)
		authorized |= fail[i]->cls == RX_CLASS_AUTHORIZED;
	buf_init(&b, 4096);
	if (r->total == 0) {
		r->state = RX_NO_DATA;
		buf_printf(&b, "no aggregate reports about %s in the period",
		    s->p.domain);
		if (reason(s, &b) < 0)
			return -1;
		r->nblocking = 1;
		return 0;
	}
	/* What blocks quarantine. */
	if (r->covered_days < RX_MIN_DAYS) {
		buf_printf(&b, "only %zu day%s of reports (at least %d needed)",
		    r->covered_days, r->covered_days == 1 ? "" : "s",
		    RX_MIN_DAYS);
		if (reason(s, &b) < 0)
			return -1;
	}
	if (pass < RX_QUARANTINE_BP) {
		buf_append_str(&b, "DMARC pass rate ");
		pct(&b, pass);
		buf_append_str(&b, " is below ");
		pct(&b, RX_QUARANTINE_BP);
		if (reason(s, &b) < 0)
			return -1;
	}
	if (class_reason(s, fail, nfail, RX_CLASS_AUTHORIZED,
		"authorized by your SPF record but not DKIM-aligned: fix their "
		"signing",
		false) < 0)
		return -1;
	if (r->nreasons > 0 || authorized) {
		r->state = RX_NOT_READY;
	} else {
		/* Quarantine is fine; what blocks reject. */
		if (pass < RX_REJECT_BP) {
			buf_append_str(&b, "DMARC pass rate ");
			pct(&b, pass);
			buf_append_str(&b, " is below the ");
			pct(&b, RX_REJECT_BP);
			buf_append_str(&b, " needed for reject");
			if (reason(s, &b) < 0)
				return -1;
		}
		if (r->enforced_days < RX_MIN_DAYS) {
			buf_printf(&b,
			    "only %zu day%s of reports at p=quarantine or "
			    "p=reject (at least %d needed before reject)",
			    r->enforced_days, r->enforced_days == 1 ? "" : "s",
			    RX_MIN_DAYS);
			if (reason(s, &b) < 0)
				return -1;
		}
		r->state =
		    r->nreasons > 0 ? RX_READY_QUARANTINE : RX_READY_REJECT;
	}
	r->nblocking = r->nreasons;
	/* Notes: named, not blocking. */
	buf_append_str(&b, "DMARC pass rate ");
	pct(&b, pass);
	buf_printf(&b,
	    " of %llu messages over %zu day%s of reports, %zu at "
	    "p=quarantine or p=reject",
	    (unsigned long long)r->total, r->covered_days,
	    r->covered_days == 1 ? "" : "s", r->enforced_days);
	if (reason(s, &b) < 0)
		return -1;
	if (s->have_policy && s->latest_p == REPORT_POLICY_REJECT &&
	    !s->latest_testing) {
		buf_append_str(&b, "the published policy is already p=reject");
		if (reason(s, &b) < 0)
			return -1;
	}
	if (class_reason(s, fail, nfail, RX_CLASS_FORWARDER,
		"forwarders (not authorized by your SPF record, DKIM-aligned): "
		"they do not block",
		true) < 0 ||
	    class_reason(s, fail, nfail, RX_CLASS_UNAUTHORIZED,
		"neither authorized by your SPF record nor DKIM-aligned "
		"(spoofed, or senders still to set up)",
		false) < 0 ||
	    class_reason(s, fail, nfail, RX_CLASS_UNCHECKED,
		"not DKIM-aligned and not checked against your SPF record",
		false) < 0)
		return -1;
	if (s->other.messages > 0) {
		buf_printf(&b,
		    "%llu messages from sources past the limit of %zu sources "
		    "are counted together as (other sources)",
		    (unsigned long long)s->other.messages, s->p.max_sources);
		if (reason(s, &b) < 0)
			return -1;
	}
	return 0;
}

int
rx_summary_finish(struct rx_summary *s, struct am_err *err)
{
	struct rx_result *r = &s->r;
	struct src      **all = NULL, **cand = NULL;
	size_t            n = 0, nc = 0, nfail = 0, i;
	int               rc = -1;

	if (s->finished)
		return am_err_set(err, "rx_summary_finish called twice");
	s->finished = true;
	all = malloc((s->nsrc + 1) * sizeof(*all));
	cand = malloc((s->nsrc + 1) * sizeof(*cand));
	s->cappubs = 2 * s->p.max_listed + 4 * RX_NAMES_IN_REASON + 1;
	s->pubs = malloc(s->cappubs * sizeof(*s->pubs));
	s->listed = malloc(s->p.max_listed * sizeof(*s->listed));
	s->failing = malloc(s->p.max_listed * sizeof(*s->failing));
	if (all == NULL || cand == NULL || s->pubs == NULL ||
	    s->listed == NULL || s->failing == NULL) {
		am_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < s->nsrc; i++)
		all[n++] = &s->src[i];
	if (s->other.messages > 0)
		all[n++] = &s->other;
	r->nsources = n;
	r->norgs = s->norgs;
	for (i = 0; i < r->ndays; i++) {
		r->covered_days += s->days[i].covered;
		r->enforced_days += s->enforced[i];
	}
	/* Our SPF record is asked about the sources without evidence of
	 * authorization (no SPF-aligned message), the worst failing first. */
	for (i = 0; i < n; i++)
		if (!all[i]->other && all[i]->spf_aligned == 0)
			cand[nc++] = all[i];
	qsort(cand, nc, sizeof(*cand), by_failing);
	for (i = 0; i < nc && i < s->p.max_checked; i++)
		if (s->p.spf_auth != NULL)
			cand[i]->spf =
			    (uint8_t)s->p.spf_auth(s->p.cb_arg, cand[i]->ip);
	for (i = 0; i < n; i++)
		all[i]->cls = (uint8_t)classify(all[i]);
	/* The failing (and forwarder) sources, worst first, for the reasons;
	 * the listed ones by volume. */
	for (i = 0; i < n; i++)
		if (all[i]->dkim < all[i]->messages ||
		    all[i]->cls == RX_CLASS_FORWARDER)
			cand[nfail++] = all[i];
	qsort(cand, nfail, sizeof(*cand), by_failing);
	for (i = 0; i < nfail; i++)
		if (cand[i]->dkim < cand[i]->messages) {
			if (r->nfailing < s->p.max_listed)
				s->failing[r->nfailing++] = publish(s, cand[i]);
			r->nfailing_all++;
		}
	qsort(all, n, sizeof(*all), by_volume);
	for (i = 0; i < n && i < s->p.max_listed; i++)
		s->listed[r->nlisted++] = publish(s, all[i]);
	r->sources = s->listed;
	r->failing = s->failing;
	if (verdict(s, cand, nfail) < 0) {
		am_err_set(err, "out of memory");
		goto out;
	}
	r->reasons = (const char *const *)s->reasons;
	rc = 0;
out:
	free(all);
	free(cand);
	return rc;
}

const struct rx_result *
rx_summary_result(const struct rx_summary *s)
{
	return s->finished ? &s->r : NULL;
}

static const char *const state_names[] = {
    "no-data", "not-ready", "ready-for-quarantine", "ready-for-reject"};
static const char *const state_text[] = {"no data", "not ready for quarantine",
    "ready for quarantine", "ready for reject"};
static const char *const class_names[] = {
    "aligned", "authorized", "forwarder", "unauthorized", "unchecked"};
static const char *const spf_names[] = {
    "unchecked", "authorized", "not-authorized"};

const char *
rx_state_str(enum rx_state st)
{
	return (unsigned)st < NELEM(state_names) ? state_names[st] : "";
}

const char *
rx_class_str(enum rx_class c)
{
	return (unsigned)c < NELEM(class_names) ? class_names[c] : "";
}

static void
day_str(int64_t t, char out[16])
{
	time_t    tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 16, "%Y-%m-%d", &tm) == 0)
		strcpy(out, "?");
}

/*
 * UTF-8 (RFC 3629): the next code point of [*p, end), advancing *p; -1
 * for a byte that does not start a valid sequence (overlong forms,
 * surrogates and values past U+10FFFF are invalid), which advances one
 * byte.
 */
static long
utf8_next(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *s = *p;
	unsigned long        c, min;
	size_t               n, i;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 1;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 2;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 3;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		*p = s + 1;
		return -1;
	}
	if ((size_t)(end - s) <= n) {
		*p = s + 1;
		return -1;
	}
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*p = s + 1;
			return -1;
		}
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
		*p = s + 1;
		return -1;
	}
	*p = s + n + 1;
	return (long)c;
}

int
rx_json_str(struct buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	int                  rc = buf_append_char(out, '"');

	while (p < end && rc == 0) {
		long c = utf8_next(&p, end);

		if (c < 0)
			c = 0xfffd;
		if (c == '"' || c == '\\')
			rc = buf_printf(out, "\\%c", (char)c);
		else if (c >= 0x20 && c < 0x7f && c != '<' && c != '>' &&
			 c != '&')
			rc = buf_append_char(out, (char)c);
		else if (c < 0x10000)
			rc = buf_printf(out, "\\u%04lx", (unsigned long)c);
		else
			rc = buf_printf(out, "\\u%04lx\\u%04lx",
			    0xd800 + (((unsigned long)c - 0x10000) >> 10),
			    0xdc00 + (((unsigned long)c - 0x10000) & 0x3ff));
	}
	return rc < 0 ? -1 : buf_append_char(out, '"');
}

/* Code points an HTML page shows as U+FFFD: controls (C0, DEL, C1), and
 * the bidirectional overrides and isolates, which could make a hostile
 * name read as another (U+202A..U+202E, U+2066..U+2069). */
static bool
html_hidden(long c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

int
rx_html_str(struct buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	int                  rc = 0;

	while (p < end && rc == 0) {
		long c = utf8_next(&p, end);

		if (c < 0 || html_hidden(c))
			c = 0xfffd;
		switch (c) {
		case '&':
			rc = buf_append_str(out, "&amp;");
			break;
		case '<':
			rc = buf_append_str(out, "&lt;");
			break;
		case '>':
			rc = buf_append_str(out, "&gt;");
			break;
		case '"':
			rc = buf_append_str(out, "&quot;");
			break;
		case '\'':
			rc = buf_append_str(out, "&#39;");
			break;
		default:
			if (c < 0x7f)
				rc = buf_append_char(out, (char)c);
			else
				rc = buf_printf(
				    out, "&#x%lx;", (unsigned long)c);
		}
	}
	return rc;
}

/* A writer that remembers its first failure: once an append did not fit,
 * nothing more is appended, and the whole output is taken back at the
 * end, so that a cut page or object is never left in the buffer. */
struct out {
	struct buf *b;
	size_t      start;
	int         rc;
};

static void
o_str(struct out *o, const char *s)
{
	if (o->rc == 0)
		o->rc = buf_append_str(o->b, s);
}

static void
o_char(struct out *o, char c)
{
	if (o->rc == 0)
		o->rc = buf_append_char(o->b, c);
}

static void o_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
o_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->rc != 0)
		return;
	va_start(ap, fmt);
	o->rc = buf_vprintf(o->b, fmt, ap);
	va_end(ap);
}

static void
o_pct(struct out *o, unsigned v)
{
	o_printf(o, "%u.%02u%%", v / 100, v % 100);
}

static void
o_name(struct out *o, const struct rx_source *x)
{
	struct buf t;

	buf_init(&t, 1024);
	name(&t, x);
	o_str(o, buf_cstr(&t));
	buf_free(&t);
}

static void
jstr(struct out *o, const char *s)
{
	if (o->rc == 0)
		o->rc = rx_json_str(o->b, s, strlen(s));
}

static void
hstr(struct out *o, const char *s)
{
	if (o->rc == 0)
		o->rc = rx_html_str(o->b, s, strlen(s));
}

static int
o_end(struct out *o)
{
	if (o->rc == 0)
		return 0;
	o->b->len = o->start;
	if (o->b->data != NULL)
		o->b->data[o->start] = '\0';
	return -1;
}

static void
json_rate(struct out *b, const char *key, uint64_t n, uint64_t total)
{
	unsigned v = bp(n, total);

	o_printf(b, "\"%s\":%u.%02u", key, v / 100, v % 100);
}

static void
json_source(struct out *b, const struct rx_source *x)
{
	size_t i;

	o_str(b, "{\"ip\":");
	jstr(b, x->other ? "" : x->ip);
	o_str(b, ",\"ptr\":");
	if (x->ptr[0] != '\0')
		jstr(b, x->ptr);
	else
		o_str(b, "null");
	o_str(b, ",\"orgs\":[");
	for (i = 0; i < x->norgs; i++) {
		if (i > 0)
			o_char(b, ',');
		jstr(b, x->orgs[i]);
	}
	o_printf(b,
	    "],\"more_orgs\":%s,\"messages\":%llu,\"pass\":%llu,"
	    "\"dkim_aligned\":%llu,\"spf_aligned\":%llu,\"spf\":\"%s\","
	    "\"class\":\"%s\",\"other\":%s}",
	    x->more_orgs ? "true" : "false", (unsigned long long)x->messages,
	    (unsigned long long)x->pass, (unsigned long long)x->dkim_aligned,
	    (unsigned long long)x->spf_aligned,
	    (unsigned)x->spf < NELEM(spf_names) ? spf_names[x->spf] : "",
	    rx_class_str(x->cls), x->other ? "true" : "false");
}

static void
json_write(const struct rx_summary *s, struct out *b)
{
	const struct rx_result *r = &s->r;
	size_t                  i;
	char                    d[16];
	static const char *dis[] = {"none", "pass", "quarantine", "reject"};

	o_str(b, "{\"domain\":");
	jstr(b, s->p.domain);
	o_printf(b,
	    ",\"since\":%lld,\"now\":%lld,\"total\":%llu,\"reports\":%llu,"
	    "\"organizations\":%zu,\"days_covered\":%zu,\"days_enforced\":%zu,"
	    "\"counts\":{\"pass\":%llu,\"dkim_aligned\":%llu,"
	    "\"spf_aligned\":%llu},\"rates\":{",
	    (long long)r->since, (long long)r->now,
	    (unsigned long long)r->total, (unsigned long long)r->reports,
	    r->norgs, r->covered_days, r->enforced_days,
	    (unsigned long long)r->pass, (unsigned long long)r->dkim_aligned,
	    (unsigned long long)r->spf_aligned);
	json_rate(b, "dmarc_pass", r->pass, r->total);
	o_char(b, ',');
	json_rate(b, "dkim_aligned", r->dkim_aligned, r->total);
	o_char(b, ',');
	json_rate(b, "spf_aligned", r->spf_aligned, r->total);
	o_str(b, "},\"dispositions\":{");
	for (i = 0; i < 4; i++)
		o_printf(b, "%s\"%s\":%llu", i > 0 ? "," : "", dis[i],
		    (unsigned long long)r->dispositions[i]);
	o_printf(b, "},\"sources_total\":%zu,\"sources\":[", r->nsources);
	for (i = 0; i < r->nlisted; i++) {
		if (i > 0)
			o_char(b, ',');
		json_source(b, r->sources[i]);
	}
	o_printf(b, "],\"failing_total\":%zu,\"failing\":[", r->nfailing_all);
	for (i = 0; i < r->nfailing; i++) {
		if (i > 0)
			o_char(b, ',');
		json_source(b, r->failing[i]);
	}
	o_str(b, "],\"days\":[");
	for (i = 0; i < r->ndays; i++) {
		day_str(r->days[i].day, d);
		o_printf(b,
		    "%s{\"day\":\"%s\",\"pass\":%llu,\"fail\":%llu,"
		    "\"covered\":%s}",
		    i > 0 ? "," : "", d, (unsigned long long)r->days[i].pass,
		    (unsigned long long)r->days[i].fail,
		    r->days[i].covered ? "true" : "false");
	}
	o_printf(b,
	    "],\"verdict\":{\"state\":\"%s\",\"text\":\"%s\","
	    "\"reasons\":[",
	    rx_state_str(r->state), state_text[r->state]);
	for (i = 0; i < r->nreasons; i++) {
		if (i > 0)
			o_char(b, ',');
		jstr(b, r->reasons[i]);
	}
	o_printf(b, "],\"blocking\":%zu}}\n", r->nblocking);
}

static void
text_source(struct out *b, const struct rx_source *x)
{
	char   t[RX_ORG_MAX + 1];
	size_t i;

	o_printf(b, "  %12llu %12llu %12llu %12llu  ",
	    (unsigned long long)x->messages, (unsigned long long)x->pass,
	    (unsigned long long)x->dkim_aligned,
	    (unsigned long long)x->spf_aligned);
	o_name(b, x);
	o_printf(b, "  %s", rx_class_str(x->cls));
	for (i = 0; i < x->norgs; i++)
		o_printf(b, "%s%s", i == 0 ? "  seen by " : ", ",
		    str_printable(
			t, sizeof(t), x->orgs[i], strlen(x->orgs[i])));
	if (x->more_orgs)
		o_str(b, ", and others");
	o_char(b, '\n');
}

static void
text_write(const struct rx_summary *s, struct out *b)
{
	const struct rx_result *r = &s->r;
	size_t                  i;
	char                    d1[16], d2[16], t[REPORT_NAME_MAX + 1];

	day_str(r->since, d1);
	day_str(r->now, d2);
	o_printf(b, "DMARC aggregate reports about %s, %s to %s (UTC)\n",
	    str_printable(t, sizeof(t), s->p.domain, strlen(s->p.domain)), d1,
	    d2);
	o_printf(b,
	    "reports: %llu from %zu organization%s; %zu days covered, %zu at "
	    "p=quarantine or p=reject\n",
	    (unsigned long long)r->reports, r->norgs, r->norgs == 1 ? "" : "s",
	    r->covered_days, r->enforced_days);
	o_printf(b, "messages: %llu\n", (unsigned long long)r->total);
	o_printf(b, "  DMARC pass    %12llu  ", (unsigned long long)r->pass);
	o_pct(b, bp(r->pass, r->total));
	o_printf(b, "\n  DKIM-aligned  %12llu  ",
	    (unsigned long long)r->dkim_aligned);
	o_pct(b, bp(r->dkim_aligned, r->total));
	o_printf(b, "\n  SPF-aligned   %12llu  ",
	    (unsigned long long)r->spf_aligned);
	o_pct(b, bp(r->spf_aligned, r->total));
	o_printf(b,
	    "\ndispositions: none %llu, pass %llu, quarantine %llu, reject "
	    "%llu\n",
	    (unsigned long long)r->dispositions[0],
	    (unsigned long long)r->dispositions[1],
	    (unsigned long long)r->dispositions[2],
	    (unsigned long long)r->dispositions[3]);
	o_printf(b, "sources: %zu, the top %zu by volume\n", r->nsources,
	    r->nlisted);
	o_printf(b, "  %12s %12s %12s %12s  %s\n", "messages", "pass",
	    "dkim-aligned", "spf-aligned", "source");
	for (i = 0; i < r->nlisted; i++)
		text_source(b, r->sources[i]);
	o_printf(b, "failing DKIM alignment: %zu source%s, the top %zu\n",
	    r->nfailing_all, r->nfailing_all == 1 ? "" : "s", r->nfailing);
	for (i = 0; i < r->nfailing; i++)
		text_source(b, r->failing[i]);
	o_str(b, "days (pass/fail):\n");
	for (i = 0; i < r->ndays; i++) {
		if (!r->days[i].covered &&
		    r->days[i].pass + r->days[i].fail == 0)
			continue;
		day_str(r->days[i].day, d1);
		o_printf(b, "  %s %llu/%llu\n", d1,
		    (unsigned long long)r->days[i].pass,
		    (unsigned long long)r->days[i].fail);
	}
	o_printf(b, "verdict: %s\n", state_text[r->state]);
	for (i = 0; i < r->nreasons; i++)
		o_printf(b, "  %s %s\n", i < r->nblocking ? "-" : "*",
		    r->reasons[i]);
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    /* Nothing from outside, nothing that runs: a hostile string that got
     * past the escaping still could not load or execute anything. */
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
    "'none'; style-src 'unsafe-inline'\">\n"
    "<style>\n"
    "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}\n"
    "table{border-collapse:collapse;margin:1em 0}\n"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "#verdict{padding:.5em 1em;border-left:6px solid #888}\n"
    "#verdict.not-ready{border-color:#c33}\n"
    "#verdict.ready-for-quarantine{border-color:#e90}\n"
    "#verdict.ready-for-reject{border-color:#393}\n"
    "li.blocking{font-weight:bold}\n"
    "rect.pass{fill:#4a4}rect.fail{fill:#c33}\n"
    "svg text{font-size:11px;fill:#444}\n"
    ".cls-authorized{color:#c33;font-weight:bold}\n"
    "</style>\n";

static void
html_source_row(struct out *b, const struct rx_source *x)
{
	size_t i;

	o_str(b, "<tr><td>");
	if (x->other)
		o_str(b, "(other sources)");
	else
		hstr(b, x->ip);
	o_str(b, "</td><td>");
	hstr(b, x->ptr);
	o_printf(b,
	    "</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
	    "<td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
	    "<td class=\"cls-%s\">%s</td><td>",
	    (unsigned long long)x->messages, (unsigned long long)x->pass,
	    (unsigned long long)x->dkim_aligned,
	    (unsigned long long)x->spf_aligned, rx_class_str(x->cls),
	    rx_class_str(x->cls));
	for (i = 0; i < x->norgs; i++) {
		if (i > 0)
			o_str(b, ", ");
		hstr(b, x->orgs[i]);
	}
	if (x->more_orgs)
		o_str(b, ", and others");
	o_str(b, "</td></tr>\n");
}

static void
html_sources(struct out *b, const char *id, const char *title,
    const struct rx_source *const *v, size_t n, size_t all)
{
	size_t i;

	o_printf(b,
	    "<section id=\"%s\">\n<h2>%s: %zu, the top %zu</h2>\n<table>\n"
	    "<tr><th>IP</th><th>PTR name</th><th>messages</th><th>DMARC "
	    "pass</th><th>DKIM-aligned</th><th>SPF-aligned</th><th>class</th>"
	    "<th>reported by</th></tr>\n",
	    id, title, all, n);
	for (i = 0; i < n; i++)
		html_source_row(b, v[i]);
	o_str(b, "</table>\n</section>\n");
}

/* The chart: one stacked bar per day, pass below, fail above, scaled to
 * the busiest day; each bar's numbers in data attributes and a title. */
static void
html_chart(struct out *b, const struct rx_result *r)
{
	const double W = 1000, H = 260, left = 60, top = 10, bottom = 30;
	double       pw = W - left - 10, ph = H - top - bottom, bw, y;
	uint64_t     max = 0;
	char         d[16];
	size_t       i;

	for (i = 0; i < r->ndays; i++) {
		uint64_t t = sat_add(r->days[i].pass, r->days[i].fail);

		if (t > max)
			max = t;
	}
	bw = pw / (double)r->ndays;
	o_printf(b,
	    "<section id=\"chart\">\n<h2>Messages per day (UTC)</h2>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	    "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
	    "aria-label=\"messages per day, DMARC pass and fail\">\n"
	    "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
	    "stroke=\"#888\"/>\n"
	    "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%llu</text>\n"
	    "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n",
	    W, H, W, H, left, top + ph, W - 10, top + ph, left - 4, top + 10,
	    (unsigned long long)max, left - 4, top + ph);
	for (i = 0; i < r->ndays; i++) {
		double x = left + bw * (double)i, hp = 0, hf = 0;

		if (max > 0) {
			hp = ph * (double)r->days[i].pass / (double)max;
			hf = ph * (double)r->days[i].fail / (double)max;
		}
		day_str(r->days[i].day, d);
		y = top + ph - hp;
		o_printf(b,
		    "<g class=\"day\" data-day=\"%s\" data-pass=\"%llu\" "
		    "data-fail=\"%llu\"><title>%s: %llu pass, %llu fail</title>"
		    "<rect class=\"pass\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
		    "height=\"%.2f\"/><rect class=\"fail\" x=\"%.2f\" "
		    "y=\"%.2f\" "
		    "width=\"%.2f\" height=\"%.2f\"/></g>\n",
		    d, (unsigned long long)r->days[i].pass,
		    (unsigned long long)r->days[i].fail, d,
		    (unsigned long long)r->days[i].pass,
		    (unsigned long long)r->days[i].fail, x + bw * 0.1, y,
		    bw * 0.8, hp, x + bw * 0.1, y - hf, bw * 0.8, hf);
	}
	day_str(r->days[0].day, d);
	o_printf(b, "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", left, H - 10, d);
	day_str(r->days[r->ndays - 1].day, d);
	o_printf(b,
	    "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n"
	    "</svg>\n<p>Green: DMARC pass; red: fail.</p>\n</section>\n",
	    W - 10, H - 10, d);
}

static void
html_write(const struct rx_summary *s, struct out *b)
{
	const struct rx_result *r = &s->r;
	char                    d1[16], d2[16];
	size_t                  i;
	static const char *dis[] = {"none", "pass", "quarantine", "reject"};

	day_str(r->since, d1);
	day_str(r->now, d2);
	o_str(b, html_head);
	o_str(b, "<title>DMARC summary: ");
	hstr(b, s->p.domain);
	o_str(b, "</title>\n</head>\n<body>\n<h1>DMARC aggregate "
		 "reports about ");
	hstr(b, s->p.domain);
	o_printf(b,
	    "</h1>\n<p>%s to %s (UTC): %llu messages in %llu reports from %zu "
	    "organization%s; %zu days covered, %zu at p=quarantine or "
	    "p=reject.</p>\n",
	    d1, d2, (unsigned long long)r->total,
	    (unsigned long long)r->reports, r->norgs, r->norgs == 1 ? "" : "s",
	    r->covered_days, r->enforced_days);
	o_printf(b,
	    "<section id=\"verdict\" class=\"%s\" data-state=\"%s\">\n"
	    "<h2>Verdict: %s</h2>\n<ul>\n",
	    rx_state_str(r->state), rx_state_str(r->state),
	    state_text[r->state]);
	for (i = 0; i < r->nreasons; i++) {
		o_printf(
		    b, "<li%s>", i < r->nblocking ? " class=\"blocking\"" : "");
		hstr(b, r->reasons[i]);
		o_str(b, "</li>\n");
	}
	o_str(b, "</ul>\n</section>\n<section id=\"rates\">\n<table>\n"
		 "<tr><th></th><th>messages</th><th>share</th></tr>\n");
	{
		const char *names[] = {
		    "DMARC pass", "DKIM-aligned", "SPF-aligned"};
		uint64_t v[] = {r->pass, r->dkim_aligned, r->spf_aligned};

		for (i = 0; i < 3; i++) {
			unsigned p = bp(v[i], r->total);

			o_printf(b,
			    "<tr><td>%s</td><td class=\"n\">%llu</td><td "
			    "class=\"n\">%u.%02u%%</td></tr>\n",
			    names[i], (unsigned long long)v[i], p / 100,
			    p % 100);
		}
	}
	o_str(b, "</table>\n<table>\n<tr>");
	for (i = 0; i < 4; i++)
		o_printf(b, "<th>%s</th>", dis[i]);
	o_str(b, "</tr>\n<tr>");
	for (i = 0; i < 4; i++)
		o_printf(b, "<td class=\"n\">%llu</td>",
		    (unsigned long long)r->dispositions[i]);
	o_str(b, "</tr>\n</table>\n</section>\n");
	html_chart(b, r);
	html_sources(b, "failing", "Sources failing DKIM alignment", r->failing,
	    r->nfailing, r->nfailing_all);
	html_sources(b, "sources", "Sources by volume", r->sources, r->nlisted,
	    r->nsources);
	o_str(b, "</body>\n</html>\n");
}

int
rx_summary_json(const struct rx_summary *s, struct buf *out)
{
	struct out o = {.b = out, .start = out->len};

	if (!s->finished)
		return -1;
	json_write(s, &o);
	return o_end(&o);
}

int
rx_summary_text(const struct rx_summary *s, struct buf *out)
{
	struct out o = {.b = out, .start = out->len};

	if (!s->finished)
		return -1;
	text_write(s, &o);
	return o_end(&o);
}

int
rx_summary_html(const struct rx_summary *s, struct buf *out)
{
	struct out o = {.b = out, .start = out->len};

	if (!s->finished)
		return -1;
	html_write(s, &o);
	return o_end(&o);
}
