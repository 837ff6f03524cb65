/*
 * rx_summary: what a domain owner learns from the DMARC aggregate reports
 * (RFC 9990) that receivers send about the domain, over one period: how
 * much mail, from which sources, how much of it aligns, which sources
 * fail and why, per-day volume, and a verdict in the deployment guides'
 * terms (RFC 9989 section 7.x and appendix: p=none, then quarantine,
 * then reject): "ready for quarantine", "ready for reject", or what
 * blocks it.
 *
 * Pure: no store, no DNS. The caller feeds (report meta, row, count)
 * tuples with rx_summary_add(), then rx_summary_finish() asks two
 * callbacks about the sources that matter (the top ones by volume): does
 * our own SPF record authorize this IP, and what is its PTR name. Then
 * the result can be read (rx_summary_result) or written as text, JSON or
 * one self-contained HTML page.
 *
 * Verdict thresholds (documented in authmilter-report(8), SUMMARY AND
 * HTML):
 *	ready for quarantine: at least RX_MIN_DAYS UTC days covered by
 *	  reports, a DMARC pass rate of at least RX_QUARANTINE_BP (98.00%),
 *	  and no source that our SPF record authorizes failing DKIM
 *	  alignment (SPF alone breaks when mail is forwarded);
 *	ready for reject: all of that, a pass rate of at least RX_REJECT_BP
 *	  (99.50%), and at least RX_MIN_DAYS days covered by reports that
 *	  saw p=quarantine or p=reject published (without t=y).
 * Forwarders and unauthorized senders are named but do not block by
 * themselves; their failing mail counts in the pass rate.
 *
 * Classes of sources. A source is "authorized" when our SPF record
 * authorizes its IP now (the spf_auth callback, asked only about sources
 * without SPF-aligned mail, the worst first, at most max_checked), or
 * when receivers saw SPF pass for an aligned domain (spf_aligned > 0):
 *	aligned       every message DKIM-aligned (and not a forwarder);
 *	authorized    authorized, some messages not DKIM-aligned: fix their
 *	              signing (SPF alone fails once mail is forwarded);
 *	              blocks quarantine;
 *	forwarder     not authorized by our SPF record, some messages
 *	              DKIM-aligned (forwarders, lists, third parties that
 *	              sign for us with their own envelope domain);
 *	unauthorized  not authorized, never DKIM-aligned (spoofed, or a
 *	              sender still to set up);
 *	unchecked     not DKIM-aligned, our SPF record not asked (or no
 *	              answer), and the "other sources" bucket.
 *
 * Hostile input: every string from a report is kept as bytes and escaped
 * by each writer (text: '?' for bytes outside printable ASCII; JSON:
 * \uXXXX for anything outside printable ASCII, quotes and backslashes;
 * HTML: entities). Bounded memory: at most params.max_sources distinct
 * source IPs (the rest go to one "other" bucket), RX_MAX_ORGS reporting
 * organizations, RX_MAX_DAYS days per period. Counts are uint64 and
 * saturate instead of wrapping (a report can claim any count).
 *
 * Ownership: the summary owns everything it returns; strings live until
 * rx_summary_free(). One thread at a time.
 */
#ifndef AM_RX_SUMMARY_H
#define AM_RX_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "report.h"

#define RX_MAX_SOURCES     1000000 /* distinct source IPs, default cap */
#define RX_MAX_ORGS        10000   /* distinct reporting organizations */
#define RX_ORG_MAX         255     /* bytes of an org name kept */
#define RX_ORGS_PER_SOURCE 4       /* org names kept per source */
#define RX_MAX_DAYS        3660    /* days in one period (ten years) */
#define RX_MAX_CHECKED     100     /* sources given to the callbacks */
#define RX_MAX_LISTED      100     /* sources in the JSON/HTML tables */
#define RX_NAMES_IN_REASON 5       /* sources named in one reason */
#define RX_PTR_MAX         253

/* The thresholds, in basis points of messages (1/100 of a percent). */
#define RX_MIN_DAYS      14
#define RX_QUARANTINE_BP 9800
#define RX_REJECT_BP     9950

/* What the report says about the rows that follow: struct
 * store_rx_report's fields, by pointer (the store's struct converts in
 * one initializer). */
struct rx_meta {
	const char                     *org; /* report_metadata org_name */
	const char                     *report_id;  /* NULL ok */
	int64_t                         begin, end; /* date_range, UTC epoch */
	const struct report_policy_pub *pol;        /* policy_published */
};

/* Our own SPF record's answer for one source IP. */
enum rx_spf {
	/* Not asked (past max_checked), or no answer (temperror, permerror). */
	RX_SPF_UNCHECKED = 0,
	/* check_host() = pass. */
	RX_SPF_AUTHORIZED,
	/* fail, softfail, neutral, none. */
	RX_SPF_NOT_AUTHORIZED
};

/* How one source's mail fares; see "Classes" above. */
enum rx_class {
	RX_CLASS_ALIGNED = 0,
	RX_CLASS_AUTHORIZED,
	RX_CLASS_FORWARDER,
	RX_CLASS_UNAUTHORIZED,
	RX_CLASS_UNCHECKED
};

enum rx_state {
	RX_NO_DATA = 0,
	RX_NOT_READY,
	RX_READY_QUARANTINE,
	RX_READY_REJECT
};

