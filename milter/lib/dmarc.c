#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "dmarc.h"
#include "dns.h"
#include "str.h"

/*
 * Every walk target of every domain, plus the A, AAAA and MX existence
 * queries (RFC 9989 3.2.13, 4.10.1) of each evaluated From domain: the
 * cache can never fill up while the domain table has room.
 */
#define DMARC_MAX_QUERIES (DMARC_MAX_DOMAINS * (DMARC_MAX_WALK + 3))
/* "_dmarc." (7 octets) before a name of at most DMARC_MAX_NAME octets;
 * longer names are answered DNS_BADNAME by dns_start() without a query. */
#define DMARC_QNAME_MAX (DMARC_MAX_NAME + 8)

struct dmarc_q {
	char              name[DMARC_QNAME_MAX + 1];
	enum dns_type     type;
	struct dns_query *q; /* NULL: dns_start ran out of memory */
};

enum dmarc_at {
	DMARC_AT_UNKNOWN = 0, /* not collected yet */
	DMARC_AT_NONE,        /* no usable record at this name */
	DMARC_AT_RECORD,      /* exactly one DMARC record */
	DMARC_AT_TEMPFAIL     /* the lookup failed temporarily */
};

/* One domain and its DNS Tree Walk. */
struct dmarc_dom {
	char                name[DMARC_MAX_NAME + 1]; /* normalized */
	size_t              nwalk;
	size_t              off[DMARC_MAX_WALK]; /* each target: name + off */
	struct dmarc_q     *q[DMARC_MAX_WALK];
	enum dmarc_at       at[DMARC_MAX_WALK];
	struct dmarc_record rec[DMARC_MAX_WALK];
	int    org_state; /* 0: not yet, 1: org_off and walk_end set, -1: DNS */
	size_t org_off;
	size_t walk_end; /* targets walked before the walk stopped */
};

struct dmarc {
	struct dns         *dns;
	struct dmarc_params params;
	dmarc_random_fn    *random;
	void               *random_arg;
	size_t              nq;
	struct dmarc_q     *q[DMARC_MAX_QUERIES];
	size_t              ndom;
	struct dmarc_dom   *dom[DMARC_MAX_DOMAINS];
	/* With params.waiter: this evaluation met an answer not yet in (its
	 * verdict is to be discarded); expired: such answers are failures. */
	bool pending, expired;
	bool last_pending; /* the last dmarc_answer() was one of them */
};

/* --- names --- */

/* RFC 1035 2.3.4 limits; letters, digits and '-' (RFC 1123 2.1), and '_',
 * which DKIM d= and DMARC names may carry. Anything else (spaces, quotes,
 * backslashes, bytes >= 0x80) is refused before it reaches the resolver.
 * The name has no trailing dot. */
static bool
dmarc_name_ok(const char *p, size_t n)
{
	size_t i, lab = 0;

	if (n == 0 || n > DMARC_MAX_NAME)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			continue;
		}
		if (!str_isalnum(c) && c != '-' && c != '_')
			return false;
		if (++lab > 63)
			return false;
	}
	return lab > 0;
}

bool
dmarc_domain_valid(const char *name)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	return dmarc_name_ok(name, n);
}

/* Copies name lower-cased, without one trailing dot, into out (size
 * DMARC_MAX_NAME + 1). False when it is not a valid name. */
static bool
dmarc_normalize(const char *name, char *out)
{
	size_t i, n;

	if (name == NULL)
		return false;
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (!dmarc_name_ok(name, n))
		return false;
	for (i = 0; i < n; i++)
		out[i] = (char)str_tolower((unsigned char)name[i]);
	out[n] = '\0';
	return true;
}

static size_t
dmarc_labels(const char *s)
{
	size_t n = 1;

	for (; *s != '\0'; s++)
		if (*s == '.')
			n++;
	return n;
}

/* The right-most keep labels of s (keep >= 1 and <= its label count). */
static const char *
dmarc_suffix(const char *s, size_t keep)
{
	size_t n = dmarc_labels(s);

	while (n > keep) {
		s = strchr(s, '.') + 1;
		n--;
	}
	return s;
}

size_t
dmarc_walk(const char *domain, const char *out[DMARC_MAX_WALK])
{
	const char *cur = domain;
	size_t      n = 0, x;

	if (!dmarc_name_ok(domain, strlen(domain)))
		return 0;
	/* RFC 9989 4.10 steps 1 to 7: the start, then "if x < 8, remove the
	 * left-most label; if x >= 8, remove labels until 7 remain", then one
	 * label at a time down to the last one. Hence at most 8 names. */
	out[n++] = cur;
	while ((x = dmarc_labels(cur)) > 1 && n < DMARC_MAX_WALK) {
		cur = dmarc_suffix(cur, x >= 8 ? 7 : x - 1);
		out[n++] = cur;
	}
	return n;
}

/* True when name equals suffix or ends with "." suffix. */
static bool
dmarc_is_under(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	if (n == s)
		return strcmp(name, suffix) == 0;
	return n > s && name[n - s - 1] == '.' &&
	       strcmp(name + n - s, suffix) == 0;
}

