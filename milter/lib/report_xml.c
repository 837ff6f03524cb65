/*
 * report_xml: one RFC 9990 aggregate report, from rows to the mail. See
 * report_xml.h for the interface and its rules on hostile text.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <zlib.h>

#include "report_xml.h"
#include "str.h"

/* RFC 9990 section 6 (IANA): the namespace of the feedback element. */
#define RX_NS "urn:ietf:params:xml:ns:dmarc-2.0"

/* RFC 5322 2.1.1: lines SHOULD stay within 78 characters and MUST stay
 * within 998, without the line end. */
#define RX_LINE_SOFT 78
#define RX_LINE_HARD 998
/* RFC 2045 6.8: base64 lines of at most 76 characters. */
#define RX_B64_LINE 76

struct report_xml {
	xmlBufferPtr     xb;
	xmlTextWriterPtr w;
	size_t           nrecords;
	size_t           max;    /* ceiling on the document's bytes */
	bool             broken; /* a write failed: the document is unusable */
};

/* Leaves b as it was before an append that failed half way. */
static void
rx_rollback(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

/*
 * Text for an element. The bytes are copied into dst (n + 1 bytes) with
 * each byte that may not appear replaced by '?': the result is always
 * well-formed UTF-8 holding only XML 1.0 Chars (XML 1.0 section 2.2) and
 * no control characters, so libxml2 never sees text it would write as an
 * invalid document. With utf8 false only printable ASCII is kept (row
 * values are names); with utf8 true well-formed UTF-8 sequences (RFC 3629
 * 4: no overlong forms, no surrogates, nothing past U+10FFFF) are kept
 * too, except C1 controls and U+FFFE/U+FFFF.
 */
static void
rx_clean(char *dst, const char *src, size_t n, bool utf8)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t               i = 0, o = 0, len, k;
	unsigned long        cp;
	unsigned char        c;

	while (i < n) {
		c = s[i];
		if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
			i++;
			continue;
		}
		len = 0;
		if (utf8) {
			if (c >= 0xc2 && c <= 0xdf)
				len = 2;
			else if (c >= 0xe0 && c <= 0xef)
				len = 3;
			else if (c >= 0xf0 && c <= 0xf4)
				len = 4;
		}
		if (len == 0 || n - i < len) {
			dst[o++] = '?';
			i++;
			continue;
		}
		cp = c & (0x7f >> len);
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				break;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (k < len || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0 ||
		    cp == 0xfffe || cp == 0xffff) {
			/* One '?' for the lead byte; the rest is looked at
			 * again, so a valid sequence after it survives. */
			dst[o++] = '?';
			i++;
			continue;
		}
		memcpy(dst + o, s + i, len);
		o += len;
		i += len;
	}
	dst[o] = '\0';
}

static bool
rx_id_ok(const char *id)
{
	size_t i;

	if (id == NULL || id[0] == '\0')
		return false;
	for (i = 0; id[i] != '\0'; i++)
		if (i >= REPORT_ID_MAX || !str_isalnum((unsigned char)id[i]))
			return false;
	return true;
}

/* A DNS name in text form as far as a file name and a Subject need:
 * labels of 1-63 of [A-Za-z0-9_-], at most REPORT_NAME_MAX characters,
 * no trailing dot. '_' is allowed because DNS names may hold it (RFC
 * 2181 11); '!', '/', spaces and the rest never are. */
