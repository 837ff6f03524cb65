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
 * against the schema (t/unit tests check with xmllint).
 */
#ifndef AM_REPORT_XML_H
#define AM_REPORT_XML_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "report.h"

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

struct report_xml *report_xml_begin(const struct report_meta *,
    const struct report_policy_pub *, struct am_err *err);
int report_xml_add(struct report_xml *, const struct report_row *,
    uint64_t count, struct am_err *err);
/* Finishes the document into out (appended) and frees x, also on error.
 * A report needs at least one record: with none it fails. */
int report_xml_end(struct report_xml *, struct buf *out, struct am_err *err);
void report_xml_free(struct report_xml *); /* without output; NULL ok */

/* gzip (RFC 1952) of in, with a zero mtime and no name, so that the same
 * report gives the same bytes; appended to out. */
int report_gzip(const struct buf *in, struct buf *out, struct am_err *err);

/* RFC 9990 3.2: "receiver!policy-domain!begin!end!report-id.xml.gz". */
int report_file_name(const char *receiver, const char *policy_domain,
    int64_t begin, int64_t end, const char *report_id, struct buf *out);
/* RFC 9990 3.2's Subject (the field's value, no "Subject:"). */
int report_subject(const char *policy_domain, const char *receiver,
    const char *report_id, struct buf *out);

struct report_mail_in {
	const char       *from;      /* the reporting address (From:) */
	const char       *to;        /* the To: field's value */
	const char       *subject;   /* report_subject() */
	const char       *file_name; /* report_file_name() */
	const char       *message_id_domain; /* Message-ID's right side */
	const char       *text;      /* the human-readable part */
	int64_t           date;      /* Date: (UTC epoch) */
	const struct buf *gz;        /* report_gzip() */
};

/* The whole message, header and body, LF line ends (what sendmail(1)
 * reads): From, To, Subject, Date, Message-ID, MIME-Version,
 * Auto-Submitted: auto-generated, a multipart/mixed body with the
 * text/plain part and the application/gzip part (base64, attachment with
 * the file name). Appended to out. */
int report_mail(const struct report_mail_in *, struct buf *out,
    struct am_err *err);

#endif /* AM_REPORT_XML_H */