/* --- the record (RFC 9989 4.7, 4.8) --- */

static bool
dmarc_iswsp(int c)
{
	return c == ' ' || c == '\t';
}

/* dmarc-value = %x20-3A / %x3C-7E (RFC 9989 4.8) */
static bool
dmarc_isvalue(int c)
{
	return c >= 0x20 && c <= 0x7e && c != ';';
}

static enum dmarc_policy
dmarc_parse_request(const char *v, size_t n)
{
	if (str_ieq(v, n, "none"))
		return DMARC_POLICY_NONE;
	if (str_ieq(v, n, "quarantine"))
		return DMARC_POLICY_QUARANTINE;
	if (str_ieq(v, n, "reject"))
		return DMARC_POLICY_REJECT;
	return DMARC_POLICY_UNSPEC;
}

static bool
dmarc_isschemechar(int c)
{
	return str_isalnum(c) || c == '+' || c == '-' || c == '.';
}

/* RFC 3986 characters outside the scheme: unreserved, reserved and '%'
 * (checked for two hex digits by the caller); "," and "!" must be
 * percent-encoded in a DMARC URI (RFC 9989 4.8). */
static bool
dmarc_isurichar(int c)
{
	if (str_isalnum(c))
		return true;
	return c != '\0' && c != '!' && c != ',' && c != '%' &&
	       strchr("-._~:/?#[]@$&'()*+;=", c) != NULL;
}

