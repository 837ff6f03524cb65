/*
 * report_parse: a received aggregate report, from the mail to records.
 * See report_parse.h. Three layers, each bounded: the MIME walk and the
 * transfer decodings (ours), the decompression (zlib, libzip) and the XML
 * (libxml2's xmlReader, walked twice: once to check the report and read
 * its metadata, once more per report_parse_rows() call, so that a report
 * of a million records never sits in memory as rows).
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>
#include <zip.h>
/* next_in is const: the mail is not written to. */
#define ZLIB_CONST
#include <zlib.h>

#include "report_parse.h"
#include "str.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define NS_9990 "urn:ietf:params:xml:ns:dmarc-2.0"
/* The longest text kept from one element: names are 253 bytes; the
 * report_id check needs to see past STORE_RX_ID_MAX. */
#define TEXT_MAX 1024
/* Decompression goes through a buffer of this size. */
#define CHUNK (64 * 1024)
/* Zip entries looked at for the report. */
#define ZIP_ENTRIES_MAX 64

void
report_parse_init(struct report_parse *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->form = "";
	buf_init(&rp->xml, REPORT_PARSE_XML_MAX);
}

void
report_parse_free(struct report_parse *rp)
{
	buf_free(&rp->xml);
}

static int set_reason(struct report_parse *rp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the reason (printable, one line) and returns status. */
static int
set_reason(struct report_parse *rp, int status, const char *fmt, ...)
{
	char    line[sizeof(rp->reason)];
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		line[0] = '\0';
	str_printable(rp->reason, sizeof(rp->reason), line, strlen(line));
	return status;
}

static void
params_fill(const struct report_parse_params *in, struct report_parse_params *p)
{
	memset(p, 0, sizeof(*p));
	if (in != NULL)
		*p = *in;
	if (p->max_mail == 0)
		p->max_mail = REPORT_PARSE_MAIL_MAX;
	if (p->max_xml == 0)
		p->max_xml = REPORT_PARSE_XML_MAX;
	if (p->max_rows == 0)
		p->max_rows = REPORT_PARSE_ROWS_MAX;
	if (p->max_depth == 0)
		p->max_depth = REPORT_PARSE_DEPTH_MAX;
}

/* ---- the XML ---- */

/* The element names we know; N_OTHER for the rest. */
enum name {
	N_OTHER,
	N_FEEDBACK,
	N_VERSION,
	N_REPORT_METADATA,
	N_ORG_NAME,
	N_EMAIL,
	N_REPORT_ID,
	N_DATE_RANGE,
	N_BEGIN,
	N_END,
	N_POLICY_PUBLISHED,
	N_DOMAIN,
	N_P,
	N_SP,
	N_NP,
	N_ADKIM,
	N_ASPF,
	N_FO,
	N_TESTING,
	N_RECORD,
	N_ROW,
	N_SOURCE_IP,
	N_COUNT,
	N_POLICY_EVALUATED,
	N_DISPOSITION,
	N_DKIM,
	N_SPF,
	N_REASON,
	N_TYPE,
	N_IDENTIFIERS,
	N_HEADER_FROM,
	N_ENVELOPE_FROM,
	N_ENVELOPE_TO,
	N_AUTH_RESULTS,
	N_SELECTOR,
	N_RESULT,
	N_SCOPE
};

/* In strcmp order, for the binary search: name_of() runs for every
 * element of the document. */
static const struct {
	const char *s;
	enum name   n;
} names[] = {
    {"adkim", N_ADKIM},
    {"aspf", N_ASPF},
    {"auth_results", N_AUTH_RESULTS},
    {"begin", N_BEGIN},
    {"count", N_COUNT},
    {"date_range", N_DATE_RANGE},
    {"disposition", N_DISPOSITION},
    {"dkim", N_DKIM},
    {"domain", N_DOMAIN},
    {"email", N_EMAIL},
    {"end", N_END},
    {"envelope_from", N_ENVELOPE_FROM},
    {"envelope_to", N_ENVELOPE_TO},
    {"feedback", N_FEEDBACK},
    {"fo", N_FO},
    {"header_from", N_HEADER_FROM},
    {"identifiers", N_IDENTIFIERS},
    {"np", N_NP},
    {"org_name", N_ORG_NAME},
    {"p", N_P},
    {"policy_evaluated", N_POLICY_EVALUATED},
    {"policy_published", N_POLICY_PUBLISHED},
    {"reason", N_REASON},
    {"record", N_RECORD},
    {"report_id", N_REPORT_ID},
    {"report_metadata", N_REPORT_METADATA},
    {"result", N_RESULT},
    {"row", N_ROW},
    {"scope", N_SCOPE},
    {"selector", N_SELECTOR},
    {"source_ip", N_SOURCE_IP},
    {"sp", N_SP},
    {"spf", N_SPF},
    {"testing", N_TESTING},
    {"type", N_TYPE},
    {"version", N_VERSION},
};

static enum name
name_of(const char *s)
{
	size_t lo = 0, hi = NELEM(names), mid;
	int    c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(s, names[mid].s)) == 0)
			return names[mid].n;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return N_OTHER;
}

/* One SPF result while its element is read. */
struct spf_ent {
	char             domain[REPORT_NAME_MAX + 1];
	enum report_auth result;
	bool             has_result, mfrom;
};

struct walk {
	const struct report_parse_params *params;
	struct report_parse              *rp;
	bool                              second; /* rows pass */
	int (*fn)(void *, const struct report_row *, uint64_t);
	void *arg;
	int   fn_rc;