static bool
rx_domain_ok(const char *d)
{
	size_t i, label = 0;

	if (d == NULL || d[0] == '\0')
		return false;
	for (i = 0; d[i] != '\0'; i++) {
		if (i >= REPORT_NAME_MAX)
			return false;
		if (d[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!str_isalnum((unsigned char)d[i]) && d[i] != '-' &&
		    d[i] != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* The writer calls below return < 0 on failure (libxml2's convention). */
static int
rx_elem(xmlTextWriterPtr w, const char *name, const char *text)
{
	return xmlTextWriterWriteElement(
	    w, (const xmlChar *)name, (const xmlChar *)text);
}

/* An element from a fixed-size row field, which may lack its NUL. */
static int
rx_elem_field(
    xmlTextWriterPtr w, const char *name, const char *field, size_t size)
{
	char tmp[REPORT_NAME_MAX + 1];

	if (size > sizeof(tmp))
		size = sizeof(tmp);
	rx_clean(tmp, field, strnlen(field, size - 1), false);
	return rx_elem(w, name, tmp);
}

/* An element of free text (metadata), which may be long. */
static int
rx_elem_text(xmlTextWriterPtr w, const char *name, const char *text)
{
	size_t n = strlen(text);
	char  *tmp;
	int    r;

	if ((tmp = malloc(n + 1)) == NULL)
		return -1;
	rx_clean(tmp, text, n, true);
	r = rx_elem(w, name, tmp);
	free(tmp);
	return r;
}

static int
rx_elem_u64(xmlTextWriterPtr w, const char *name, uint64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	return rx_elem(w, name, tmp);
}

static int
rx_elem_i64(xmlTextWriterPtr w, const char *name, int64_t v)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	return rx_elem(w, name, tmp);
}

static int
rx_start(xmlTextWriterPtr w, const char *name)
{
	return xmlTextWriterStartElement(w, (const xmlChar *)name);
}

static int
rx_endel(xmlTextWriterPtr w)
{
	return xmlTextWriterEndElement(w);
}

/* RFC 9990 3.1.1.3: report_metadata, in the order of its table. */
static int
rx_metadata(xmlTextWriterPtr w, const struct report_meta *m)
{
	const char *gen =
	    m->generator ? m->generator : "authmilter " PACKAGE_VERSION;

	if (rx_start(w, "report_metadata") < 0 ||
	    rx_elem_text(w, "org_name", m->org_name) < 0 ||
	    rx_elem_text(w, "email", m->email) < 0)
		return -1;
	if (m->extra_contact_info != NULL &&
	    rx_elem_text(w, "extra_contact_info", m->extra_contact_info) < 0)
		return -1;
	if (rx_elem(w, "report_id", m->report_id) < 0 ||
	    rx_start(w, "date_range") < 0 ||
	    rx_elem_i64(w, "begin", m->begin) < 0 ||
	    rx_elem_i64(w, "end", m->end) < 0 || rx_endel(w) < 0)
		return -1;
	if (m->error != NULL && rx_elem_text(w, "error", m->error) < 0)
		return -1;
	if (rx_elem_text(w, "generator", gen) < 0 || rx_endel(w) < 0)
		return -1;
	return 0;
}

/* A policy value that the schema's DispositionType can hold; "" when
 * unspecified or out of range. */
static const char *
rx_policy(enum report_policy p)
{
	return p == REPORT_POLICY_UNSPEC ? "" : report_policy_str(p);
}

/* RFC 9990 3.1.1.5: policy_published. No pct (RFC 9989 removed it), and
 * discovery_method "treewalk" because dmarc.c implements RFC 9989 4.10. */
static int
rx_policy_pub(xmlTextWriterPtr w, const struct report_policy_pub *pol)
{
	const char *p = rx_policy(pol->p), *sp = rx_policy(pol->sp),
		   *np = rx_policy(pol->np);
	char fo[REPORT_FO_MAX + 1];

	if (rx_start(w, "policy_published") < 0 ||
	    rx_elem_field(w, "domain", pol->domain, sizeof(pol->domain)) < 0 ||
	    rx_elem(w, "p", p[0] != '\0' ? p : "none") < 0)
		return -1;
	if (sp[0] != '\0' && rx_elem(w, "sp", sp) < 0)
		return -1;
	if (np[0] != '\0' && rx_elem(w, "np", np) < 0)
		return -1;
	if (rx_elem(w, "adkim", pol->adkim_strict ? "s" : "r") < 0 ||
	    rx_elem(w, "aspf", pol->aspf_strict ? "s" : "r") < 0 ||
	    rx_elem(w, "discovery_method", "treewalk") < 0)
		return -1;
	rx_clean(fo, pol->fo, strnlen(pol->fo, sizeof(pol->fo) - 1), false);
	if (fo[0] != '\0' && rx_elem(w, "fo", fo) < 0)
		return -1;
	if (rx_elem(w, "testing", pol->testing ? "y" : "n") < 0 ||
	    rx_endel(w) < 0)
		return -1;
	return 0;
}

struct report_xml *
report_xml_begin(const struct report_meta *m,
    const struct report_policy_pub *pol, struct am_err *err)
{
	struct report_xml *x;

	if (m == NULL || pol == NULL) {
		am_err_set(err, "report: no metadata or policy");
		return NULL;
	}
	if (m->org_name == NULL || m->org_name[0] == '\0' || m->email == NULL ||
	    m->email[0] == '\0') {
		am_err_set(err, "report: org_name and email are required");
		return NULL;
	}
	if (!rx_id_ok(m->report_id)) {
		am_err_set(err, "report: report id is not [A-Za-z0-9]{1,%d}",
		    REPORT_ID_MAX);
		return NULL;
	}
	if (m->begin < 0 || m->end < m->begin) {
		am_err_set(err, "report: bad date range %" PRId64 "..%" PRId64,
		    m->begin, m->end);
		return NULL;
	}
	if (pol->domain[0] == '\0') {
		am_err_set(err, "report: no policy domain");
		return NULL;
	}
	if ((unsigned)pol->p > REPORT_POLICY_REJECT ||
	    (unsigned)pol->sp > REPORT_POLICY_REJECT ||
	    (unsigned)pol->np > REPORT_POLICY_REJECT) {
		am_err_set(err, "report: policy value out of range");
		return NULL;
	}
	xmlInitParser();
	if ((x = calloc(1, sizeof(*x))) == NULL)
		goto oom;
	x->max = REPORT_XML_MAX;
	if ((x->xb = xmlBufferCreate()) == NULL)
		goto oom;
	if ((x->w = xmlNewTextWriterMemory(x->xb, 0)) == NULL)
		goto oom;
	if (xmlTextWriterSetIndent(x->w, 1) < 0 ||
	    xmlTextWriterSetIndentString(x->w, (const xmlChar *)"  ") < 0 ||
	    xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL) < 0 ||
	    xmlTextWriterStartElementNS(x->w, NULL, (const xmlChar *)"feedback",
		(const xmlChar *)RX_NS) < 0 ||
	    rx_elem(x->w, "version", "1.0") < 0 || rx_metadata(x->w, m) < 0 ||
	    rx_policy_pub(x->w, pol) < 0) {
		report_xml_free(x);
		am_err_set(err, "report: cannot write the XML head");
		return NULL;
	}
	return x;
oom:
	report_xml_free(x);
	am_err_set(err, "report: out of memory");
	return NULL;
}

void
report_xml_set_max(struct report_xml *x, size_t max)
{
	x->max = max ? max : REPORT_XML_MAX;
}

/* The checks of report_xml_add() that leave the writer usable. */
static int
rx_row_ok(const struct report_row *r, uint64_t count, struct am_err *err)
{
	size_t i;

	if (count == 0)
		return am_err_set(err, "report: a record with count 0");
	if ((unsigned)r->disposition > REPORT_DIS_REJECT)
		return am_err_set(err, "report: disposition %u out of range",
		    (unsigned)r->disposition);
	if ((r->reasons & ~(unsigned)REPORT_REASON_ALL) != 0)
		return am_err_set(
		    err, "report: unknown reason bits 0x%x", r->reasons);
	if (r->ndkim > REPORT_MAX_DKIM)
		return am_err_set(err, "report: %zu DKIM results (at most %d)",
		    r->ndkim, REPORT_MAX_DKIM);
	for (i = 0; i < r->ndkim; i++)
		/* DKIMResultType has no softfail (RFC 8601 2.7.1). */
		if ((unsigned)r->dkim[i].result > REPORT_AUTH_PERMERROR ||
		    r->dkim[i].result == REPORT_AUTH_SOFTFAIL)
			return am_err_set(err, "report: DKIM result %u invalid",
			    (unsigned)r->dkim[i].result);
	if (r->has_spf && (unsigned)r->spf_result > REPORT_AUTH_PERMERROR)
		return am_err_set(err, "report: SPF result %u invalid",
		    (unsigned)r->spf_result);
	return 0;
}

/* RFC 9990 3.1.1.7-3.1.1.14: one record. */
static int
rx_record(xmlTextWriterPtr w, const struct report_row *r, uint64_t count)
{
	unsigned bit;
	size_t   i;

	if (rx_start(w, "record") < 0 || rx_start(w, "row") < 0 ||
	    rx_elem_field(w, "source_ip", r->source_ip, sizeof(r->source_ip)) <
		0 ||
	    rx_elem_u64(w, "count", count) < 0 ||
	    rx_start(w, "policy_evaluated") < 0 ||
	    rx_elem(w, "disposition", report_disposition_str(r->disposition)) <
		0 ||
	    rx_elem(w, "dkim", r->dkim_aligned ? "pass" : "fail") < 0 ||
	    rx_elem(w, "spf", r->spf_aligned ? "pass" : "fail") < 0)
		return -1;
	/* One reason per bit, in the order of enum report_reason. */
	for (bit = 1; bit <= REPORT_REASON_ALL; bit <<= 1) {
		if ((r->reasons & bit) == 0)
			continue;
		if (rx_start(w, "reason") < 0 ||
		    rx_elem(w, "type", report_reason_str(bit)) < 0 ||
		    rx_endel(w) < 0)
			return -1;
	}
	if (rx_endel(w) < 0 || rx_endel(w) < 0) /* policy_evaluated, row */
		return -1;
	if (rx_start(w, "identifiers") < 0 ||
	    rx_elem_field(
		w, "header_from", r->header_from, sizeof(r->header_from)) < 0)
		return -1;
	if (r->envelope_from[0] != '\0' &&
	    rx_elem_field(w, "envelope_from", r->envelope_from,
		sizeof(r->envelope_from)) < 0)
		return -1;
	if (r->envelope_to[0] != '\0' &&
	    rx_elem_field(
		w, "envelope_to", r->envelope_to, sizeof(r->envelope_to)) < 0)
		return -1;
	if (rx_endel(w) < 0 || rx_start(w, "auth_results") < 0)
		return -1;
	for (i = 0; i < r->ndkim; i++) {
		const struct report_dkim *d = &r->dkim[i];

		if (rx_start(w, "dkim") < 0 ||
		    rx_elem_field(w, "domain", d->domain, sizeof(d->domain)) <
			0 ||
		    rx_elem_field(
			w, "selector", d->selector, sizeof(d->selector)) < 0 ||
		    rx_elem(w, "result", report_auth_str(d->result)) < 0 ||
		    rx_endel(w) < 0)
			return -1;
	}
	if (r->has_spf &&
	    (rx_start(w, "spf") < 0 ||
		rx_elem_field(
		    w, "domain", r->spf_domain, sizeof(r->spf_domain)) < 0 ||
		rx_elem(w, "scope", "mfrom") < 0 ||
		rx_elem(w, "result", report_auth_str(r->spf_result)) < 0 ||
		rx_endel(w) < 0))
		return -1;
	if (rx_endel(w) < 0 || rx_endel(w) < 0) /* auth_results, record */
		return -1;
	return 0;
}

int
report_xml_add(struct report_xml *x, const struct report_row *r, uint64_t count,
    struct am_err *err)
{
	if (x == NULL || r == NULL)
		return am_err_set(err, "report: no writer or row");
	if (x->broken)
		return am_err_set(err, "report: the writer failed earlier");
	if (rx_row_ok(r, count, err) < 0)
		return -1;
	if (rx_record(x->w, r, count) < 0 || xmlTextWriterFlush(x->w) < 0) {
		x->broken = true;
		return am_err_set(err, "report: cannot write a record");
	}
	if ((size_t)xmlBufferLength(x->xb) > x->max) {
		x->broken = true;
		return am_err_set(err, "report: larger than %zu bytes", x->max);
	}
	x->nrecords++;
	return 0;
}

bool
report_xml_room(const struct report_xml *x, size_t need)
{
	size_t len = (size_t)xmlBufferLength(x->xb);

	return !x->broken && len <= x->max && x->max - len >= need;
}

int
report_xml_end(struct report_xml *x, struct buf *out, struct am_err *err)
{
	size_t len;
	int    r = -1;

	if (x == NULL)
		return am_err_set(err, "report: no writer");
	if (x->broken) {
		am_err_set(err, "report: the writer failed earlier");
		goto done;
	}
	if (x->nrecords == 0) {
		/* RFC 9990 3.1.1: at least one record. */
		am_err_set(err, "report: no records");
		goto done;
	}
	/* EndDocument closes feedback and flushes into the buffer. */
	if (xmlTextWriterEndDocument(x->w) < 0) {
		am_err_set(err, "report: cannot finish the XML");
		goto done;
	}
	len = (size_t)xmlBufferLength(x->xb);
	if (len > x->max) {
		am_err_set(err, "report: larger than %zu bytes", x->max);
		goto done;
	}
	if (buf_append(out, xmlBufferContent(x->xb), len) < 0) {
		am_err_set(err, "report: %zu bytes do not fit the output", len);
		goto done;
	}
	r = 0;
done:
	report_xml_free(x);
	return r;
}

void
report_xml_free(struct report_xml *x)
{
	if (x == NULL)
		return;
	if (x->w != NULL)
		xmlFreeTextWriter(x->w);
	if (x->xb != NULL)
		xmlBufferFree(x->xb);
	free(x);
}

int
report_gzip(const struct buf *in, struct buf *out, struct am_err *err)
{
	unsigned char chunk[16384];
	z_stream      z;
	gz_header     h;
	size_t        off = 0, n, orig = out->len;
	int           zr, flush;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper instead of zlib's (zlib.h). */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
		Z_DEFAULT_STRATEGY) != Z_OK)
		return am_err_set(err, "gzip: cannot start deflate");
	/* RFC 1952 2.3: MTIME 0 ("no time stamp"), no FNAME, OS 3 (Unix)
	 * whatever zlib was built for: the same XML, the same bytes. */
	memset(&h, 0, sizeof(h));
	h.os = 3;
	if (deflateSetHeader(&z, &h) != Z_OK) {
		deflateEnd(&z);
		return am_err_set(err, "gzip: cannot set the header");
	}
	do {
		if (z.avail_in == 0 && off < in->len) {
			/* avail_in is a uInt: feed at most 1 MiB at a time. */
			n = in->len - off;
			if (n > 1024 * 1024)
				n = 1024 * 1024;
			z.next_in = (Bytef *)in->data + off;
			z.avail_in = (uInt)n;
			off += n;
		}
		flush = off == in->len ? Z_FINISH : Z_NO_FLUSH;
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, flush);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			deflateEnd(&z);
			rx_rollback(out, orig);
			return am_err_set(err, "gzip: deflate failed (%d)", zr);
		}
		if (buf_append(out, chunk, sizeof(chunk) - z.avail_out) < 0) {
			deflateEnd(&z);
			rx_rollback(out, orig);
			return am_err_set(err, "gzip: output too large");
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

int
report_file_name(const char *receiver, const char *policy_domain, int64_t begin,
    int64_t end, const char *report_id, struct buf *out)
{
	size_t orig = out->len;

	if (!rx_domain_ok(receiver) || !rx_domain_ok(policy_domain) ||
	    begin < 0 || end < begin || !rx_id_ok(report_id))
		return -1;
	if (buf_printf(out, "%s!%s!%" PRId64 "!%" PRId64 "!%s.xml.gz", receiver,
		policy_domain, begin, end, report_id) < 0) {
		rx_rollback(out, orig);
		return -1;
	}
	return 0;
}

int
report_subject(const char *policy_domain, const char *receiver,
    const char *report_id, struct buf *out)
{
	size_t orig = out->len;

	if (!rx_domain_ok(receiver) || !rx_domain_ok(policy_domain) ||
	    !rx_id_ok(report_id))
		return -1;
	/* RFC 9990 3.2: %s"Report" 1*FWS %s"Domain:" 1*FWS domain-name 1*FWS
	 * %s"Submitter:" 1*FWS domain-name 1*FWS [%s"Report-ID:" 1*FWS
	 * ridtxt]. The optional Report-ID is always there: the ABNF wants
	 * FWS after the Submitter anyway. */
	if (buf_printf(out, "Report Domain: %s Submitter: %s Report-ID: %s",
		policy_domain, receiver, report_id) < 0) {
		rx_rollback(out, orig);
		return -1;
	}
	return 0;
}

/* Header values are written as given: no RFC 2047 encoding, so only
 * printable ASCII (SP included) is allowed; CR, LF, TAB and 8-bit bytes
 * are refused, which keeps input from adding header fields. */
static bool
rx_header_ok(const char *s)
{
	if (s == NULL || s[0] == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/*
 * "Name: value" and LF, folded (RFC 5322 2.2.3) before a space when the
 * line would pass RX_LINE_SOFT, never before a run of spaces' second
 * space (a line of only white space is obsolete syntax). Unfolding gives
 * the value back unchanged. -1 when a line passes RX_LINE_HARD or out is
 * full.
 */
static int
rx_header(struct buf *out, const char *name, const char *value)
{
	const char *p = value, *sp;
	size_t      line, tok;
	bool        first = true;

	if (buf_append_str(out, name) < 0 || buf_append_char(out, ':') < 0)
		return -1;
	line = strlen(name) + 1;
	for (;;) {
		sp = strchr(p, ' ');
		tok = sp ? (size_t)(sp - p) : strlen(p);
		if (!first && tok > 0 && line + 1 + tok > RX_LINE_SOFT) {
			if (buf_append_char(out, '\n') < 0)
				return -1;
			line = 0;
		}
		if (line + 1 + tok > RX_LINE_HARD)
			return -1;
		if (buf_append_char(out, ' ') < 0 ||
		    buf_append(out, p, tok) < 0)
			return -1;
		line += 1 + tok;
		first = false;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	return buf_append_char(out, '\n');
}

/* FNV-1a, 64 bits: a short stable digest for the Message-ID and the
 * boundary, not a security measure. */
static uint64_t
rx_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t               i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define RX_FNV_INIT 0xcbf29ce484222325ULL

/* The report id of a name report_file_name() made: what lies between the
 * last '!' and ".xml.gz". Copies it into id (REPORT_ID_MAX + 1). */
static bool
rx_file_name_id(const char *f, char *id)
{
	static const char suffix[] = ".xml.gz";
	const char       *bang;
	size_t            n = strlen(f), i, bangs = 0, idlen;

	if (n <= sizeof(suffix) - 1 ||
	    strcmp(f + n - (sizeof(suffix) - 1), suffix) != 0)
		return false;
	for (i = 0; i < n; i++) {
		if (f[i] == '!')
			bangs++;
		else if (!str_isalnum((unsigned char)f[i]) && f[i] != '.' &&
			 f[i] != '-' && f[i] != '_')
			return false;
	}
	if (bangs != 4 || (bang = strrchr(f, '!')) == NULL)
		return false;
	idlen = (size_t)(f + n - (sizeof(suffix) - 1) - (bang + 1));
	if (idlen == 0 || idlen > REPORT_ID_MAX)
		return false;
	memcpy(id, bang + 1, idlen);
	id[idlen] = '\0';
	return rx_id_ok(id);
}

/* text/plain; charset=us-ascii, 7bit (RFC 2045 2.7): printable ASCII,
 * TAB and LF, lines of at most 998 characters. */
static bool
rx_text_ok(const char *t)
{
	size_t line = 0;

	for (; *t != '\0'; t++) {
		if (*t == '\n') {
			line = 0;
			continue;
		}
		if (((unsigned char)*t < 0x20 && *t != '\t') ||
		    (unsigned char)*t >= 0x7f || ++line > RX_LINE_HARD)
			return false;
	}
	return true;
}

/* RFC 4648 4, in lines of RX_B64_LINE characters. */
static int
rx_base64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char              q[4];
	size_t            i, col = 0;
	unsigned long     v;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64[v >> 18 & 63];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		if (buf_append(out, q, 4) < 0)
			return -1;
		col += 4;
		if (col == RX_B64_LINE && i + 3 < n) {
			if (buf_append_char(out, '\n') < 0)
				return -1;
			col = 0;
		}
	}
	return buf_append_char(out, '\n');
}

/* RFC 5322 3.3 date-time in UTC, names from the RFC, not the locale. */
static int
rx_date(char *dst, size_t size, int64_t t)
{
	static const char *const days[] = {
	    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm                tm;
	time_t                   tt;

	/* 253402300799 is 9999-12-31 23:59:59 UTC: four-digit years. */
	if (t < 0 || t > 253402300799LL)
		return -1;
	tt = (time_t)t;
	if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL)
		return -1;
	snprintf(dst, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

int
report_mail(
    const struct report_mail_in *in, struct buf *out, struct am_err *err)
{
	char     id[REPORT_ID_MAX + 1], date[40], boundary[48];
	char     mid[REPORT_ID_MAX + REPORT_NAME_MAX + 48];
	uint64_t h;
	size_t   orig = out->len;
	unsigned tries;

	if (in == NULL || !rx_header_ok(in->from) || !rx_header_ok(in->to) ||
	    !rx_header_ok(in->subject))
		return am_err_set(err, "report mail: From, To and Subject must "
				       "be printable ASCII, not empty");
	if (!rx_domain_ok(in->message_id_domain))
		return am_err_set(err, "report mail: bad Message-ID domain");
	if (in->file_name == NULL || !rx_file_name_id(in->file_name, id))
		return am_err_set(err, "report mail: bad file name");
	if (in->text != NULL && !rx_text_ok(in->text))
		return am_err_set(err, "report mail: the text must be "
				       "us-ascii with lines of 998 or less");
	if (in->gz == NULL || in->gz->len == 0)
		return am_err_set(err, "report mail: no attachment");
	if (rx_date(date, sizeof(date), in->date) < 0)
		return am_err_set(err, "report mail: date out of range");

	h = rx_fnv(RX_FNV_INIT, in->file_name, strlen(in->file_name));
	snprintf(mid, sizeof(mid), "<%s.%" PRId64 ".%016" PRIx64 "@%s>", id,
	    in->date, h, in->message_id_domain);
	/* "=_" cannot occur in base64 (RFC 2045 6.8 notes the same of
	 * "=_" in quoted-printable); the text is checked, and on the rare
	 * hit the next candidate is tried. */
	h = rx_fnv(RX_FNV_INIT, mid, strlen(mid));
	for (tries = 0;; tries++) {
		snprintf(boundary, sizeof(boundary), "=_am_%016" PRIx64 "_%u",
		    h, tries);
		if (in->text == NULL || strstr(in->text, boundary) == NULL)
			break;
		if (tries == 16)
			return am_err_set(
			    err, "report mail: the text holds the boundary");
	}

	if (rx_header(out, "From", in->from) < 0 ||
	    rx_header(out, "To", in->to) < 0 ||
	    rx_header(out, "Subject", in->subject) < 0 ||
	    rx_header(out, "Date", date) < 0 ||
	    rx_header(out, "Message-ID", mid) < 0 ||
	    rx_header(out, "MIME-Version", "1.0") < 0 ||
	    /* RFC 3834 5: a report is not a reply to anything. */
	    rx_header(out, "Auto-Submitted", "auto-generated") < 0 ||
	    buf_printf(out,
		"Content-Type: multipart/mixed;\n boundary=\"%s\"\n",
		boundary) < 0 ||
	    buf_append_str(out, "\n") < 0)
		goto fail;
	if (in->text != NULL) {
		size_t tl = strlen(in->text);

		if (buf_printf(out, "--%s\n", boundary) < 0 ||
		    buf_append_str(out,
			"Content-Type: text/plain; "
			"charset=us-ascii\n"
			"Content-Transfer-Encoding: 7bit\n\n") < 0 ||
		    buf_append(out, in->text, tl) < 0 ||
		    (tl > 0 && in->text[tl - 1] != '\n' &&
			buf_append_char(out, '\n') < 0))
			goto fail;
	}
	if (buf_printf(out, "--%s\n", boundary) < 0)
		goto fail;
	{
		char ct[RX_LINE_HARD + 2], cd[RX_LINE_HARD + 2];
		int  n1, n2;

		n1 = snprintf(ct, sizeof(ct), "application/gzip; name=\"%s\"",
		    in->file_name);
		n2 = snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"",
		    in->file_name);
		if (n1 < 0 || (size_t)n1 >= sizeof(ct) || n2 < 0 ||
		    (size_t)n2 >= sizeof(cd) ||
		    rx_header(out, "Content-Type", ct) < 0 ||
		    rx_header(out, "Content-Transfer-Encoding", "base64") < 0 ||
		    rx_header(out, "Content-Disposition", cd) < 0 ||
		    buf_append_char(out, '\n') < 0)
			goto fail;
	}
	if (rx_base64(out, (const unsigned char *)in->gz->data, in->gz->len) <
		0 ||
	    buf_printf(out, "--%s--\n", boundary) < 0)
		goto fail;
	return 0;
fail:
	rx_rollback(out, orig);
	return am_err_set(err, "report mail: too large, or a header line "
			       "over 998 characters");
}
