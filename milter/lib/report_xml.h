/*
 * report_xml: one RFC 9990 aggregate report, from rows to the mail.
 *
 *	x = report_xml_begin(&meta, &pol, &err);
 *	for each row: report_xml_add(x, &row, count, &err);
 *	report_xml_end(x, &xml, &err);            (x is freed)
 *	report_gzip(xml, &gz, &err);
 *	report_file_name(...), report_subject(...), report_mail(...)
 *
 * The XML is written with libxml2's xmlTextWriter (no hand-made escaping)
 * in the namespace urn:ietf:params:xml:ns:dmarc-2.0 and the element order
 * of the RFC's schema (Appendix A): DKIM results before the SPF result,
 * the selector always, np/testing/discovery_method in policy_published,
 * generator in report_metadata, no pct. Every report it writes validates
 * against the schema (t/unit/report-xml.sh checks with xmllint).
 *
 * Text that is not what the schema's types allow never reaches the
 * document. Row strings (names, selectors, the source IP) are meant to be
 * printable ASCII (report.h); any other byte is written as '?'. The
 * free-text metadata (org_name, email, extra_contact_info, error,
 * generator) may be UTF-8: each byte that is not part of a well-formed
 * UTF-8 sequence, and each control character (C0 including TAB/LF/CR,
 * DEL, C1) or U+FFFE/U+FFFF, is written as '?'. Values the schema types
 * cannot hold at all (an enum out of range, a DKIM "softfail", unknown
 * reason bits, a count of 0) are rejected instead: see report_xml_add().
 *
 * Limits: a document grows to at most REPORT_XML_MAX bytes (or what
 * report_xml_set_max() says); the end step also fails if out's ceiling
 * is too low. Report ids are [A-Za-z0-9]{1,REPORT_ID_MAX}.
 *
 * Threads: one writer belongs to one thread. libxml2 must be initialised
 * (xmlInitParser()) before threads use it; report_xml_begin() calls it,
 * so the first call should happen before other threads start, or the
 * program calls xmlInitParser() itself at start-up.
 */
#ifndef AM_REPORT_XML_H
#define AM_REPORT_XML_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "report.h"

/* The document's default ceiling: 64 MiB, about 95,000 records with one
 * DKIM result each (some 700 bytes a record); far beyond any report a
 * mailbox accepts. */
#define REPORT_XML_MAX (64 * 1024 * 1024)
/* Report ids here: RFC 9990 puts no bound on unique-id; this one keeps a
 * file name of two 253-character names under 998 characters in a header
 * line, and holds the store's ids (STORE_ID_MAX). */
#define REPORT_ID_MAX 64

struct report_meta {
	const char *org_name;           /* required */
	const char *email;              /* required: the reporting address */
	const char *extra_contact_info; /* NULL: left out */
	const char *report_id;          /* required, [A-Za-z0-9]+ */
	const char *generator;          /* NULL: "authmilter VERSION" */
	const char *error;              /* NULL: left out */
	int64_t     begin, end;         /* UTC epoch seconds, end inclusive */
};

struct report_xml;

/* Starts a report: the XML declaration, feedback, version,
 * report_metadata and policy_published (p UNSPEC is written as "none",
 * its default; sp and np only when published; fo only when not empty;
 * discovery_method "treewalk"). NULL with err set when a required
 * metadata field is missing or empty, the report id is not
 * [A-Za-z0-9]{1,REPORT_ID_MAX}, begin < 0 or end < begin, the policy
 * domain is empty, or memory runs out. */
struct report_xml *report_xml_begin(const struct report_meta *,
    const struct report_policy_pub *, struct am_err *err);
/* Sets the document's ceiling in bytes (0: REPORT_XML_MAX). */
void report_xml_set_max(struct report_xml *, size_t max);
/* Adds one record for row, counted count times (row->pol is not used:
 * the report's policy is the one given to begin). Returns -1 with err set
 * and nothing written, the writer still usable, when the row holds a
 * value the schema cannot express: count 0, a disposition, DKIM or SPF
 * result out of range, a DKIM softfail, reason bits outside
 * REPORT_REASON_ALL, ndkim > REPORT_MAX_DKIM. Returns -1 with the writer
 * unusable (every later add and end fail) on OOM, a libxml2 failure or
 * when the document would pass its ceiling. */