	enum name stack[REPORT_PARSE_DEPTH_MAX + 1];
	unsigned  depth;
	char      text[TEXT_MAX + 1];
	size_t    tlen;
	bool      tover; /* text past TEXT_MAX */

	bool has_org, has_id, has_begin, has_end, has_domain;
	/* The record being read. */
	struct report_row row;
	uint64_t          count;
	bool has_ip, has_count, has_dis, has_dkim_ev, has_spf_ev, has_hfrom;
	struct report_dkim dk;
	bool               dk_has_domain, dk_has_result;
	struct spf_ent     spf, spf_kept;
	bool               kept_mfrom;
	char               why[160]; /* the first problem */
};

static void bad(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bad(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	if (w->why[0] == '\0')
		snprintf(w->why, sizeof(w->why), "malformed");
}

/* The element's text, trimmed, into dst (cut to dstsize - 1), bytes
 * outside printable ASCII as '?', lower-cased when lower. */
static void
text_to(const struct walk *w, char *dst, size_t dstsize, bool lower)
{
	const char   *p = w->text;
	size_t        n = w->tlen, i;
	unsigned char c;

	str_trim(&p, &n);
	if (n >= dstsize)
		n = dstsize - 1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c < 0x20 || c >= 0x7f)
			c = '?';
		dst[i] = (char)(lower ? str_tolower(c) : c);
	}
	dst[n] = '\0';
}

/* A small word of the text, lower case, for enumerated values. */
static void
word(const struct walk *w, char dst[32])
{
	text_to(w, dst, 32, true);
}

