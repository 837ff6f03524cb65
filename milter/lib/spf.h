/*
 * spf: RFC 7208 check_host() for one MAIL FROM or HELO identity.
 *
 * Records are TXT only (RFC 7208 3.1, 4.4); exactly one "v=spf1" record is
 * used (4.5). The whole record is checked for syntax before any term is
 * evaluated (4.6). All mechanisms (5), redirect= and exp= (6), unknown
 * modifiers (ignored, but their macro-string must parse) and the whole
 * macro language (7) are implemented; %{c}, %{r} and %{t} only in
 * explanation text (7.1), %{p} validated as in 5.5.
 *
 * Limits (RFC 7208 4.6.4), each overridable in spf_params (0: default):
 * SPF_MAX_DNS_TERMS terms that query DNS (include, a, mx, ptr, exists,
 * redirect, and the PTR lookup of a %{p} in a domain-spec), SPF_MAX_VOID
 * void lookups (NXDOMAIN or an empty answer), SPF_MAX_MX names per mx
 * (more is permerror), SPF_MAX_PTR names per PTR answer (the rest ignored).
 * include/redirect chains are evaluated with an explicit stack of at most
 * SPF_MAX_DEPTH records, never by recursion. Memory per query is bounded:
 * one record text per stack level (at most DNS_MAX_ANSWER bytes each) and
 * small fixed buffers.
 *
 * Time: the check is a state machine that never waits. spf_check_begin()
 * starts it, spf_check_step() advances it with the answers that have
 * arrived and says whether it has ended; in between, the caller sleeps on
 * params.waiter (dns_waiter_wait) and steps again. include/redirect frames
 * and counters stay in the query. One check may last params.timeout
 * seconds (RFC 7208 4.6.4 asks for an elapsed-time limit of at least 20
 * seconds): a step past it ends the check as temperror. spf_check_host()
 * is the blocking form, for tools and tests.
 *
 * Ownership: strings returned are owned by the query and live until the
 * next check or spf_query_free(). A query belongs to one thread at a time;
 * queries on the same struct dns may run in different threads.
 */
#ifndef AM_SPF_H
#define AM_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;
struct dns;        /* dns.h */
struct dns_waiter; /* dns.h */
struct ipaddr;     /* ipaddr.h */
struct spf_query;  /* opaque */

#define SPF_MAX_DNS_TERMS 10 /* RFC 7208 4.6.4 */
#define SPF_MAX_VOID      2  /* RFC 7208 4.6.4 */
#define SPF_MAX_MX        10 /* RFC 7208 4.6.4: more MX names is permerror */
#define SPF_MAX_PTR       10 /* RFC 7208 4.6.4: later PTR names ignored */
/* Hard cap on include/redirect nesting whatever max_dns_terms says; each
 * level costs one DNS term, so the RFC limits reach depth 11 at most. */
#define SPF_MAX_DEPTH 24
/* RFC 7208 7.3: an expanded domain name is cut to 253 octets from the left. */
#define SPF_MAX_DOMAIN 253
/* An explanation longer than this is cut to it (it goes into an SMTP
 * reply, whose lines RFC 5321 4.5.3.1.5 limits to 512 octets). */
#define SPF_MAX_EXPLANATION 512
/* RFC 7208 4.6.4: "at least 20 seconds" for one evaluation. */
#define SPF_DEFAULT_TIMEOUT 20.0
#define SPF_MAX_TIMEOUT     3600.0

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

/*
 * An evaluation trace, for authmilter-check domain: the engine reports
 * each record it loads and each term it has finished evaluating, with its
 * own counters, so a tool sees the include/redirect tree and what each
 * term cost without a second parser or counter. Events of a term come once,
 * when the term is done (a term replayed while its lookup is pending is not
 * reported until then). All pointers live only during the call.
 */
enum spf_trace_kind {
	SPF_TRACE_RECORD, /* a record was looked up for domain */
	SPF_TRACE_TERM    /* a term (or the redirect= of a record) was done */
};

struct spf_trace {
	enum spf_trace_kind kind;
	unsigned int        depth;  /* 0: the domain checked; +1 per include */
	const char         *domain; /* the domain whose record it is */
	/* RECORD: the record text (NULL when none was loaded); TERM: the
	 * term as written. */
	const char *text;
	size_t      len;
	/* RECORD: SPF_PASS when loaded, else none/permerror/temperror, with
	 * the engine's reason ("multiple SPF records at ..."). TERM: the
	 * outcome so far (SPF_PASS: the term went on or matched; SPF_PERMERROR
	 * / SPF_TEMPERROR: it ended the check). */
	enum spf_result result;
	const char     *reason;
	/* TERM only. mech: "all", "include", "a", "mx", "ptr", "ip4", "ip6",
	 * "exists", "redirect", "exp" or "" (an unknown modifier). */
	const char  *mech;
	char         qual;       /* '+', '-', '~', '?' */
	const char  *target;     /* the name looked up; "" when none */
	unsigned int dns_terms;  /* the check's count after this term */
	unsigned int voids;      /* the check's void lookups after it */
	bool         void_lookup; /* this term's lookup was void */
	unsigned int mx_noaddr;   /* mx: exchanges with no address record */
	bool         matched;     /* the term matched the client */
};

typedef void spf_trace_fn(void *arg, const struct spf_trace *);