static bool
dmarc_ishex(int c)
{
	return str_isdigit(c) || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* One dmarc-uri, possibly with the obsolete "!size" suffix (RFC 9989 4.8
 * obs-dmarc-uri). A URI is scheme ":" followed by at least one character
 * (RFC 3986 3; an empty "mailto:" names no destination). */
static bool
dmarc_uri_ok(const char *p, size_t n)
{
	size_t i, j;

	/* Drop "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] at the end. */
	for (i = n; i > 0 && p[i - 1] != '!'; i--)
		;
	if (i > 0) {
		j = i;
		while (j < n && str_isdigit((unsigned char)p[j]))
			j++;
		if (j > i && j < n && strchr("kmgtKMGT", p[j]) != NULL)
			j++;
		if (j == i || j != n)
			return false;
		n = i - 1;
	}
	if (n == 0 || !str_isalpha((unsigned char)p[0]))
		return false;
	for (i = 1; i < n && dmarc_isschemechar((unsigned char)p[i]); i++)
		;
	if (i == n || p[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++) {
		if (p[i] == '%') {
			if (n - i < 3 ||
			    !dmarc_ishex((unsigned char)p[i + 1]) ||
			    !dmarc_ishex((unsigned char)p[i + 2]))
				return false;
			i += 2;
		} else if (!dmarc_isurichar((unsigned char)p[i]))
			return false;
	}
	return true;
}

/* The next element of a dmarc-urilist, *WSP dmarc-uri *WSP between
 * commas (RFC 9989 4.8): [*start_r, *start_r + *len_r) with the WSP
 * around it dropped. *i starts at 0; false when the list is done. */
static bool
dmarc_urilist_next(
    const char *p, size_t n, size_t *i, size_t *start_r, size_t *len_r)
{
	size_t start, end;

	if (*i > n)
		return false;
	start = *i;
	for (end = start; end < n && p[end] != ','; end++)
		;
	*i = end + 1;
	while (start < end && dmarc_iswsp((unsigned char)p[start]))
		start++;
	while (end > start && dmarc_iswsp((unsigned char)p[end - 1]))
		end--;
	*start_r = start;
	*len_r = end - start;
	return true;
}

/* dmarc-urilist: true when at least one URI of the list is valid. */
static bool
dmarc_urilist_ok(const char *p, size_t n)
{
	size_t i = 0, start, len;

	while (dmarc_urilist_next(p, n, &i, &start, &len))
		if (dmarc_uri_ok(p + start, len))
			return true;
	return false;
}

enum {
	DMARC_TAG_P = 1 << 0,
	DMARC_TAG_SP = 1 << 1,
	DMARC_TAG_NP = 1 << 2,
	DMARC_TAG_ADKIM = 1 << 3,
	DMARC_TAG_ASPF = 1 << 4,
	DMARC_TAG_T = 1 << 5,
	DMARC_TAG_PCT = 1 << 6,
	DMARC_TAG_PSD = 1 << 7,
	DMARC_TAG_RUA = 1 << 8,
	DMARC_TAG_FO = 1 << 9
};

/* Parsing state beyond struct dmarc_record. */
struct dmarc_parse {
	unsigned int seen;
	bool         t_set; /* a valid t tag */
};

/* Applies the policy tag value v to *dst. */
static void
dmarc_set_policy(
    struct dmarc_record *r, enum dmarc_policy *dst, const char *v, size_t n)
{
	*dst = dmarc_parse_request(v, n);
	if (*dst == DMARC_POLICY_UNSPEC)
		r->bad_policy = true;
}

/* A p, sp or np tag (its first copy) whose value is missing, empty or
 * holds a byte outside dmarc-value: an invalid policy, not an absent one
 * ("p=rej\xc3\xa9ct" must not read as "no p", which is p=none). Other
 * tags are ignored as before. */
static void
dmarc_bad_value(unsigned int id, struct dmarc_record *r, struct dmarc_parse *st)
{
	if ((id & (DMARC_TAG_P | DMARC_TAG_SP | DMARC_TAG_NP)) == 0 ||
	    (st->seen & id) != 0)
		return;
	st->seen |= id;
	r->bad_policy = true;
}

/* rua for the report writer, which splits it again at the commas: the
 * valid URIs in their order, joined by ',' without the WSP the record
 * may have around them ("mailto:a@x, mailto:b@x"), and cut after the last
 * whole URI that fits. The invalid ones are left out: they name no
 * destination, and one with a space inside ("mailto:a b@x") would make
 * the whole value unfit for a report row, which takes no spaces. */
static void
dmarc_keep_rua(struct dmarc_record *r, const char *p, size_t n)
{
	size_t i = 0, start, len, k = 0;

	while (dmarc_urilist_next(p, n, &i, &start, &len)) {
		if (!dmarc_uri_ok(p + start, len))
			continue;
		if (k + (k > 0) + len > DMARC_RUA_MAX)
			break;
		if (k > 0)
			r->rua[k++] = ',';
		memcpy(r->rua + k, p + start, len);
		k += len;
	}
	r->rua[k] = '\0';
}

static unsigned int
dmarc_tag_id(const char *t, size_t n)
{
	static const struct {
		const char  *name;
		unsigned int id;
	} tags[] = {
	    {"p", DMARC_TAG_P},
	    {"sp", DMARC_TAG_SP},
	    {"np", DMARC_TAG_NP},
	    {"adkim", DMARC_TAG_ADKIM},
	    {"aspf", DMARC_TAG_ASPF},
	    {"t", DMARC_TAG_T},
	    {"pct", DMARC_TAG_PCT},
	    {"psd", DMARC_TAG_PSD},
	    {"rua", DMARC_TAG_RUA},
	    {"fo", DMARC_TAG_FO},
	};
	size_t i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (str_ieq(t, n, tags[i].name))
			return tags[i].id;
	return 0;
}

/*
 * One dmarc-tag between separators: 1*ALPHA equals 1*dmarc-value. A piece
 * that does not match, an unknown tag (ruf included: we send no failure
 * reports; fo and rua are kept for aggregate reports) and a repeated tag
 * are ignored: "Unknown tags MUST be ignored.
 * Syntax errors in the remainder of the record MUST be discarded in favor
 * of default values" (RFC 9989 4.8). Of a repeated tag the first stays,
 * so a later copy cannot override what an earlier one said. The
 * exception is p, sp and np: a piece named so ("p", "p=", "p=x\x01",
 * but not "p1=x") with no valid value is an invalid policy (4.10.1).
 */
static void
dmarc_tag(
    const char *p, size_t n, struct dmarc_record *r, struct dmarc_parse *st)
{
	size_t       i = 0, ts, tn, vs;
	unsigned int id;

	while (n > 0 && dmarc_iswsp((unsigned char)p[n - 1]))
		n--;
	while (i < n && dmarc_iswsp((unsigned char)p[i]))
		i++;
	ts = i;
	while (i < n && str_isalpha((unsigned char)p[i]))
		i++;
	tn = i - ts;
	if (tn == 0)
		return;
	id = dmarc_tag_id(p + ts, tn);
	while (i < n && dmarc_iswsp((unsigned char)p[i]))
		i++;
	if (i == n) {
		dmarc_bad_value(id, r, st);
		return;
	}
	if (p[i] != '=')
		return;
	i++;
	while (i < n && dmarc_iswsp((unsigned char)p[i]))
		i++;
	/* rua's own rule, dmarc-urilist, puts *WSP around its commas, and
	 * WSP holds HTAB, which dmarc-value does not: there an HTAB is
	 * white space between URIs, not a byte outside the value. */
	for (vs = i; i < n; i++)
		if (!dmarc_isvalue((unsigned char)p[i]) &&
		    !(id == DMARC_TAG_RUA && p[i] == '\t'))
			break;
	if (vs == n || i < n) {
		dmarc_bad_value(id, r, st);
		return;
	}
	if (id == 0 || (st->seen & id) != 0)
		return;
	st->seen |= id;
	p += vs;
	n -= vs;
	switch (id) {
	case DMARC_TAG_P:
		dmarc_set_policy(r, &r->p, p, n);
		break;
	case DMARC_TAG_SP:
		dmarc_set_policy(r, &r->sp, p, n);
		break;
	case DMARC_TAG_NP:
		dmarc_set_policy(r, &r->np, p, n);
		break;
	case DMARC_TAG_ADKIM:
		r->adkim_strict = str_ieq(p, n, "s");
		break;
	case DMARC_TAG_ASPF:
		r->aspf_strict = str_ieq(p, n, "s");
		break;
	case DMARC_TAG_T:
		/* dmarc-yorn; another value keeps the default "n". */
		if (str_ieq(p, n, "y") || str_ieq(p, n, "n")) {
			st->t_set = true;
			r->t_y = str_ieq(p, n, "y");
		}
		break;
	case DMARC_TAG_PCT:
		/* RFC 9989 removed pct; RFC 7489 6.3 had dmarc-percent = "pct"
		 * *WSP "=" *WSP 1*3DIGIT, 0 to 100. Anything else is a syntax
		 * error: as if absent (4.8). */
		if (n <= 3) {
			int v = 0;

			for (i = 0; i < n && str_isdigit((unsigned char)p[i]);
			     i++)
				v = v * 10 + (p[i] - '0');
			if (i == n && v <= 100)
				r->pct = v;
		}
		break;
	case DMARC_TAG_PSD:
		if (str_ieq(p, n, "y"))
			r->psd = DMARC_PSD_Y;
		else if (str_ieq(p, n, "n"))
			r->psd = DMARC_PSD_N;
		break;
	case DMARC_TAG_RUA:
		r->rua_valid = dmarc_urilist_ok(p, n);
		if (r->rua_valid)
			dmarc_keep_rua(r, p, n);
		break;
	case DMARC_TAG_FO:
		if (n <= DMARC_FO_MAX) {
			memcpy(r->fo, p, n);
			r->fo[n] = '\0';
		}
		break;
	default:
		break;
	}
}

int
dmarc_record_parse(const char *p, size_t n, struct dmarc_record *out)
{
	struct dmarc_parse st = {0};
	size_t             i, start;

	memset(out, 0, sizeof(*out));
	out->pct = -1;
	/* dmarc-version = "v" equals %s"DMARC1", first in the record; "If
	 * the tag is not the first in the list, or the tag is absent, or the
	 * value is not "DMARC1", then the entire record MUST be ignored"
	 * (RFC 9989 4.7). The tag name is case-insensitive ABNF, the value
	 * case-sensitive. */
	if (n == 0 || (p[0] != 'v' && p[0] != 'V'))
		return -1;
	for (i = 1; i < n && dmarc_iswsp((unsigned char)p[i]); i++)
		;
	if (i == n || p[i] != '=')
		return -1;
	for (i++; i < n && dmarc_iswsp((unsigned char)p[i]); i++)
		;
	if (n - i < 6 || memcmp(p + i, "DMARC1", 6) != 0)
		return -1;
	for (i += 6; i < n && dmarc_iswsp((unsigned char)p[i]); i++)
		;
	if (i < n && p[i] != ';')
		return -1;
	while (i < n) {
		start = ++i; /* past the ';' */
		while (i < n && p[i] != ';')
			i++;
		dmarc_tag(p + start, i - start, out, &st);
	}
	/* RFC 9989 A.6: "t=y" replaces "pct=0"; an explicit t wins. */
	out->testing = out->t_y || (!st.t_set && out->pct == 0);
	return 0;
}

/* --- the query cache --- */

static struct dmarc_q *
dmarc_query(
    struct dmarc *d, const char *prefix, const char *name, enum dns_type type)
{
	struct dmarc_q *q;
	char            qname[DMARC_QNAME_MAX + 1];
	size_t          i, pl = strlen(prefix), nl = strlen(name);

	if (pl + nl > DMARC_QNAME_MAX)
		return NULL; /* cannot happen with a valid name */
	memcpy(qname, prefix, pl);
	memcpy(qname + pl, name, nl + 1);
	for (i = 0; i < d->nq; i++)
		if (d->q[i]->type == type && strcmp(d->q[i]->name, qname) == 0)
			return d->q[i];
	if (d->nq == DMARC_MAX_QUERIES)
		return NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	memcpy(q->name, qname, pl + nl + 1);
	q->type = type;
	q->q = dns_start(d->dns, qname, type);
	if (q->q != NULL && d->params.waiter != NULL)
		dns_query_notify(q->q, d->params.waiter);
	d->q[d->nq++] = q;
	return q;
}

/* The answer, or NULL when there is none to be had (no memory, or the
 * query table was full; with params.waiter, not in yet): the caller
 * treats that as a temporary failure. Without a waiter it waits. */
static const struct dns_answer *
dmarc_answer(struct dmarc *d, struct dmarc_q *q)
{
	d->last_pending = false;
	if (q == NULL || q->q == NULL)
		return NULL;
	if (d->params.waiter != NULL && !dns_done(q->q)) {
		/* Not in yet: the evaluation is made again once it is, and
		 * nothing decided from this NULL is kept. */
		d->last_pending = d->pending = !d->expired;
		return NULL;
	}
	return dns_wait(q->q);
}

/* --- domains and their walks --- */

static struct dmarc_dom *
dmarc_dom_get(struct dmarc *d, const char *domain, size_t limit)
{
	struct dmarc_dom *dom;
	char              name[DMARC_MAX_NAME + 1];
	const char       *walk[DMARC_MAX_WALK];
	size_t            i;

	if (!dmarc_normalize(domain, name))
		return NULL;
	for (i = 0; i < d->ndom; i++)
		if (strcmp(d->dom[i]->name, name) == 0)
			return d->dom[i];
	if (d->ndom >= limit)
		return NULL;
	if ((dom = calloc(1, sizeof(*dom))) == NULL)
		return NULL;
	memcpy(dom->name, name, strlen(name) + 1);
	dom->nwalk = dmarc_walk(dom->name, walk);
	for (i = 0; i < dom->nwalk; i++)
		dom->off[i] = (size_t)(walk[i] - dom->name);
	d->dom[d->ndom++] = dom;
	return dom;
}

/* RFC 9989 4.10 step 2: "Records that do not start with a "v" tag that
 * identifies the current version of DMARC are discarded. If multiple
 * DMARC Policy Records are returned for a single target, they are all
 * discarded." */
static enum dmarc_at
dmarc_dom_at(struct dmarc *d, struct dmarc_dom *dom, size_t i)
{
	const struct dns_answer *a;
	struct dmarc_record      rec;
	size_t                   k, count = 0;

	if (dom->at[i] != DMARC_AT_UNKNOWN)
		return dom->at[i];
	if (dom->q[i] == NULL)
		dom->q[i] = dmarc_query(
		    d, "_dmarc.", dom->name + dom->off[i], DNS_T_TXT);
	a = dmarc_answer(d, dom->q[i]);
	if (a == NULL && d->last_pending)
		return DMARC_AT_TEMPFAIL; /* for now: not kept */
	if (a == NULL || a->status == DNS_TEMPFAIL)
		return dom->at[i] = DMARC_AT_TEMPFAIL;
	if (a->status == DNS_OK)
		for (k = 0; k < a->n; k++)
			if (dmarc_record_parse(
				a->rr[k].data, a->rr[k].len, &rec) == 0 &&
			    ++count == 1)
				dom->rec[i] = rec;
	/* Step 2 needs the whole set: a record beyond the cut (DNS_MAX_RRS,
	 * DNS_MAX_ANSWER) would make the one seen two (all discarded), or
	 * the none seen one. Two seen are discarded whatever was cut. */
	if (a->truncated && count < 2)
		return dom->at[i] = DMARC_AT_TEMPFAIL;
	return dom->at[i] = count == 1 ? DMARC_AT_RECORD : DMARC_AT_NONE;
}

/* Collects the walk in order until it stops (RFC 9989 4.10: a single
 * record with psd=y or psd=n, or no labels left). Returns the number of
 * targets walked, or 0 when a lookup failed temporarily: without that
 * answer neither the policy nor the Organizational Domain is known. */
static size_t
dmarc_dom_walk(struct dmarc *d, struct dmarc_dom *dom)
{
	size_t        i;
	enum dmarc_at at;

	for (i = 0; i < dom->nwalk; i++) {
		at = dmarc_dom_at(d, dom, i);
		if (at == DMARC_AT_TEMPFAIL)
			return 0;
		if (at == DMARC_AT_RECORD && dom->rec[i].psd != DMARC_PSD_U)
			return i + 1;
	}
	return dom->nwalk;
}

/*
 * The Organizational Domain (RFC 9989 4.10.2): among the walked names with
 * a record, longest first, psd=n marks it; psd=y (other than on the
 * starting domain) puts it one label below; else it is the record with
 * the fewest labels; with no record at all, the domain itself. Returns 0
 * with dom->org_off set, or -1 after a temporary DNS failure.
 */
static int
dmarc_dom_org(struct dmarc *d, struct dmarc_dom *dom)
{
	size_t      end, i, last = 0;
	bool        found = false;
	const char *t;

	if (dom->org_state != 0)
		return dom->org_state > 0 ? 0 : -1;
	if ((end = dmarc_dom_walk(d, dom)) == 0) {
		if (!d->pending)
			dom->org_state = -1;
		return -1;
	}
	dom->walk_end = end;
	dom->org_off = 0;
	for (i = 0; i < end; i++) {
		if (dom->at[i] != DMARC_AT_RECORD)
			continue;
		if (dom->rec[i].psd == DMARC_PSD_N) {
			dom->org_off = dom->off[i];
			goto done;
		}
		if (dom->rec[i].psd == DMARC_PSD_Y && i > 0) {
			t = dom->name + dom->off[i];
			dom->org_off = (size_t)(dmarc_suffix(dom->name,
						    dmarc_labels(t) + 1) -
						dom->name);
			goto done;
		}
		last = i;
		found = true;
	}
	if (found)
		dom->org_off = dom->off[last];
done:
	dom->org_state = 1;
	return 0;
}

/* 1: x is aligned with the From domain, 0: it is not, -1: a DNS failure
 * (or the domain limit) leaves it open. */
static int
dmarc_aligned(
    struct dmarc *d, struct dmarc_dom *from, bool strict, const char *x)
{
	char              name[DMARC_MAX_NAME + 1];
	const char       *org;
	struct dmarc_dom *xd;

	if (!dmarc_normalize(x, name))
		return 0;
	/* Equal names are aligned in both modes, with no walk (RFC 9989
	 * 4.10.2 "no need to perform Identifier Alignment Evaluations"). */
	if (strcmp(name, from->name) == 0)
		return 1;
	if (strict)
		return 0;
	if (dmarc_dom_org(d, from) < 0)
		return -1;
	org = from->name + from->org_off;
	/* An Organizational Domain is always the name itself or one of its
	 * parents, so x can only share it when it lies at or under it: no
	 * walk for foreign identifiers. */
	if (!dmarc_is_under(name, org))
		return 0;
	/* The rest of the table stays for From domains (dmarc.h). */
	if ((xd = dmarc_dom_get(d, name, DMARC_MAX_PREFETCH)) == NULL)
		return -1;
	if (dmarc_dom_org(d, xd) < 0)
		return -1;
	return strcmp(xd->name + xd->org_off, org) == 0;
}

/* RFC 9989 3.2.13 and A.4: a domain that does not exist answers NXDOMAIN.
 * The A, AAAA and MX queries run in parallel; NXDOMAIN for all three says
 * the name does not exist, any record or NODATA that it does. Returns 1
 * (exists), 0 (does not), -1 (undecided: a temporary failure). */
static int
dmarc_exists(struct dmarc *d, const char *name)
{
	static const enum dns_type types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_MX};
	struct dmarc_q            *q[3];
	const struct dns_answer   *a;
	size_t                     i;
	bool                       temp = false;

	for (i = 0; i < 3; i++)
		q[i] = dmarc_query(d, "", name, types[i]);
	for (i = 0; i < 3; i++) {
		a = dmarc_answer(d, q[i]);
		if (a != NULL &&
		    (a->status == DNS_OK || a->status == DNS_NODATA))
			return 1;
		if (a == NULL || a->status != DNS_NXDOMAIN)
			temp = true;
	}
	return temp ? -1 : 0;
}

static enum dmarc_policy
dmarc_below(enum dmarc_policy p)
{
	/* RFC 9989 4.7 "t": with t=y, "reject" is applied as "quarantine"
	 * and "quarantine" as "none". */
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE
					: DMARC_POLICY_NONE;
}

/* A uniform 32-bit number from OpenSSL's generator, which is safe to use
 * from any thread. Should it fail, 0: every pct above 0 then samples,
 * so a failure never weakens a policy. */
static uint32_t
dmarc_random_default(void *arg)
{
	unsigned char b[4];

	(void)arg;
	if (RAND_bytes(b, sizeof(b)) != 1)
		return 0;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

/* What a fail under policy is given (and out->sample). With
 * t=y (or, with DMARC_PCT_IGNORE, a legacy pct=0) one level below the
 * policy (RFC 9989 4.7 "t"). With DMARC_PCT_SAMPLE and a valid pct (and
 * no t=y), the policy for pct percent of failing messages chosen at
 * random, one level below for the rest (RFC 7489 6.6.4). */
static enum dmarc_policy
dmarc_applied(struct dmarc *d, const struct dmarc_record *eff,
    enum dmarc_policy policy, struct dmarc_verdict *out)
{
	uint32_t r;

	if (d->params.pct == DMARC_PCT_SAMPLE) {
		if (eff->t_y)
			return dmarc_below(policy);
		if (eff->pct < 0)
			return policy;
		/* r * 100 / 2^32 is uniform over 0..99 up to 2^-32. */
		r = d->random(d->random_arg);
		if ((uint32_t)(((uint64_t)r * 100) >> 32) <
		    (uint32_t)eff->pct) {
			out->sample = DMARC_SAMPLE_IN;
			return policy;
		}
		out->sample = DMARC_SAMPLE_OUT;
		return dmarc_below(policy);
	}
	return eff->testing ? dmarc_below(policy) : policy;
}

static enum dmarc_policy
dmarc_or(enum dmarc_policy a, enum dmarc_policy b)
{
	return a != DMARC_POLICY_UNSPEC ? a : b;
}

/* The policy for a From domain whose record is rec_i in its walk: its own
 * record's p; a parent's np when the domain does not exist, else sp, else
 * p (4.10.1). The existence queries are made only when np would change
 * the answer. Returns -1 when a DNS error leaves it open. */
static int
dmarc_policy_for(struct dmarc *d, struct dmarc_dom *dom, size_t rec_i,
    const struct dmarc_record *eff, enum dmarc_policy *policy)
{
	enum dmarc_policy sub = dmarc_or(eff->sp, eff->p);
	int               r;

	*policy = rec_i == 0 ? eff->p : sub;
	if (rec_i == 0 || eff->np == DMARC_POLICY_UNSPEC || eff->np == sub)
		return 0;
	if ((r = dmarc_exists(d, dom->name)) < 0)
		return -1;
	if (r == 0)
		*policy = eff->np;
	return 0;
}

static enum dmarc_result
dmarc_done(struct dmarc_verdict *out, enum dmarc_result r, const char *why)
{
	out->result = r;
	out->reason = why;
	return r;
}

/* --- public --- */

struct dmarc *
dmarc_new(struct dns *dns, const struct dmarc_params *params)
{
	struct dmarc *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->dns = dns;
	if (params != NULL)
		d->params = *params;
	d->random =
	    d->params.random != NULL ? d->params.random : dmarc_random_default;
	d->random_arg = d->params.random != NULL ? d->params.random_arg : NULL;
	return d;
}

void
dmarc_free(struct dmarc *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nq; i++) {
		dns_query_free(d->q[i]->q);
		free(d->q[i]);
	}
	for (i = 0; i < d->ndom; i++)
		free(d->dom[i]);
	free(d);
}

void
dmarc_prefetch(struct dmarc *d, const char *domain)
{
	struct dmarc_dom *dom;
	size_t            i;

	if ((dom = dmarc_dom_get(d, domain, DMARC_MAX_PREFETCH)) == NULL)
		return;
	/* All targets at once: at most 8 small queries (RFC 9989 4.10),
	 * answered while the message streams in. */
	for (i = 0; i < dom->nwalk; i++)
		if (dom->q[i] == NULL)
			dom->q[i] = dmarc_query(
			    d, "_dmarc.", dom->name + dom->off[i], DNS_T_TXT);
}

enum dmarc_result
dmarc_evaluate(struct dmarc *d, const char *from_domain,
    const struct dmarc_auth *auth, struct dmarc_verdict *out)
{
	struct dmarc_dom          *dom;
	const struct dmarc_record *rec = NULL;
	struct dmarc_record        eff;
	size_t                     end, i, rec_i = 0;
	bool                       temp = false;
	int                        r;

	memset(out, 0, sizeof(*out));
	out->disposition = DMARC_POLICY_NONE;
	out->pct = -1;
	d->pending = false;
	if (!dmarc_domain_valid(from_domain))
		return dmarc_done(out, DMARC_PERMERROR,
		    "the From domain is not a valid DNS name");
	/* Only a From domain past DMARC_MAX_FROM_DOMAINS finds the table
	 * full (dmarc.h): a message that names more authors than can be
	 * evaluated is the sender's error, not a DNS problem. (OOM ends up
	 * here too: also no reason to accept.) */
	if ((dom = dmarc_dom_get(d, from_domain, DMARC_MAX_DOMAINS)) == NULL)
		return dmarc_done(out, DMARC_PERMERROR,
		    "too many From domains in one message");

	/* Policy discovery (RFC 9989 4.10.1): _dmarc.<From domain> first. */
	switch (dmarc_dom_at(d, dom, 0)) {
	case DMARC_AT_TEMPFAIL:
		return dmarc_done(out, DMARC_TEMPERROR,
		    "DNS error looking up the DMARC record");
	case DMARC_AT_RECORD:
		rec = &dom->rec[0];
		break;
	default:
		/* Then the walk from the parent (or the name cut to 7
		 * labels): the Organizational Domain's record, else the
		 * Public Suffix Domain's. */
		if (dmarc_dom_org(d, dom) < 0)
			return dmarc_done(out, DMARC_TEMPERROR,
			    "DNS error in the DMARC tree walk");
		end = dom->walk_end;
		for (i = 1; i < end && rec == NULL; i++)
			if (dom->at[i] == DMARC_AT_RECORD &&
			    dom->off[i] == dom->org_off)
				rec = &dom->rec[rec_i = i];
		if (rec == NULL && end > 1 &&
		    dom->at[end - 1] == DMARC_AT_RECORD &&
		    dom->rec[end - 1].psd == DMARC_PSD_Y)
			rec = &dom->rec[rec_i = end - 1];
		break;
	}
	if (rec == NULL)
		return dmarc_done(out, DMARC_NONE, "no DMARC record");
	str_lcpy(out->record_domain, dom->name + dom->off[rec_i],
	    sizeof(out->record_domain));
	out->rec = rec;

	/* "If a retrieved DMARC Policy Record does not contain a valid "p"
	 * tag, or contains an "sp" or "np" tag that is not valid": with a
	 * valid rua URI act as if "p=none", else no DMARC (4.10.1). An absent
	 * p is "p=none" (4.7). */
	eff = *rec;
	if (eff.bad_policy) {
		if (!eff.rua_valid)
			return dmarc_done(out, DMARC_NONE,
			    "invalid policy in the DMARC record, no valid rua");
		eff.p = eff.sp = eff.np = DMARC_POLICY_NONE;
	}
	out->p = eff.p;
	out->sp = eff.sp;
	out->np = eff.np;
	out->testing =
	    d->params.pct == DMARC_PCT_SAMPLE ? eff.t_y : eff.testing;
	out->t_y = eff.t_y;
	out->pct = eff.pct;
	if (eff.p == DMARC_POLICY_UNSPEC)
		eff.p = DMARC_POLICY_NONE;
	out->policy = rec_i == 0 ? eff.p : dmarc_or(eff.sp, eff.p);

	/* Identifier alignment (RFC 9989 4.4, 4.10.2). Only a real pass can
	 * align; a temporary error counts only where a pass would have been
	 * aligned, so that an unrelated identifier made to time out cannot
	 * turn a fail into temperror. */
	if (auth != NULL && auth->spf_domain != NULL &&
	    auth->spf != DMARC_AUTH_OTHER) {
		r = dmarc_aligned(d, dom, eff.aspf_strict, auth->spf_domain);
		if (auth->spf == DMARC_AUTH_PASS && r == 1)
			out->spf_aligned = true;
		else if (r != 0)
			temp = true;
	}
	for (i = 0; auth != NULL && i < auth->ndkim; i++) {
		const struct dmarc_auth_dkim *k = &auth->dkim[i];

		if (k->domain == NULL || k->result == DMARC_AUTH_OTHER ||
		    (k->result == DMARC_AUTH_PASS && k->testing))
			continue;
		r = dmarc_aligned(d, dom, eff.adkim_strict, k->domain);
		if (k->result == DMARC_AUTH_PASS && r == 1) {
			out->dkim_aligned = true;
			break;
		}
		if (r != 0)
			temp = true;
	}
	if (dom->org_state > 0)
		str_lcpy(out->org_domain, dom->name + dom->org_off,
		    sizeof(out->org_domain));
	if (out->spf_aligned || out->dkim_aligned)
		return dmarc_done(out, DMARC_PASS,
		    out->dkim_aligned ? "aligned DKIM pass"
				      : "aligned SPF pass");
	/* The policy for a fail, and for a temperror too: the caller must
	 * tell a p=none domain (whose mail handling RFC 9989 says must not
	 * change) from one whose policy it would enforce. */
	if (dmarc_policy_for(d, dom, rec_i, &eff, &out->policy) < 0) {
		out->policy = DMARC_POLICY_UNSPEC;
		return dmarc_done(out, DMARC_TEMPERROR,
		    temp ? "temporary error in an aligned check"
			 : "DNS error testing whether the From domain exists");
	}
	out->fail_disposition = dmarc_applied(d, &eff, out->policy, out);
	if (temp)
		return dmarc_done(out, DMARC_TEMPERROR,
		    "temporary error in an aligned check");
	out->disposition = out->fail_disposition;
	return dmarc_done(out, DMARC_FAIL, "no aligned identifier passed");
}

int
dmarc_org_domain(
    struct dmarc *d, const char *domain, char out[DMARC_MAX_NAME + 1])
{
	struct dmarc_dom *dom = dmarc_dom_get(d, domain, DMARC_MAX_DOMAINS);

	if (dom == NULL || dmarc_dom_org(d, dom) < 0)
		return -1;
	str_lcpy(out, dom->name + dom->org_off, DMARC_MAX_NAME + 1);
	return 0;
}

bool
dmarc_pending(const struct dmarc *d)
{
	return d->pending;
}

void
dmarc_expire(struct dmarc *d)
{
	d->expired = true;
}

const char *
dmarc_result_str(enum dmarc_result r)
{
	switch (r) {
	case DMARC_NONE:
		return "none";
	case DMARC_PASS:
		return "pass";
	case DMARC_FAIL:
		return "fail";
	case DMARC_TEMPERROR:
		return "temperror";
	case DMARC_PERMERROR:
		return "permerror";
	}
	return "none";
}

const char *
dmarc_policy_str(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE:
		return "none";
	case DMARC_POLICY_QUARANTINE:
		return "quarantine";
	case DMARC_POLICY_REJECT:
		return "reject";
	case DMARC_POLICY_UNSPEC:
		break;
	}
	return "";
}