struct rx_summary_params {
	const char *domain; /* the domain reported on (for the texts) */
	int64_t     since;  /* the period: [since, now], UTC epoch seconds */
	int64_t     now;
	size_t      max_sources; /* 0: RX_MAX_SOURCES */
	size_t      max_checked; /* 0: RX_MAX_CHECKED */
	size_t      max_listed;  /* 0: RX_MAX_LISTED */
	/* Our SPF record's answer for ip (a source IP as reported: any
	 * bytes); NULL: every source RX_SPF_UNCHECKED. */
	enum rx_spf (*spf_auth)(void *arg, const char *ip);
	/* The PTR name of ip into out (size bytes), true when there is one;
	 * NULL: no names. */
	bool (*ptr_name)(void *arg, const char *ip, char *out, size_t size);
	void *cb_arg;
};

struct rx_source {
	const char   *ip;                       /* as reported; "" unknown */
	const char   *ptr;                      /* "" when none or not asked */
	const char   *orgs[RX_ORGS_PER_SOURCE]; /* reporting orgs that saw it */
	size_t        norgs;                    /* in orgs[] */
	bool          more_orgs;                /* others saw it too */
	uint64_t      messages, pass, dkim_aligned, spf_aligned;
	enum rx_spf   spf;
	enum rx_class cls;
	bool          other; /* the bucket of sources past max_sources */
};

struct rx_day {
	int64_t  day; /* UTC 00:00:00 */
	uint64_t pass, fail;
	bool     covered; /* a report's date range touched it */
};

struct rx_result {
	int64_t  since, now; /* the period, as given */
	uint64_t total;      /* messages */
	uint64_t pass;       /* DMARC pass: dkim or spf aligned */
	uint64_t dkim_aligned, spf_aligned;
	uint64_t dispositions[4]; /* by enum report_disposition */
	uint64_t reports;         /* distinct (org, begin, end) seen */
	size_t   norgs;           /* distinct reporting organizations */
	size_t   nsources;        /* distinct source IPs (plus "other") */
	/* Sources by messages (descending, then IP), at most max_listed. */
	const struct rx_source *const *sources;
	size_t                         nlisted;
	/* Sources with messages not DKIM-aligned, by such messages
	 * (descending), at most max_listed. */
	const struct rx_source *const *failing;
	size_t                         nfailing;
	size_t                         nfailing_all; /* before the cut */
	const struct rx_day           *days; /* since's day .. now's day */
	size_t                         ndays;
	size_t                         covered_days;
	size_t             enforced_days; /* p>=quarantine, no t=y */
	enum rx_state      state;
	const char *const *reasons; /* printable ASCII */
	size_t             nreasons;
	size_t             nblocking; /* the first nblocking */
};

struct rx_summary;

/* NULL only when out of memory, or when the period is empty or longer
 * than RX_MAX_DAYS (since > now). params is copied; domain must outlive
 * the summary. */
struct rx_summary *rx_summary_new(const struct rx_summary_params *);
void               rx_summary_free(struct rx_summary *); /* NULL ok */

/* Counts row count times. m->org and the row's strings may hold any
 * bytes (they are escaped on output). A report's rows count on the day
 * its date range begins (clamped to the period). -1 only when out of
 * memory. After rx_summary_finish(): -1. Rows of one report come
 * together: a change of (org, report_id, begin, end) starts a new
 * report, which is counted, and whose date range marks the days covered. */
int rx_summary_add(struct rx_summary *, const struct rx_meta *m,
    const struct report_row *row, uint64_t count, struct am_err *err);

/* Sorts, calls the callbacks (at most max_checked SPF and 2 * max_listed
 * PTR questions), classifies and decides the verdict. -1 when out of
 * memory. Once. */
int rx_summary_finish(struct rx_summary *, struct am_err *err);

/* After rx_summary_finish(); owned by the summary. */
const struct rx_result *rx_summary_result(const struct rx_summary *);

struct buf;
/* The writers append to out (its ceiling bounds them); -1 when out is
 * full. After rx_summary_finish(). */
int rx_summary_text(const struct rx_summary *, struct buf *out);
/* One JSON object: "domain", "since", "now", "total", "reports",
 * "organizations", "rates", "counts", "dispositions", "sources",
 * "failing", "days", "verdict": {"state", "reasons", "blocking"}. */
int rx_summary_json(const struct rx_summary *, struct buf *out);
/* One HTML page, no external assets (a Content-Security-Policy of
 * default-src 'none' says so to the browser), inline CSS, an inline SVG
 * chart with one <g class="day" data-day data-pass data-fail> per day. */
int rx_summary_html(const struct rx_summary *, struct buf *out);

/* "no-data", "not-ready", "ready-for-quarantine", "ready-for-reject". */
const char *rx_state_str(enum rx_state);
/* "aligned", "authorized", "forwarder", "unauthorized", "unchecked". */
const char *rx_class_str(enum rx_class);

/* The writers' escaping, for tests: appends s[0..n) to out. */
int rx_json_str(struct buf *out, const char *s, size_t n);
int rx_html_str(struct buf *out, const char *s, size_t n);

#endif /* AM_RX_SUMMARY_H */
