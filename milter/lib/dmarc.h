/*
 * dmarc: DMARC evaluation for one RFC5322.From domain per RFC 9989: policy
 * record parsing (4.7, 4.8), the DNS Tree Walk (4.10) for policy discovery
 * (4.10.1) and Organizational Domain discovery (4.10.2) without a Public
 * Suffix List, SPF and DKIM identifier alignment, and the policy that
 * applies (p, sp or np; t=y testing; optionally RFC 7489 6.6.4 pct
 * sampling).
 *
 * One struct dmarc per message. All its DNS lookups go through one cache:
 * the same name and type is never queried twice by one struct dmarc.
 * dmarc_prefetch() starts every lookup a domain's evaluation may need as
 * soon as the domain is known; dmarc_evaluate() collects them (and starts
 * what was not prefetched, one name at a time, stopping as the RFC says).
 *
 * Domains are given normalized: A-labels, no trailing dot (one is
 * ignored), compared case-insensitively. A name that is not a valid
 * host name (RFC 1035 2.3.4: at most DMARC_MAX_NAME octets, labels of 1 to
 * 63 letters, digits, '-' or '_') is never looked up.
 *
 * Limits: a walk makes at most DMARC_MAX_WALK queries (RFC 9989 4.10).
 * At most DMARC_MAX_DOMAINS distinct domains are walked per message (From,
 * MAIL FROM and DKIM d= domains). dmarc_prefetch() and the walks of the
 * other identifiers take a new domain only while fewer than
 * DMARC_MAX_PREFETCH are known, so a flood of DKIM-Signature fields cannot
 * crowd out a From domain: DMARC_MAX_FROM_DOMAINS distinct From domains
 * can always be evaluated, and one more is a permerror (never a temperror:
 * an attacker who lists many From domains must not turn a p=reject into a
 * DNS problem). An identifier that would need a walk past the limit
 * cannot be shown aligned and counts as a temporary error only when
 * nothing else decides. A message costs at most DMARC_MAX_DOMAINS *
 * DMARC_MAX_WALK TXT queries plus the A, AAAA and MX queries of each From
 * domain whose policy depends on np.
 *
 * Library rules: no logging, no allocation visible to the caller; strings
 * in a verdict are copies or static. A struct dmarc belongs to one thread.
 */
#ifndef AM_DMARC_H
#define AM_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 9989 4.10: "Author Domains with more than eight labels do not result
 * in more than eight DNS queries". */
#define DMARC_MAX_WALK 8
/* RFC 1035 2.3.4 (the same as DNS_MAX_NAME in dns.h). */
#define DMARC_MAX_NAME 253
/* From, MAIL FROM and a dozen d= domains: real mail carries one to three
 * signatures; the domains an identifier needs walked at evaluation time
 * are only those under the From domain's Organizational Domain. */
#define DMARC_MAX_DOMAINS      16
#define DMARC_MAX_FROM_DOMAINS 8
#define DMARC_MAX_PREFETCH     (DMARC_MAX_DOMAINS - DMARC_MAX_FROM_DOMAINS)

enum dmarc_result {
	DMARC_NONE,      /* no policy record: DMARC does not apply */
	DMARC_PASS,      /* an aligned identifier passed */
	DMARC_FAIL,      /* a policy exists and no aligned identifier passed */
	DMARC_TEMPERROR, /* a DNS error left the result undecided */
	DMARC_PERMERROR  /* the From domain is not a usable DNS name, or
			  * more than DMARC_MAX_FROM_DOMAINS were given */
};

enum dmarc_policy {
	DMARC_POLICY_UNSPEC = 0, /* tag absent */
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT
};

/* Whether a DMARC_PCT_SAMPLE evaluation drew for the message. */
enum dmarc_sample {
	DMARC_SAMPLE_NONE = 0, /* no draw: a pass, t=y, no pct, ... */
	DMARC_SAMPLE_IN,       /* sampled: the policy applies */
	DMARC_SAMPLE_OUT       /* not sampled: one level below */
};

#define DMARC_FO_MAX  31
#define DMARC_RUA_MAX 511

enum dmarc_psd {
	DMARC_PSD_U = 0, /* default: "may or may not be an Org Domain" */
	DMARC_PSD_Y,     /* a Public Suffix Domain */
	DMARC_PSD_N      /* an Organizational Domain */
};

/* One parsed policy record (RFC 9989 4.7). Tags with a bad value keep
 * their default (4.8), except p, sp and np: any malformed one there (an
 * unknown word, an empty value or none at all, a byte outside
 * dmarc-value such as non-ASCII or a control character) sets bad_policy
 * (4.10.1 then decides with rua_valid), so it never reads as absent. */