enum dmarc_dest
dmarc_report_dest(struct dmarc *dm, const char *policy, const char *host)
{
	char               a[DMARC_MAX_NAME + 1], b[DMARC_MAX_NAME + 1];
	char               name[512];
	struct dns_answer *ans;
	bool               ok = false;
	size_t             i;
	int                n;

	if (strcasecmp(policy, host) == 0 ||
	    (dmarc_org_domain(dm, policy, a) == 0 &&
		dmarc_org_domain(dm, host, b) == 0 && strcasecmp(a, b) == 0))
		return DMARC_DEST_SAME_ORG;
	n = snprintf(name, sizeof(name), "%s._report._dmarc.%s", policy, host);
	if (n < 0 || n > DNS_MAX_NAME || !dns_name_valid(name))
		return DMARC_DEST_EXTERNAL;
	if ((ans = dns_lookup(dm->dns, name, DNS_T_TXT)) == NULL)
		return DMARC_DEST_EXTERNAL;
	for (i = 0; ans->status == DNS_OK && i < ans->n && !ok; i++)
		ok = ans->rr[i].len >= 8 &&
		     str_ieq(ans->rr[i].data, 8, "v=DMARC1") &&
		     (ans->rr[i].len == 8 || ans->rr[i].data[8] == ';' ||
			 ans->rr[i].data[8] == ' ' ||
			 ans->rr[i].data[8] == '\t');
	dns_answer_free(ans);
	return ok ? DMARC_DEST_AUTHORIZED : DMARC_DEST_EXTERNAL;
}