struct spf_params {
	unsigned int max_dns_terms; /* 0: SPF_MAX_DNS_TERMS */
	unsigned int max_void;      /* 0: SPF_MAX_VOID */
	unsigned int max_mx;        /* 0: SPF_MAX_MX */
	unsigned int max_ptr;       /* 0: SPF_MAX_PTR */
	const char  *receiver;      /* %{r}; NULL: "unknown" */
	time_t       now;           /* %{t}; 0: time(NULL) at each check */
	double       timeout; /* seconds per check; 0: SPF_DEFAULT_TIMEOUT */
	/* The waiter every lookup is attached to (the caller's, shared with
	 * its other checks); NULL: one of the query's own. */
	struct dns_waiter *waiter;
	spf_trace_fn      *trace; /* NULL: no trace */
	void              *trace_arg;
};

/* Returns NULL only when out of memory. params may be NULL (defaults); the
 * receiver string is copied. */
struct spf_query *spf_query_new(struct dns *, const struct spf_params *);
void              spf_query_free(struct spf_query *); /* NULL ok */

/*
 * RFC 7208 4 check_host(). ip: the client; domain: the domain to check
 * (the MAIL FROM domain, or the HELO name); sender: "local@domain" (the
 * caller passes "postmaster@HELO" for an empty MAIL FROM; an empty local
 * part becomes "postmaster", 4.3); helo: for %{h} (NULL: "unknown").
 * Never fails: DNS trouble is SPF_TEMPERROR, bad records SPF_PERMERROR, and
 * running out of memory SPF_TEMPERROR with reason "out of memory".
 */
enum spf_result spf_check_host(struct spf_query *, const struct ipaddr *ip,
    const char *domain, const char *sender, const char *helo);

/* The same check without waiting: begin starts it (its first lookup);
 * step advances it and returns true once it has ended, with the result in
 * *r_r (NULL ok), or false while a lookup is pending. A step after
 * spf_check_deadline() ends it as SPF_TEMPERROR ("SPF time limit").
 * Arguments are copied. */
void spf_check_begin(struct spf_query *, const struct ipaddr *ip,
    const char *domain, const char *sender, const char *helo);
bool spf_check_step(struct spf_query *, enum spf_result *r_r);
/* Ends a check that is still pending: SPF_TEMPERROR with reason "<why> at
 * <domain>" (an explanation still pending is left out of a fail); its
 * lookups are freed at once. An ended check keeps its result. */
enum spf_result spf_check_stop(struct spf_query *, const char *why);
/* When the check in progress reaches params.timeout (CLOCK_MONOTONIC). */
const struct timespec *spf_check_deadline(const struct spf_query *);

/* After SPF_FAIL: the exp= text of the record that gave it, macro-expanded
 * (printable ASCII only) and cut to SPF_MAX_EXPLANATION octets; NULL when
 * there is none or it could not be used (RFC 7208 6.2: then proceed as if
 * no exp= was given). */
const char *spf_explanation(const struct spf_query *);
/* A short why for the result, for comments and logs: "matched ip4:...",
 * "void lookup limit", "include loop", "timeout at _spf.example.com". Never
 * NULL; printable ASCII. */
const char *spf_reason(const struct spf_query *);
/* Counters of the last check, for tests. */
unsigned int spf_dns_terms(const struct spf_query *);
unsigned int spf_void_lookups(const struct spf_query *);

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"
 * (RFC 7208 2.6, RFC 8601 2.7.2). */
const char *spf_result_str(enum spf_result);

/*
 * Pure parts, exposed for tests and fuzzing.
 */

/* Checks the syntax of a whole record (the joined TXT strings, "v=spf1"
 * included; RFC 7208 4.5, 4.6, 12). Returns true when it is a valid
 * record; otherwise false with a short static reason in *why_r (NULL ok). */
bool spf_record_valid(const char *rec, size_t len, const char **why_r);

/* The values a macro can name (RFC 7208 7.2). Any pointer may be NULL: an
 * absent value expands to "unknown" (h, r, p) or "" (others). */
struct spf_macro_vars {
	const char          *sender;        /* s */
	const char          *local;         /* l */
	const char          *sender_domain; /* o */
	const char          *domain;        /* d */
	const struct ipaddr *ip;            /* i, c, v */
	const char          *helo;          /* h */
	const char          *receiver;      /* r */
	time_t               now;           /* t */
	/* p: called at most once per expansion that needs it; returns the
	 * validated name, or NULL for "unknown". */
	const char *(*ptr_name)(void *arg);
	void *ptr_arg;
};

enum spf_macro_kind {
	SPF_MACRO_DOMAIN, /* domain-spec: c, r, t refused (7.1) */
	SPF_MACRO_EXPLAIN /* explain-string: spaces and c, r, t allowed */
};

/*
 * Expands a macro-string (RFC 7.1-7.3) into out (appended). vars NULL:
 * checks the syntax only. A domain-spec (out empty at the start) never
 * passes out's ceiling: labels that the RFC 7208 7.3 cut could no longer
 * keep are dropped from the left as it grows, so spf_domain_truncate() of
 * what is left gives the name of the whole expansion (a last label longer
 * than a name is kept to SPF_MAX_DOMAIN + 1 octets: still too long).
 * An explain-string is cut at out's ceiling (never inside a %XX escape;
 * the rest is still checked for syntax). Returns 0; 1 for a syntax error
 * (permerror where the RFC says so); -1 when out of memory, or when out's
 * ceiling is too small (SPF_MAX_DOMAIN + 1 octets or less) for a
 * domain-spec.
 */
int spf_macro_expand(const char *p, size_t n, enum spf_macro_kind,
    const struct spf_macro_vars *vars, struct buf *out);

/* RFC 7208 7.3: cuts labels off the left of a dotted name in place until
 * it is at most max octets (a trailing dot not counted). Returns the new
 * length. */
size_t spf_domain_truncate(char *name, size_t len, size_t max);

#endif /* AM_SPF_H */