struct dmarc_record {
	enum dmarc_policy p;          /* UNSPEC when absent (treated as none) */
	enum dmarc_policy sp;         /* UNSPEC when absent */
	enum dmarc_policy np;         /* UNSPEC when absent */
	bool              bad_policy; /* p, sp or np present but invalid */
	bool              rua_valid;  /* rua has >= 1 syntactically valid URI */
	bool              adkim_strict; /* adkim=s */
	bool              aspf_strict;  /* aspf=s */
	bool              t_y;          /* t=y */
	bool              testing;      /* t=y, or a legacy pct=0 without t */
	int               pct; /* pct= 0 to 100 (RFC 7489); -1: absent, bad */
	enum dmarc_psd    psd;
	/* For aggregate reports (RFC 9990): fo as published, and rua's
	 * valid URIs joined by ',' (no WSP), cut after the last whole URI
	 * that fits; "" when there is none. */
	char fo[DMARC_FO_MAX + 1];
	char rua[DMARC_RUA_MAX + 1];
};

/* What the SPF and DKIM checks found. Only a real pass can align: SPF
 * pass, or DKIM pass with a key not in testing mode (RFC 6376 3.6.1 t=y).
 * TEMPERROR matters only when the identifier would be aligned. */
enum dmarc_auth_result {
	DMARC_AUTH_OTHER = 0, /* fail, none, neutral, permerror, policy, ... */
	DMARC_AUTH_PASS,
	DMARC_AUTH_TEMPERROR
};

struct dmarc_auth_dkim {
	const char            *domain; /* d= */
	enum dmarc_auth_result result;
	bool                   testing; /* the key record had t=y */
};

struct dmarc_auth {
	/* The SPF result for the MAIL FROM identity and its domain. For a
	 * null reverse-path this is the HELO domain (RFC 9989 3.2.4, RFC 7208
	 * 2.4), never the separate HELO check. NULL: no SPF identity. */
	enum dmarc_auth_result        spf;
	const char                   *spf_domain;
	size_t                        ndkim;
	const struct dmarc_auth_dkim *dkim; /* ndkim entries */
};

struct dmarc_verdict {
	enum dmarc_result result;
	/* The Domain Owner Assessment Policy that applies to the From domain
	 * (p, sp or np with their fallbacks); np is only considered for a
	 * fail or a temperror, as the existence test costs queries. UNSPEC
	 * for none and permerror, and for a temperror when the policy that
	 * would apply is unknown (a DNS error in discovery or in the
	 * existence test). With a temperror and a known policy the caller
	 * can tell p=none (or testing) from a policy it would enforce. */
	enum dmarc_policy policy;
	/* What to do: policy for a fail, none otherwise; with testing one
	 * level below policy (RFC 9989 4.7 "t"); with DMARC_PCT_SAMPLE, one
	 * level below unless the message was sampled. */
	enum dmarc_policy disposition;
	/* What a fail would be given: disposition for a fail; for a
	 * temperror with a known policy what it would have been (so that the
	 * caller can tell whether deferring changes anything); UNSPEC
	 * otherwise. */
	enum dmarc_policy fail_disposition;
	/* Testing applies: t=y, or with DMARC_PCT_IGNORE a legacy pct=0. */
	bool              testing;
	bool              t_y; /* the record has t=y */
	int               pct; /* the record's valid pct, -1: none */
	enum dmarc_sample sample;
	/* The record's p, sp, np as published (UNSPEC: absent), for the A-R
	 * comment; all NONE when an invalid policy was replaced per 4.10.1. */
	enum dmarc_policy p, sp, np;
	char              record_domain[DMARC_MAX_NAME + 1]; /* "" if none */
	char              org_domain[DMARC_MAX_NAME + 1];    /* "" if unknown */
	bool              spf_aligned;  /* aligned and passed */
	bool              dkim_aligned; /* an aligned DKIM pass */
	const char       *reason;       /* static text, never NULL */
	/* The policy record that applied (NULL: none), as published: valid
	 * until dmarc_free(). For aggregate reports. */
	const struct dmarc_record *rec;
};

/* What a record's pct tag does. */
enum dmarc_pct {
	DMARC_PCT_IGNORE = 0, /* RFC 9989: only pct=0 means anything (t=y) */
	DMARC_PCT_SAMPLE      /* RFC 7489 6.6.4: the policy for pct percent
			       * of failing messages, one level below for
			       * the rest; t=y still applies to all */
};

/* A uniformly distributed 32-bit number. Called from the thread that uses
 * the struct dmarc, once per evaluation that samples. */
