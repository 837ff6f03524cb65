/*
 * report_parse: one received DMARC aggregate report, from the mail that
 * carries it to its records (authmilter-report ingest).
 *
 *	report_parse_init(&rp);
 *	st = report_parse_mail(mail, len, &params, &rp, &err);
 *	if (st == REPORT_PARSE_OK)
 *		report_parse_rows(&rp, &params, fn, arg, &err);  (again and
 *again) report_parse_free(&rp);
 *
 * The mail: our own bounded MIME walk (REPORT_PARSE_MIME_DEPTH nested
 * multiparts, REPORT_PARSE_MIME_PARTS parts, header lines of at most
 * REPORT_PARSE_LINE_MAX bytes) finds the first part that is a report:
 * application/gzip or x-gzip, application/zip, x-zip-compressed or x-zip,
 * text/xml or application/xml, or application/octet-stream named *.xml,
 * *.gz or *.zip (or not named at all); the whole body counts when the
 * mail is not multipart. base64 and quoted-printable are decoded, 7bit,
 * 8bit and binary taken as they are. What the part holds is decided by
 * its first bytes: gzip (zlib, the size counted while inflating), zip
 * (libzip; the first entry named *.xml, else the first file) or XML.
 *
 * The XML: libxml2's xmlReader without network, DTD loading or entity
 * substitution (a document with a DTD or an entity reference is refused)
 * and never XML_PARSE_HUGE; at most REPORT_PARSE_DEPTH_MAX levels deep.
 * Both RFC 9990 (namespace urn:ietf:params:xml:ns:dmarc-2.0) and RFC 7489
 * (no namespace; pct; several SPF results, of which the mfrom one is kept,
 * else the first) are read: elements in the root's namespace are ours,
 * others are skipped. Names are lower-cased and trimmed; strings are cut
 * to their arrays and any byte outside printable ASCII becomes '?', but a
 * report_id that is not 1 to STORE_RX_ID_MAX bytes of printable ASCII is
 * refused. Enumerated values (dispositions, results) are matched without
 * case; an unknown one refuses the report, except a reason type, which
 * becomes "other". Unknown elements are skipped. Up to REPORT_MAX_DKIM
 * DKIM results per record are kept.
 *
 * Input is bytes with a length everywhere: a NUL is data (and makes XML
 * malformed). Nothing is logged; the outcome and its reason are values.
 */
#ifndef AM_REPORT_PARSE_H
#define AM_REPORT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "report.h"
#include "store.h"

/* A report mail is a few kB to a few MB; 10 MiB leaves room. */
#define REPORT_PARSE_MAIL_MAX (10 * 1024 * 1024)
/* The decompressed document: about 300,000 records; what a bomb gets. */
#define REPORT_PARSE_XML_MAX  (64 * 1024 * 1024)
#define REPORT_PARSE_ROWS_MAX 1000000
/* The schema nests 6 levels (feedback/record/auth_results/dkim/...);
 * extensions get 10 more. libxml2's own limit is 256. */
#define REPORT_PARSE_DEPTH_MAX  16
#define REPORT_PARSE_MIME_DEPTH 8
#define REPORT_PARSE_MIME_PARTS 64
#define REPORT_PARSE_LINE_MAX   65536 /* one header line */

struct report_parse_params {
	size_t   max_mail;  /* 0: REPORT_PARSE_MAIL_MAX */
	size_t   max_xml;   /* 0: REPORT_PARSE_XML_MAX */
	uint64_t max_rows;  /* 0: REPORT_PARSE_ROWS_MAX */
	unsigned max_depth; /* 0: REPORT_PARSE_DEPTH_MAX */
};

enum report_parse_status {
	REPORT_PARSE_OK,   /* a report: rep, records, messages set */
	REPORT_PARSE_NONE, /* no report in the mail (reason says why) */
	REPORT_PARSE_BAD   /* a report part that is not a valid report */
};

struct report_parse {
	struct store_rx_report rep;       /* received = 0 */
	uint64_t               records;   /* record elements */
	uint64_t               messages;  /* the sum of their counts */
	int                    version;   /* 2: RFC 9990 namespace; 1: other */
	const char            *form;      /* "gzip", "zip", "xml" or "" */
	char                   part[128]; /* the part's file name, printable */
	char                   reason[256]; /* NONE, BAD: why, one line */
	struct buf             xml;         /* the document */
};

void report_parse_init(struct report_parse *);
void report_parse_free(struct report_parse *); /* then init again to reuse */

/* Finds and checks the report in the mail [p, p + n) (a mail longer than
 * max_mail is BAD). Returns the status, or -1 with err set when memory
 * runs out. */
int report_parse_mail(const char *p, size_t n,
    const struct report_parse_params *, struct report_parse *,
    struct am_err *err);
/* The same for a document alone (XML, gzip or zip): never NONE. */
int report_parse_doc(const char *p, size_t n,
    const struct report_parse_params *, struct report_parse *,
    struct am_err *err);

/* After REPORT_PARSE_OK: calls fn for each record in document order, the
 * row's `when` the report's begin and its pol the report's. fn returning
 * non-zero stops; that value is returned. -1 with err set on OOM. */
int report_parse_rows(const struct report_parse *,
    const struct report_parse_params *,
    int (*fn)(void *arg, const struct report_row *, uint64_t count), void *arg,
    struct am_err *err);

#endif /* AM_REPORT_PARSE_H */