int report_xml_add(struct report_xml *, const struct report_row *,
    uint64_t count, struct am_err *err);
/* True when the document has at least need bytes left below its ceiling
 * (and the writer is usable): a caller that stops adding records before
 * it is full still gets a document. REPORT_XML_RECORD_MAX bytes always
 * hold one more record (the largest, 8 DKIM results and every name made
 * of '&', is under 30 KB). */
#define REPORT_XML_RECORD_MAX (64 * 1024)
bool report_xml_room(const struct report_xml *, size_t need);
/* Finishes the document into out (appended) and frees x, also on error.
 * A report needs at least one record: with none it fails. On failure out
 * is left as it was. */
int  report_xml_end(struct report_xml *, struct buf *out, struct am_err *err);
void report_xml_free(struct report_xml *); /* without output; NULL ok */

/* gzip (RFC 1952) of in, with a zero mtime, no name and OS "Unix", so
 * that the same report gives the same bytes (with the same zlib);
 * appended to out. On failure (OOM, out's ceiling) out is as it was. */
int report_gzip(const struct buf *in, struct buf *out, struct am_err *err);

/* RFC 9990 3.2: "receiver!policy-domain!begin!end!report-id.xml.gz",
 * appended to out. -1 (out as it was) when a name is not a DNS name
 * (labels of 1-63 letters, digits, '-' or '_', 253 characters at most, no
 * trailing dot), begin < 0, end < begin, the id is not
 * [A-Za-z0-9]{1,REPORT_ID_MAX}, or out is full. */
int report_file_name(const char *receiver, const char *policy_domain,
    int64_t begin, int64_t end, const char *report_id, struct buf *out);
/* RFC 9990 3.2's Subject (the field's value, no "Subject:"), appended:
 * "Report Domain: example.com Submitter: mail.receiver.example Report-ID:
 * abc123". The Report-ID is written bare (ridtxt allows it with or
 * without angle brackets), so that it is byte for byte the XML report_id
 * and the file name's unique-id (RFC 9990 3.1.4 wants them identical).
 * -1 (out as it was) on the same name and id checks as
 * report_file_name(), or when out is full. */
int report_subject(const char *policy_domain, const char *receiver,
    const char *report_id, struct buf *out);

struct report_mail_in {
	const char       *from;              /* the reporting address (From:) */
	const char       *to;                /* the To: field's value */
	const char       *subject;           /* report_subject() */
	const char       *file_name;         /* report_file_name() */
	const char       *message_id_domain; /* Message-ID's right side */
	const char       *text; /* the human-readable part; NULL: none */
	int64_t           date; /* Date: (UTC epoch) */
	const struct buf *gz;   /* report_gzip() */
};

/* The whole message, header and body, LF line ends (what sendmail(1)
 * reads): From, To, Subject, Date, Message-ID, MIME-Version,
 * Auto-Submitted: auto-generated, a multipart/mixed body with the
 * text/plain part and the application/gzip part (base64, attachment with
 * the file name). Appended to out.
 *
 * Date is RFC 5322 3.3 in UTC ("Thu, 03 Dec 2026 07:17:26 +0000").
 * Message-ID is "<ID.DATE.HASH@message_id_domain>": the report id (taken
 * from the file name), the Date as epoch seconds, and 16 hex digits of a
 * hash of the file name, which names receiver, domain and period, so that
 * reports that share an id for different domains still differ. Header
 * lines longer than 78 characters are folded at spaces; a line that would
 * still pass 998 fails. The MIME boundary starts with "=_", which base64
 * cannot hold, and is checked against the text.
 *
 * -1 with err set (out as it was) when a header value is empty or holds a
 * byte outside printable ASCII (CR and LF included: nothing is escaped or
 * encoded), message_id_domain is not a DNS name, file_name is not of the
 * form report_file_name() gives, text (NULL: no text part) holds a byte
 * other than printable ASCII, TAB or LF or a line over 998 characters,
 * gz is empty, date is outside 1970..9999, or out is full. */
int report_mail(
    const struct report_mail_in *, struct buf *out, struct am_err *err);

#endif /* AM_REPORT_XML_H */