typedef uint32_t dmarc_random_fn(void *arg);

struct dns_waiter; /* dns.h */

struct dmarc_params {
	enum dmarc_pct   pct;
	dmarc_random_fn *random; /* NULL: OpenSSL's RAND_bytes (thread-safe) */
	void            *random_arg;
	/* NULL: dmarc_evaluate() waits for the answers it needs (tools and
	 * tests). Set: every lookup is attached to it and nothing waits; see
	 * dmarc_pending(). */
	struct dns_waiter *waiter;
};

struct dns;   /* dns.h */
struct dmarc; /* opaque: one message */

/* Parses one TXT record (the strings already joined) of n bytes. Returns 0
 * with *out filled when it is a DMARC policy record (it starts with
 * "v=DMARC1", RFC 9989 4.7), -1 when it is not. Never reads past n. */
int dmarc_record_parse(const char *p, size_t n, struct dmarc_record *out);

/* The DNS Tree Walk targets for domain (RFC 9989 4.10), longest first: the
 * domain itself, then, while more than one label remains, the name cut to
 * 7 labels when it has 8 or more, else minus its left-most label. out[i]
 * points into domain. Returns the count (at most DMARC_MAX_WALK), 0 for an
 * invalid name. */
size_t dmarc_walk(const char *domain, const char *out[DMARC_MAX_WALK]);

/* True when name (a trailing dot allowed) is a host name we look up. */
bool dmarc_domain_valid(const char *name);

/* Returns NULL only when out of memory. params may be NULL. */
struct dmarc *dmarc_new(struct dns *, const struct dmarc_params *);
/* Frees the handle and abandons its queries. NULL ok. */
void dmarc_free(struct dmarc *);

/* Starts every TXT lookup the domain's evaluation may need (_dmarc.<name>
 * for each walk target). Idempotent per domain; an invalid name, or a new
 * one once DMARC_MAX_PREFETCH domains are known, is ignored. Never fails:
 * OOM only loses the head start. */
void dmarc_prefetch(struct dmarc *, const char *domain);

/* Evaluates DMARC for from_domain with the other checks' results and
 * fills *out. Without params.waiter it blocks on DNS answers not yet in.
 * Returns out->result: DMARC_PERMERROR for a From domain past
 * DMARC_MAX_FROM_DOMAINS. */
enum dmarc_result dmarc_evaluate(struct dmarc *, const char *from_domain,
    const struct dmarc_auth *, struct dmarc_verdict         *out);

/* The Organizational Domain of domain (RFC 9989 4.10.2, by the DNS Tree
 * Walk, through the same cache as the evaluations), into out. Waits for
 * the answers without params.waiter. Returns 0, or -1 for an invalid name,
 * past DMARC_MAX_DOMAINS domains, or after a temporary DNS failure (or,
 * with a waiter, an answer not yet in). For the report writer's check of
 * external destinations (RFC 9990 3.3). */
int dmarc_org_domain(
    struct dmarc *, const char *domain, char out[DMARC_MAX_NAME + 1]);

/* Where an aggregate report for policy domain may go (RFC 9990 3.3): a
 * destination host with the same Organizational Domain needs nothing
 * (SAME_ORG); another one (EXTERNAL) needs a TXT record starting with
 * v=DMARC1 at <policy>._report._dmarc.<host> (RFC 9990 4: AUTHORIZED).
 * A DNS failure on the Organizational Domain side makes the host external,
 * so the authorization decides; a name past DNS limits is not authorized.
 * Blocks on its lookups. Shared by authmilter-report send and
 * authmilter-check domain. */
enum dmarc_dest {
	DMARC_DEST_SAME_ORG,
	DMARC_DEST_AUTHORIZED,
	DMARC_DEST_EXTERNAL
};
enum dmarc_dest dmarc_report_dest(
    struct dmarc *, const char *policy, const char *host);

/* With params.waiter: true when the last dmarc_evaluate() needed an
 * answer not yet in. Its verdict is then to be discarded: wait on the
 * waiter and evaluate again (the answers already in are kept, so each
 * evaluation gets further). */
bool dmarc_pending(const struct dmarc *);
/* From now on an answer not yet in is a temporary failure (the message's
 * time is up): dmarc_evaluate() gives its final verdict. */
void dmarc_expire(struct dmarc *);

/* "none", "pass", "fail", "temperror", "permerror" (RFC 8601 names). */
const char *dmarc_result_str(enum dmarc_result);
/* "none", "quarantine", "reject"; "" for UNSPEC. */
const char *dmarc_policy_str(enum dmarc_policy);

#endif /* AM_DMARC_H */
