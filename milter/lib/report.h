/*
 * report: one DMARC evaluation as RFC 9990 section 3.1 reports it, the
 * value that flows from msgauth to the recorder, into the store and out
 * again to the XML writer. A plain value: fixed-size strings, no pointers,
 * so that it can be copied, queued and compared as bytes.
 *
 * Every string is NUL-terminated and printable ASCII (msgauth copies only
 * names it has validated or lower-cased; anything else is replaced by "").
 *
 *	  msgauth_eom()          -> msgauth_report()  (a const struct report_row *)
 *	  recorder_push()        -> writer thread -> store_add()
 *	  store_rows()           -> report_xml_write()
 */
#ifndef AM_REPORT_H
#define AM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_NAME_MAX 253 /* a DNS name in text form, no trailing dot */
#define REPORT_SEL_MAX  253 /* s= is a dot-separated name too */
#define REPORT_IP_MAX   45  /* INET6_ADDRSTRLEN - 1 */
#define REPORT_RUA_MAX  511 /* the rua tag's value, as published */
#define REPORT_FO_MAX   31
#define REPORT_MAX_DKIM 8   /* DKIM results kept per row; the rest dropped */

/* RFC 9990 DispositionType; UNSPEC: the tag was absent. */
enum report_policy {
	REPORT_POLICY_UNSPEC = 0,
	REPORT_POLICY_NONE,
	REPORT_POLICY_QUARANTINE,
	REPORT_POLICY_REJECT
};

/* ActionDispositionType: what was done with the message. */
enum report_disposition {
	REPORT_DIS_NONE = 0,
	REPORT_DIS_PASS, /* DMARC pass */
	REPORT_DIS_QUARANTINE,
	REPORT_DIS_REJECT
};

/* PolicyOverrideType, as bits: a row may carry several reasons. */
enum report_reason {
	REPORT_REASON_POLICY_TEST_MODE  = 1 << 0,
	REPORT_REASON_LOCAL_POLICY      = 1 << 1,
	REPORT_REASON_TRUSTED_FORWARDER = 1 << 2,
	REPORT_REASON_MAILING_LIST      = 1 << 3,
	REPORT_REASON_OTHER             = 1 << 4
};
#define REPORT_REASON_ALL 0x1f

/* DKIMResultType / SPFResultType (RFC 8601 2.7.1, 2.7.2). */
enum report_auth {
	REPORT_AUTH_NONE = 0,
	REPORT_AUTH_PASS,
	REPORT_AUTH_FAIL,
	REPORT_AUTH_SOFTFAIL, /* SPF only */
	REPORT_AUTH_POLICY,
	REPORT_AUTH_NEUTRAL,
	REPORT_AUTH_TEMPERROR,
	REPORT_AUTH_PERMERROR
};

enum report_psd { REPORT_PSD_U = 0, REPORT_PSD_Y, REPORT_PSD_N };

struct report_dkim {
	char             domain[REPORT_NAME_MAX + 1];  /* d= */
	char             selector[REPORT_SEL_MAX + 1]; /* s= */
	enum report_auth result;
};

/* The policy record as published (PolicyPublishedType, plus what sending
 * needs: rua and psd). */
struct report_policy_pub {
	char               domain[REPORT_NAME_MAX + 1]; /* where found */
	enum report_policy p, sp, np;
	bool               adkim_strict, aspf_strict;
	bool               testing; /* t=y */
	enum report_psd    psd;
	char               fo[REPORT_FO_MAX + 1];   /* "" when absent */
	char               rua[REPORT_RUA_MAX + 1]; /* "" when absent */
};

struct report_row {
	int64_t                  when; /* evaluation time, UTC epoch seconds */
	struct report_policy_pub pol;
	/* RowType */
	char                    source_ip[REPORT_IP_MAX + 1];
	enum report_disposition disposition;
	bool                    dkim_aligned; /* policy_evaluated dkim=pass */
	bool                    spf_aligned;  /* policy_evaluated spf=pass */
	unsigned                reasons;      /* enum report_reason bits */
	/* IdentifierType; envelope_* "" when unknown */
	char header_from[REPORT_NAME_MAX + 1];
	char envelope_from[REPORT_NAME_MAX + 1];
	char envelope_to[REPORT_NAME_MAX + 1];
	/* AuthResultType */
	size_t             ndkim;
	struct report_dkim dkim[REPORT_MAX_DKIM];
	bool               has_spf;
	char               spf_domain[REPORT_NAME_MAX + 1]; /* scope mfrom */
	enum report_auth   spf_result;
};

/* The UTC day (00:00:00) that holds t. */
int64_t report_day(int64_t t);

/* Names as RFC 9990's schema spells them; "" for UNSPEC. */
const char *report_policy_str(enum report_policy);
const char *report_disposition_str(enum report_disposition);
const char *report_auth_str(enum report_auth);
/* The name of one reason bit (exactly one set); NULL otherwise. */
const char *report_reason_str(unsigned bit);
/* The reverse: -1 when s is not a name of that type. */
int report_policy_parse(const char *s);
int report_disposition_parse(const char *s);
int report_auth_parse(const char *s);
int report_reason_parse(const char *s);

#endif /* AM_REPORT_H */