/* A non-negative decimal integer; -1 when it is not one or too large. */
static int
text_uint(const struct walk *w, uint64_t max, uint64_t *v)
{
	const char *p = w->text;
	size_t      n = w->tlen, i;
	uint64_t    x = 0;

	str_trim(&p, &n);
	if (n == 0 || w->tover)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (x > (max - (uint64_t)(p[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(p[i] - '0');
	}
	*v = x;
	return 0;
}

static void
policy_value(struct walk *w, const char *what, enum report_policy *dst)
{
	char v[32];
	int  x;

	word(w, v);
	if ((x = report_policy_parse(v)) <= 0)
		bad(w, "policy_published %s \"%s\"", what, v);
	else
		*dst = (enum report_policy)x;
}

static void
leaf_metadata(struct walk *w, enum name n, enum name parent)
{
	struct store_rx_report *rep = &w->rp->rep;
	const char             *p = w->text;
	size_t                  len = w->tlen, i;
	uint64_t                v;

	if (parent == N_DATE_RANGE) {
		if (n != N_BEGIN && n != N_END)
			return;
		if (text_uint(w, INT64_MAX, &v) < 0) {
			bad(w, "date_range %s is not a number",
			    n == N_BEGIN ? "begin" : "end");
			return;
		}
		if (n == N_BEGIN) {
			rep->begin = (int64_t)v;
			w->has_begin = true;
		} else {
			rep->end = (int64_t)v;
			w->has_end = true;
		}
		return;
	}
	switch (n) {
	case N_ORG_NAME:
		text_to(w, rep->org, sizeof(rep->org), false);
		w->has_org = rep->org[0] != '\0';
		break;
	case N_EMAIL:
		text_to(w, rep->email, sizeof(rep->email), false);
		break;
	case N_REPORT_ID:
		str_trim(&p, &len);
		if (len == 0 || len > STORE_RX_ID_MAX || w->tover) {
			bad(w, "report_id of %zu bytes (1 to %d)", len,
			    STORE_RX_ID_MAX);
			return;
		}
		for (i = 0; i < len; i++)
			if ((unsigned char)p[i] < 0x20 ||
			    (unsigned char)p[i] >= 0x7f) {
				bad(w, "report_id is not printable ASCII");
				return;
			}
		memcpy(rep->report_id, p, len);
		rep->report_id[len] = '\0';
		w->has_id = true;
		break;
	default:
		break;
	}
}

static void
leaf_policy(struct walk *w, enum name n)
{
	struct report_policy_pub *pol = &w->rp->rep.pol;
	char                      v[32];

	switch (n) {
	case N_DOMAIN:
		text_to(w, pol->domain, sizeof(pol->domain), true);
		w->has_domain = pol->domain[0] != '\0';
		break;
	case N_P:
		policy_value(w, "p", &pol->p);
		break;
	case N_SP:
		policy_value(w, "sp", &pol->sp);
		break;
	case N_NP:
		policy_value(w, "np", &pol->np);
		break;
	case N_ADKIM:
		word(w, v);
		pol->adkim_strict = strcmp(v, "s") == 0;
		break;
	case N_ASPF:
		word(w, v);
		pol->aspf_strict = strcmp(v, "s") == 0;
		break;
	case N_TESTING:
		word(w, v);
		pol->testing = strcmp(v, "y") == 0;
		break;
	case N_FO:
		text_to(w, pol->fo, sizeof(pol->fo), false);
		break;
	default:
		break; /* pct, discovery_method, ... */
	}
}

/* A policy_evaluated dkim or spf: pass or fail. */
static void
aligned(struct walk *w, const char *what, bool *dst, bool *seen)
{
	char v[32];

	word(w, v);
	if (strcmp(v, "pass") == 0)
		*dst = true;
	else if (strcmp(v, "fail") == 0)
		*dst = false;
	else
		bad(w, "policy_evaluated %s \"%s\"", what, v);
	*seen = true;
}

static void
auth_value(struct walk *w, const char *what, enum report_auth *dst, bool *seen)
{
	char v[32];
	int  x;

	word(w, v);
	if ((x = report_auth_parse(v)) < 0)
		bad(w, "%s result \"%s\"", what, v);
	else
		*dst = (enum report_auth)x;
	*seen = true;
}

/* The end of a leaf element of a record, at depth d (the record at 1). */
static void
leaf_record(struct walk *w, enum name n)
{
	struct report_row *r = &w->row;
	enum name          p1 = w->stack[2], p2 = w->stack[3];
	unsigned           d = w->depth;
	char               v[32];
	int                x;

	if (d == 3 && p1 == N_ROW) {
		if (n == N_SOURCE_IP) {
			text_to(w, r->source_ip, sizeof(r->source_ip), true);
			w->has_ip = r->source_ip[0] != '\0';
		} else if (n == N_COUNT) {
			if (text_uint(w, INT64_MAX, &w->count) < 0)
				bad(w, "count is not a number");
			w->has_count = true;
		}
	} else if (d == 4 && p1 == N_ROW && p2 == N_POLICY_EVALUATED) {
		if (n == N_DISPOSITION) {
			word(w, v);
			if ((x = report_disposition_parse(v)) < 0)
				bad(w, "disposition \"%s\"", v);
			else
				r->disposition = (enum report_disposition)x;
			w->has_dis = true;
		} else if (n == N_DKIM) {
			aligned(w, "dkim", &r->dkim_aligned, &w->has_dkim_ev);
		} else if (n == N_SPF) {
			aligned(w, "spf", &r->spf_aligned, &w->has_spf_ev);
		}
	} else if (d == 5 && p1 == N_ROW && p2 == N_POLICY_EVALUATED &&
		   w->stack[4] == N_REASON && n == N_TYPE) {
		word(w, v);
		x = report_reason_parse(v);
		/* RFC 7489's forwarded and sampled_out have no bit. */
		r->reasons |= x >= 0 ? (unsigned)x : REPORT_REASON_OTHER;
	} else if (d == 3 && p1 == N_IDENTIFIERS) {
		if (n == N_HEADER_FROM) {
			text_to(
			    w, r->header_from, sizeof(r->header_from), true);
			w->has_hfrom = true;
		} else if (n == N_ENVELOPE_FROM) {
			text_to(w, r->envelope_from, sizeof(r->envelope_from),
			    true);
		} else if (n == N_ENVELOPE_TO) {
			text_to(
			    w, r->envelope_to, sizeof(r->envelope_to), true);
		}
	} else if (d == 4 && p1 == N_AUTH_RESULTS && p2 == N_DKIM) {
		if (n == N_DOMAIN) {
			text_to(w, w->dk.domain, sizeof(w->dk.domain), true);
			w->dk_has_domain = true;
		} else if (n == N_SELECTOR) {
			text_to(
			    w, w->dk.selector, sizeof(w->dk.selector), false);
		} else if (n == N_RESULT) {
			auth_value(w, "dkim", &w->dk.result, &w->dk_has_result);
		}
	} else if (d == 4 && p1 == N_AUTH_RESULTS && p2 == N_SPF) {
		if (n == N_DOMAIN) {
			text_to(w, w->spf.domain, sizeof(w->spf.domain), true);
		} else if (n == N_SCOPE) {
			word(w, v);
			w->spf.mfrom = strcmp(v, "mfrom") == 0;
		} else if (n == N_RESULT) {
			auth_value(
			    w, "spf", &w->spf.result, &w->spf.has_result);
		}
	}
}

/* Where an element starts (the stack holds it at w->depth). */
static void
el_start(struct walk *w)
{
	enum name n = w->stack[w->depth];

	if (w->depth == 1 && n == N_RECORD) {
		memset(&w->row, 0, sizeof(w->row));
		w->count = 0;
		w->has_ip = w->has_count = w->has_dis = false;
		w->has_dkim_ev = w->has_spf_ev = w->has_hfrom = false;
		w->kept_mfrom = false;
		memset(&w->spf_kept, 0, sizeof(w->spf_kept));
	} else if (w->depth == 3 && w->stack[1] == N_RECORD &&
		   w->stack[2] == N_AUTH_RESULTS) {
		if (n == N_DKIM) {
			memset(&w->dk, 0, sizeof(w->dk));
			w->dk_has_domain = w->dk_has_result = false;
		} else if (n == N_SPF) {
			memset(&w->spf, 0, sizeof(w->spf));
			/* RFC 9990 knows only mfrom: no scope is mfrom. */
			w->spf.mfrom = true;
		}
	}
}

static void
record_end(struct walk *w)
{
	struct report_parse *rp = w->rp;

	if (!w->has_ip || !w->has_count || !w->has_dis || !w->has_dkim_ev ||
	    !w->has_spf_ev || !w->has_hfrom) {
		bad(w, "record %" PRIu64 ": %s missing", rp->records + 1,
		    !w->has_ip      ? "source_ip"
		    : !w->has_count ? "count"
		    : !w->has_dis   ? "disposition"
		    : !w->has_hfrom ? "header_from"
				    : "policy_evaluated dkim or spf");
		return;
	}
	if (rp->records >= w->params->max_rows) {
		bad(w, "more than %" PRIu64 " records", w->params->max_rows);
		return;
	}
	rp->records++;
	if (!w->second) {
		if (w->count > UINT64_MAX - rp->messages)
			bad(w, "the counts pass 2^64");
		else
			rp->messages += w->count;
		return;
	}
	w->row.when = rp->rep.begin;
	w->row.pol = rp->rep.pol;
	if (w->fn_rc == 0)
		w->fn_rc = w->fn(w->arg, &w->row, w->count);
}

/* Where an element ends (still on the stack at w->depth). */
static void
el_end(struct walk *w)
{
	unsigned  d = w->depth;
	enum name n = w->stack[d];

	if (d >= 2 && w->stack[1] == N_REPORT_METADATA)
		leaf_metadata(w, n, w->stack[d - 1]);
	else if (d == 2 && w->stack[1] == N_POLICY_PUBLISHED)
		leaf_policy(w, n);
	else if (d >= 3 && w->stack[1] == N_RECORD)
		leaf_record(w, n);
	if (d == 3 && w->stack[1] == N_RECORD &&
	    w->stack[2] == N_AUTH_RESULTS) {
		if (n == N_DKIM) {
			if (!w->dk_has_domain || !w->dk_has_result)
				bad(w, "a dkim result without domain or "
				       "result");
			else if (w->row.ndkim < REPORT_MAX_DKIM)
				w->row.dkim[w->row.ndkim++] = w->dk;
		} else if (n == N_SPF) {
			if (!w->spf.has_result) {
				bad(w, "an spf result without result");
			} else if (!w->row.has_spf ||
				   (!w->kept_mfrom && w->spf.mfrom)) {
				w->row.has_spf = true;
				w->kept_mfrom = w->spf.mfrom;
				str_lcpy(w->row.spf_domain, w->spf.domain,
				    sizeof(w->row.spf_domain));
				w->row.spf_result = w->spf.result;
			}
		}
	}
	if (d == 1 && n == N_RECORD)
		record_end(w);
}

/* libxml2's messages go to the walk, not to stderr. */
static void
xml_error(void *arg, xmlErrorPtr e)
{
	struct walk *w = arg;
	char         msg[128];
	size_t       n;

	if (e == NULL || e->level < XML_ERR_ERROR)
		return;
	n = e->message != NULL ? strlen(e->message) : 0;
	while (n > 0 && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
		n--;
	str_printable(
	    msg, sizeof(msg), e->message != NULL ? e->message : "", n);
	bad(w, "xml: line %d: %s", e->line, msg);
}

/* libxml2's messages without a parser context (encoding errors) go to
 * its generic handler, stderr by default: dropped while we parse; the
 * reader's own error says what went wrong. */
static void
xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static bool
has_doctype(const char *p, size_t n)
{
	static const char dt[] = "<!DOCTYPE";
	const char       *q = p, *end = p + n;

	while ((q = memchr(q, '<', (size_t)(end - q))) != NULL) {
		if ((size_t)(end - q) >= sizeof(dt) - 1 &&
		    memcmp(q, dt, sizeof(dt) - 1) == 0)
			return true;
		q++;
	}
	return false;
}

/* One pass over the document. Returns 0 with w->why set or empty, or -1
 * (err) when libxml2 cannot start. */
static int
xml_walk(struct walk *w, const char *p, size_t n, struct am_err *err)
{
	xmlTextReaderPtr    r;
	const xmlChar      *ns0 = NULL, *ns, *v;
	xmlChar            *rootns = NULL;
	int                 rc = 0, type, depth, empty;
	enum name           nm;
	xmlGenericErrorFunc gen_fn;
	void               *gen_ctx;

	if (n > INT_MAX) {
		bad(w, "document too large");
		return 0;
	}
	/* Entities come only with a DTD: a report has no use for either. */
	if (has_doctype(p, n)) {
		bad(w, "a DTD in the document");
		return 0;
	}
	xmlInitParser();
	/* Per thread in libxml2: restored before returning. */
	gen_fn = xmlGenericError;
	gen_ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	r = xmlReaderForMemory(
	    p, (int)n, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	if (r == NULL) {
		xmlSetGenericErrorFunc(gen_ctx, gen_fn);
		return am_err_set(err, "report: xmlReader: out of memory");
	}
	xmlTextReaderSetStructuredErrorHandler(r, xml_error, w);
	w->depth = 0;
	while (w->why[0] == '\0' && w->fn_rc == 0 &&
	       (rc = xmlTextReaderRead(r)) == 1) {
		type = xmlTextReaderNodeType(r);
		depth = xmlTextReaderDepth(r);
		switch (type) {
		case XML_READER_TYPE_ELEMENT:
			if (depth < 0 ||
			    (unsigned)depth >= w->params->max_depth) {
				bad(w, "elements nested deeper than %u",
				    w->params->max_depth);
				break;
			}
			v = xmlTextReaderConstLocalName(r);
			ns = xmlTextReaderConstNamespaceUri(r);
			if (depth == 0) {
				if (v == NULL ||
				    strcmp((const char *)v, "feedback") != 0) {
					bad(w, "the root is not feedback");
					break;
				}
				if (ns != NULL &&
				    (rootns = xmlStrdup(ns)) == NULL) {
					xmlFreeTextReader(r);
					xmlSetGenericErrorFunc(gen_ctx, gen_fn);
					return am_err_set(
					    err, "report: out of memory");
				}
				ns0 = rootns;
				w->rp->version =
				    ns != NULL &&
					    xmlStrEqual(ns, BAD_CAST NS_9990)
					? 2
					: 1;
			}
			nm = N_OTHER;
			if (v != NULL && xmlStrEqual(ns, ns0))
				nm = name_of((const char *)v);
			/* Our elements only under ours. */
			if (depth > 0 && w->stack[depth - 1] == N_OTHER)
				nm = N_OTHER;
			w->depth = (unsigned)depth;
			w->stack[depth] = nm;
			w->tlen = 0;
			w->tover = false;
			el_start(w);
			empty = xmlTextReaderIsEmptyElement(r);
			if (empty == 1)
				el_end(w);
			break;
		case XML_READER_TYPE_END_ELEMENT:
			if (depth < 0 ||
			    (unsigned)depth >= w->params->max_depth)
				break;
			w->depth = (unsigned)depth;
			el_end(w);
			w->tlen = 0;
			w->tover = false;
			break;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
			v = xmlTextReaderConstValue(r);
			if (v != NULL) {
				size_t len = strlen((const char *)v);

				if (len > TEXT_MAX - w->tlen) {
					len = TEXT_MAX - w->tlen;
					w->tover = true;
				}
				memcpy(w->text + w->tlen, v, len);
				w->tlen += len;
			}
			break;
		case XML_READER_TYPE_DOCUMENT_TYPE:
			bad(w, "a DTD in the document");
			break;
		case XML_READER_TYPE_ENTITY_REFERENCE:
		case XML_READER_TYPE_ENTITY:
			bad(w, "an entity reference in the document");
			break;
		default:
			break;
		}
	}
	if (w->why[0] == '\0' && w->fn_rc == 0 && rc != 0)
		bad(w, "xml: not well-formed");
	xmlFreeTextReader(r);
	xmlFree(rootns);
	xmlSetGenericErrorFunc(gen_ctx, gen_fn);
	return 0;
}

static int
xml_check(struct report_parse *rp, const struct report_parse_params *params,
    struct am_err *err)
{
	struct walk *w;
	int          status;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return am_err_set(err, "report: out of memory");
	w->params = params;
	w->rp = rp;
	memset(&rp->rep, 0, sizeof(rp->rep));
	rp->records = rp->messages = 0;
	if (xml_walk(w, rp->xml.data, rp->xml.len, err) < 0) {
		free(w);
		return -1;
	}
	if (w->why[0] == '\0') {
		if (!w->has_org)
			bad(w, "no org_name");
		else if (!w->has_id)
			bad(w, "no report_id");
		else if (!w->has_begin || !w->has_end)
			bad(w, "no date_range");
		else if (rp->rep.end < rp->rep.begin)
			bad(w, "date_range ends before it begins");
		else if (!w->has_domain)
			bad(w, "no policy_published domain");
		else if (rp->records == 0)
			bad(w, "no record");
	}
	if (w->why[0] != '\0')
		status = set_reason(rp, REPORT_PARSE_BAD, "%s", w->why);
	else
		status = REPORT_PARSE_OK;
	free(w);
	return status;
}

int
report_parse_rows(const struct report_parse *rp,
    const struct report_parse_params        *in,
    int (*fn)(void *arg, const struct report_row *, uint64_t count), void *arg,
    struct am_err *err)
{
	struct report_parse_params params;
	struct report_parse       *copy;
	struct walk               *w;
	int                        rc;

	params_fill(in, &params);
	/* The walk writes the counters: it gets a copy that shares the
	 * document. */
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (copy = malloc(sizeof(*copy))) == NULL) {
		free(w);
		return am_err_set(err, "report: out of memory");
	}
	*copy = *rp;
	copy->records = 0;
	w->params = &params;
	w->rp = copy;
	w->second = true;
	w->fn = fn;
	w->arg = arg;
	rc = xml_walk(w, rp->xml.data, rp->xml.len, err);
	if (rc == 0 && w->fn_rc != 0)
		rc = w->fn_rc;
	else if (rc == 0 && w->why[0] != '\0')
		/* The first pass found it valid: the same bytes cannot fail
		 * now, but for memory. */
		rc = am_err_set(err, "report: second pass: %s", w->why);
	free(copy);
	free(w);
	return rc;
}

/* ---- the document: gzip, zip or XML ---- */

static int
inflate_gzip(const char *p, size_t n, const struct report_parse_params *params,
    struct report_parse *rp, struct am_err *err)
{
	z_stream       z;
	unsigned char *out;
	int            zr = Z_OK;
	size_t         got;

	if ((out = malloc(CHUNK)) == NULL)
		return am_err_set(err, "report: out of memory");
	memset(&z, 0, sizeof(z));
	/* 15 + 32: a zlib or gzip header, detected. */
	if (inflateInit2(&z, 15 + 32) != Z_OK) {
		free(out);
		return am_err_set(err, "report: zlib: inflateInit2 failed");
	}
	while (zr != Z_STREAM_END) {
		/* Input in pieces zlib's uInt can hold. */
		if (z.avail_in == 0 && n > 0) {
			z.next_in = (z_const Bytef *)p;
			z.avail_in = n > UINT_MAX ? UINT_MAX : (uInt)n;
			p += z.avail_in;
			n -= z.avail_in;
		}
		z.next_out = out;
		z.avail_out = CHUNK;
		zr = inflate(&z, Z_NO_FLUSH);
		got = CHUNK - z.avail_out;
		if (zr == Z_MEM_ERROR) {
			inflateEnd(&z);
			free(out);
			return am_err_set(err, "report: zlib: out of memory");
		}
		if (zr != Z_OK && zr != Z_STREAM_END &&
		    !(zr == Z_BUF_ERROR && got > 0)) {
			inflateEnd(&z);
			free(out);
			return set_reason(rp, REPORT_PARSE_BAD,
			    zr == Z_BUF_ERROR ? "gzip: truncated" : "gzip: %s",
			    z.msg != NULL ? z.msg : "corrupt");
		}
		/* Counted as it comes out: the header's size is not
		 * trusted. */
		if (got > params->max_xml - rp->xml.len) {
			inflateEnd(&z);
			free(out);
			return set_reason(rp, REPORT_PARSE_BAD,
			    "gzip: more than %zu bytes decompressed",
			    params->max_xml);
		}
		if (buf_append(&rp->xml, out, got) < 0) {
			inflateEnd(&z);
			free(out);
			return am_err_set(err, "report: out of memory");
		}
		if (got == 0 && z.avail_in == 0 && n == 0 &&
		    zr != Z_STREAM_END) {
			inflateEnd(&z);
			free(out);
			return set_reason(
			    rp, REPORT_PARSE_BAD, "gzip: truncated");
		}
	}
	inflateEnd(&z);
	free(out);
	return REPORT_PARSE_OK;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && str_ieq(s + n - m, m, suffix);
}

static int
unzip(const char *p, size_t n, const struct report_parse_params *params,
    struct report_parse *rp, struct am_err *err)
{
	zip_error_t   ze;
	zip_source_t *src;
	zip_t        *za;
	zip_file_t   *zf;
	zip_int64_t   num, i, pick = -1, got;
	const char   *name;
	char         *out;
	int           status = REPORT_PARSE_OK;

	zip_error_init(&ze);
	if ((src = zip_source_buffer_create(p, n, 0, &ze)) == NULL) {
		zip_error_fini(&ze);
		return am_err_set(err, "report: libzip: out of memory");
	}
	if ((za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze)) ==
	    NULL) {
		status = set_reason(
		    rp, REPORT_PARSE_BAD, "zip: %s", zip_error_strerror(&ze));
		zip_source_free(src);
		zip_error_fini(&ze);
		return status;
	}
	zip_error_fini(&ze);
	num = zip_get_num_entries(za, 0);
	for (i = 0; i < num && i < ZIP_ENTRIES_MAX; i++) {
		if ((name = zip_get_name(za, (zip_uint64_t)i, 0)) == NULL ||
		    ends_with(name, "/"))
			continue;
		if (ends_with(name, ".xml")) {
			pick = i;
			break;
		}
		if (pick < 0)
			pick = i;
	}
	if (pick < 0) {
		zip_discard(za);
		return set_reason(rp, REPORT_PARSE_BAD, "zip: no file in it");
	}
	if ((zf = zip_fopen_index(za, (zip_uint64_t)pick, 0)) == NULL) {
		status = set_reason(
		    rp, REPORT_PARSE_BAD, "zip: %s", zip_strerror(za));
		zip_discard(za);
		return status;
	}
	if ((out = malloc(CHUNK)) == NULL) {
		zip_fclose(zf);
		zip_discard(za);
		return am_err_set(err, "report: out of memory");
	}
	/* Counted as it comes out; the directory's sizes are not trusted. */
	while ((got = zip_fread(zf, out, CHUNK)) > 0) {
		if ((size_t)got > params->max_xml - rp->xml.len) {
			status = set_reason(rp, REPORT_PARSE_BAD,
			    "zip: more than %zu bytes decompressed",
			    params->max_xml);
			break;
		}
		if (buf_append(&rp->xml, out, (size_t)got) < 0) {
			status = am_err_set(err, "report: out of memory");
			break;
		}
	}
	if (got < 0 && status == REPORT_PARSE_OK)
		status = set_reason(
		    rp, REPORT_PARSE_BAD, "zip: %s", zip_file_strerror(zf));
	free(out);
	zip_fclose(zf);
	zip_discard(za);
	return status;
}

int
report_parse_doc(const char *p, size_t n, const struct report_parse_params *in,
    struct report_parse *rp, struct am_err *err)
{
	struct report_parse_params params;
	int                        st;

	params_fill(in, &params);
	buf_reset(&rp->xml);
	rp->xml.max = params.max_xml;
	rp->reason[0] = '\0';
	if (n >= 2 && (unsigned char)p[0] == 0x1f &&
	    (unsigned char)p[1] == 0x8b) {
		rp->form = "gzip";
		st = inflate_gzip(p, n, &params, rp, err);
	} else if (n >= 4 && memcmp(p, "PK\003\004", 4) == 0) {
		rp->form = "zip";
		st = unzip(p, n, &params, rp, err);
	} else {
		rp->form = "xml";
		if (n > params.max_xml)
			return set_reason(rp, REPORT_PARSE_BAD,
			    "xml: more than %zu bytes", params.max_xml);
		st = buf_append(&rp->xml, p, n) < 0
			 ? am_err_set(err, "report: out of memory")
			 : REPORT_PARSE_OK;
	}
	if (st != REPORT_PARSE_OK)
		return st;
	return xml_check(rp, &params, err);
}

/* ---- the mail ---- */

struct entity {
	char ctype[64];     /* type/subtype, lower case; "" when absent */
	char boundary[201]; /* multipart */
	char cte[32];       /* lower case */
	char name[128];     /* filename= or name=, printable */
};

/* The next line of [p, end): its length without CR LF; returns where the
 * next line starts. */
static const char *
next_line(const char *p, const char *end, size_t *len)
{
	const char *e = memchr(p, '\n', (size_t)(end - p));
	const char *next = e != NULL ? e + 1 : end;

	if (e == NULL)
		e = end;
	if (e > p && e[-1] == '\r')
		e--;
	*len = (size_t)(e - p);
	return next;
}

/* The value of parameter want in a Content-Type or Content-Disposition
 * field value (after the first ';'), unquoted, into dst; false when
 * absent. RFC 2231 forms are not decoded. */
static bool
param(const char *v, size_t n, const char *want, char *dst, size_t dstsize)
{
	const char *p = v, *end = v + n, *ns;
	size_t      wl = strlen(want), k;
	bool        q;

	while ((p = memchr(p, ';', (size_t)(end - p))) != NULL) {
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		ns = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		if (p >= end || *p != '=')
			continue;
		k = (size_t)(p - ns);
		while (k > 0 && (ns[k - 1] == ' ' || ns[k - 1] == '\t'))
			k--;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (k != wl || !str_ieq(ns, k, want))
			continue;
		k = 0;
		q = p < end && *p == '"';
		if (q)
			p++;
		while (p < end && k + 1 < dstsize) {
			if (q && *p == '"')
				break;
			if (!q && (*p == ';' || *p == ' ' || *p == '\t'))
				break;
			if (q && *p == '\\' && p + 1 < end)
				p++;
			dst[k++] = (unsigned char)*p >= 0x20 &&
					   (unsigned char)*p < 0x7f
				       ? *p
				       : '?';
			p++;
		}
		dst[k] = '\0';
		return true;
	}
	return false;
}

/* A field's value into e when it is one we use. */
static void
field(struct entity *e, const char *f, size_t n)
{
	const char *c = memchr(f, ':', n), *v;
	size_t      nl, vl, i;

	if (c == NULL)
		return;
	nl = (size_t)(c - f);
	v = c + 1;
	vl = n - nl - 1;
	str_trim(&v, &vl);
	if (nl == 12 && str_ieq(f, nl, "Content-Type")) {
		for (i = 0; i < vl && i + 1 < sizeof(e->ctype) && v[i] != ';' &&
			    v[i] != ' ' && v[i] != '\t';
		     i++)
			e->ctype[i] = (char)str_tolower((unsigned char)v[i]);
		e->ctype[i] = '\0';
		param(v, vl, "boundary", e->boundary, sizeof(e->boundary));
		if (e->name[0] == '\0')
			param(v, vl, "name", e->name, sizeof(e->name));
	} else if (nl == 25 && str_ieq(f, nl, "Content-Transfer-Encoding")) {
		for (i = 0; i < vl && i + 1 < sizeof(e->cte) && v[i] != ' ' &&
			    v[i] != '\t' && v[i] != ';';
		     i++)
			e->cte[i] = (char)str_tolower((unsigned char)v[i]);
		e->cte[i] = '\0';
	} else if (nl == 19 && str_ieq(f, nl, "Content-Disposition")) {
		param(v, vl, "filename", e->name, sizeof(e->name));
	}
}

/* Reads the header of the entity [p, end) into e (unfolded fields of at
 * most FIELD_MAX bytes) and returns where the body starts; NULL when a
 * line is longer than REPORT_PARSE_LINE_MAX. */
#define FIELD_MAX 4096
static const char *
header(const char *p, const char *end, struct entity *e, char *f)
{
	const char *next;
	size_t      len, flen = 0;

	memset(e, 0, sizeof(*e));
	while (p < end) {
		next = next_line(p, end, &len);
		if (len > REPORT_PARSE_LINE_MAX)
			return NULL;
		if (len > 0 && (p[0] == ' ' || p[0] == '\t') && flen > 0) {
			if (len > FIELD_MAX - flen)
				len = FIELD_MAX - flen;
			memcpy(f + flen, p, len);
			flen += len;
		} else {
			if (flen > 0)
				field(e, f, flen);
			flen = 0;
			if (len == 0)
				return next; /* the blank line */
			if (len > FIELD_MAX)
				len = FIELD_MAX;
			memcpy(f, p, len);
			flen = len;
		}
		p = next;
	}
	if (flen > 0)
		field(e, f, flen);
	return end;
}

/* RFC 2045 6.8: characters outside the alphabet are ignored; '=' ends. */
static int
base64_decode(const char *p, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	int      bits = 0, v;
	size_t   i;

	for (i = 0; i < n && p[i] != '='; i++) {
		if ((v = str_b64val((unsigned char)p[i])) < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (buf_append_char(out, (char)((acc >> bits) & 0xff)) <
			    0)
				return -1;
		}
	}
	return 0;
}

/* RFC 2045 6.7: =XX, soft line breaks; a stray '=' is kept. */
static int
qp_decode(const char *p, size_t n, struct buf *out)
{
	size_t i = 0, k;
	int    hi, lo;

	while (i < n) {
		if (p[i] == '=') {
			k = i + 1;
			while (k < n && (p[k] == ' ' || p[k] == '\t'))
				k++;
			if (k < n && (p[k] == '\n' || p[k] == '\r')) {
				if (p[k] == '\r' && k + 1 < n &&
				    p[k + 1] == '\n')
					k++;
				i = k + 1;
				continue;
			}
			if (i + 2 < n &&
			    (hi = str_hexval((unsigned char)p[i + 1])) >= 0 &&
			    (lo = str_hexval((unsigned char)p[i + 2])) >= 0) {
				if (buf_append_char(out, (char)(hi << 4 | lo)) <
				    0)
					return -1;
				i += 3;
				continue;
			}
		}
		if (buf_append_char(out, p[i]) < 0)
			return -1;
		i++;
	}
	return 0;
}

static bool
is_candidate(const struct entity *e)
{
	static const char *const types[] = {"application/gzip",
	    "application/x-gzip", "application/zip",
	    "application/x-zip-compressed", "application/x-zip", "text/xml",
	    "application/xml"};
	size_t                   i;

	for (i = 0; i < NELEM(types); i++)
		if (strcmp(e->ctype, types[i]) == 0)
			return true;
	if (strcmp(e->ctype, "application/octet-stream") == 0)
		return e->name[0] == '\0' || ends_with(e->name, ".xml") ||
		       ends_with(e->name, ".gz") || ends_with(e->name, ".zip");
	return false;
}

struct mime {
	const struct report_parse_params *params;
	struct report_parse              *rp;
	struct am_err                    *err;
	unsigned                          parts;
	int                               status; /* -1: none found yet */
	char                              f[FIELD_MAX];
};

/* Starts like gzip, zip or XML (perhaps after a BOM and blanks). */
static bool
looks_like_doc(const char *p, size_t n)
{
	size_t i = 0;

	if (n >= 2 && (unsigned char)p[0] == 0x1f &&
	    (unsigned char)p[1] == 0x8b)
		return true;
	if (n >= 4 && memcmp(p, "PK\003\004", 4) == 0)
		return true;
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < n &&
	       (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < n && p[i] == '<';
}

/* A candidate part: decoded, then the document. An unnamed
 * application/octet-stream part counts only when it looks like one. */
static int
leaf(struct mime *m, const struct entity *e, const char *p, size_t n)
{
	struct buf  dec;
	const char *d = p;
	size_t      dn = n;
	bool        sniff = strcmp(e->ctype, "application/octet-stream") == 0 &&
		     e->name[0] == '\0';
	int rc = 0;

	buf_init(&dec, n + 1);
	if (strcmp(e->cte, "base64") == 0)
		rc = base64_decode(p, n, &dec);
	else if (strcmp(e->cte, "quoted-printable") == 0)
		rc = qp_decode(p, n, &dec);
	if (rc < 0) {
		buf_free(&dec);
		return am_err_set(m->err, "report: out of memory");
	}
	if (strcmp(e->cte, "base64") == 0 ||
	    strcmp(e->cte, "quoted-printable") == 0) {
		d = dec.data != NULL ? dec.data : "";
		dn = dec.len;
	}
	if (!sniff || looks_like_doc(d, dn)) {
		str_lcpy(m->rp->part, e->name, sizeof(m->rp->part));
		rc = report_parse_doc(d, dn, m->params, m->rp, m->err);
		if (rc >= 0)
			m->status = rc;
	}
	buf_free(&dec);
	return rc < 0 ? -1 : 0;
}

/* Is the line [p, p + n) a delimiter of boundary b? *close for the last. */
static bool
delimiter(const char *p, size_t n, const char *b, bool *close)
{
	size_t bl = strlen(b), i;

	if (n < bl + 2 || p[0] != '-' || p[1] != '-' ||
	    memcmp(p + 2, b, bl) != 0)
		return false;
	i = bl + 2;
	*close = n - i >= 2 && p[i] == '-' && p[i + 1] == '-';
	if (*close)
		i += 2;
	for (; i < n; i++) /* transport padding */
		if (p[i] != ' ' && p[i] != '\t')
			return false;
	return true;
}

/* Walks the entity [p, end) at depth; stops at the first report part. */
static int
entity(struct mime *m, const char *p, const char *end, unsigned depth)
{
	struct entity e;
	const char   *body, *line, *next, *part = NULL, *pend;
	size_t        len;
	bool          close = false;

	if (++m->parts > REPORT_PARSE_MIME_PARTS)
		return 0;
	if ((body = header(p, end, &e, m->f)) == NULL)
		return 0;
	if (strncmp(e.ctype, "multipart/", 10) == 0) {
		if (e.boundary[0] == '\0' ||
		    depth + 1 >= REPORT_PARSE_MIME_DEPTH)
			return 0;
		for (line = body; line < end && m->status < 0 && !close;
		     line = next) {
			next = next_line(line, end, &len);
			if (!delimiter(line, len, e.boundary, &close))
				continue;
			if (part != NULL) {
				/* The line break before the delimiter is
				 * the delimiter's. */
				pend = line;
				if (pend > part && pend[-1] == '\n')
					pend--;
				if (pend > part && pend[-1] == '\r')
					pend--;
				if (entity(m, part, pend, depth + 1) < 0)
					return -1;
			}
			part = next;
		}
		/* No close delimiter: the last part runs to the end. */
		if (part != NULL && !close && m->status < 0 && part < end)
			return entity(m, part, end, depth + 1);
		return 0;
	}
	if (!is_candidate(&e))
		return 0;
	return leaf(m, &e, body, (size_t)(end - body));
}

int
report_parse_mail(const char *p, size_t n, const struct report_parse_params *in,
    struct report_parse *rp, struct am_err *err)
{
	struct report_parse_params params;
	struct mime               *m;
	int                        st;

	params_fill(in, &params);
	rp->reason[0] = '\0';
	rp->part[0] = '\0';
	rp->form = "";
	if (n > params.max_mail)
		return set_reason(rp, REPORT_PARSE_BAD,
		    "mail larger than %zu bytes", params.max_mail);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return am_err_set(err, "report: out of memory");
	m->params = &params;
	m->rp = rp;
	m->err = err;
	m->status = -1;
	if (entity(m, p, p + n, 0) < 0) {
		free(m);
		return -1;
	}
	st = m->status;
	free(m);
	if (st < 0)
		return set_reason(rp, REPORT_PARSE_NONE,
		    "no report attachment (gzip, zip or xml)");
	return st;
}
