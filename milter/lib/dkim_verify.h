/*
 * dkim_verify: RFC 6376 section 6 verification of every DKIM-Signature
 * field of one message, with rsa-sha256 and ed25519-sha256 (RFC 8463);
 * rsa-sha1 and RSA keys under params.min_rsa_bits never pass (RFC 8301:
 * result "policy").
 *
 * Flow, driven by the engine as the message arrives:
 *
 *	v = dkim_verify_new(dns, &params);
 *	dkim_verify_header(v, field)   each field; a DKIM-Signature is parsed
 *	                               now and its key query started now
 *	dkim_verify_eoh(v, hdrs)       body streams set up
 *	dkim_verify_body(v, p, n)      body bytes (CRLF), any chunking
 *	dkim_verify_eom(v, hdrs)       hashes finished, keys collected, verified
 *	dkim_verify_count(v) / dkim_verify_result(v, i)
 *	dkim_verify_free(v)
 *
 * The body is hashed as it streams, never kept; signatures with the same
 * body canonicalization, hash and l= share one stream.
 *
 * Outcomes (RFC 8601 2.7.1 words): a signature that breaks a MUST of RFC
 * 6376 6.1.1, or whose key record is absent, broken or revoked, is
 * permerror; a DNS failure on the key query is temperror, never fail; a
 * body hash or signature mismatch is fail; what local policy refuses
 * (rsa-sha1, small RSA keys, l= leaving bytes unsigned with ignore_l) is
 * policy. Each result has a short reason for the AR comment. A pass says
 * what it leaves unsigned (l_partial, extra_field) for the caller to
 * weigh.
 *
 * Limits: params.max_signatures signatures per message (default
 * DKIM_VERIFY_MAX_SIGS; more are ignored and counted), DKIM_VERIFY_MAX_H
 * names in h=, and a budget of public-key work per message (params.
 * max_cost, in dkim_key.h's units; by default max_signatures, at least
 * DKIM_VERIFY_MIN_COST_SIGS, times DKIM_VERIFY_COST_SIG), so that
 * max_signatures cannot multiply an
 * expensive key: a signature whose verification would pass the budget is
 * not verified but "policy" with reason "verification budget exceeded",
 * and counted (dkim_verify_over_budget). Policy, not temperror: the same
 * message would be over the budget again, so a retry cannot help (RFC
 * 8601 2.7.1: "some aspect of the signature ... was not acceptable to the
 * ADMD"; RFC 8301 3.2 obliges verifiers only up to RSA-4096).
 *
 * Choices where RFC 6376 leaves room: x= in the past and t=
 * in the future (beyond DKIM_VERIFY_CLOCK_SKEW seconds) are permerror;
 * l= larger than the canonical body is permerror; of several TXT records
 * at the key name (3.6.2.2 leaves this to the verifier) the first that
 * parses as a key record is used.
 *
 * Strings in results are owned by the verifier and live until
 * dkim_verify_free(). Not thread-safe; one per message.
 */
#ifndef AM_DKIM_VERIFY_H
#define AM_DKIM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dkim.h"
#include "hdr.h"

/* Each signature costs a DNS query and a public-key operation; 10 covers
 * mailing lists and forwarders that add their own. */
#define DKIM_VERIFY_MAX_SIGS     10
#define DKIM_VERIFY_MIN_RSA_BITS 1024 /* RFC 8301 3.2 */
/* Clocks differ; a signature a few minutes "in the future" is normal. */
#define DKIM_VERIFY_CLOCK_SKEW 300
/* h= entries. Signers list a dozen or two names, with oversigning
 * perhaps twice that; 256 bounds the header-selection work. */
#define DKIM_VERIFY_MAX_H 256
/* What each signature of max_signatures may spend: one RSA-4096 (e =
 * 65537) or Ed25519 verification, the most RFC 8301 3.2 asks for. Larger
 * keys and exponents take the room of several. */
#define DKIM_VERIFY_COST_SIG 16
/* The budget covers at least this many: one RSA-8192 signature (4 x 16),
 * the largest key taken, is verified even with max_signatures = 1. */
#define DKIM_VERIFY_MIN_COST_SIGS 4

struct dkim_verify_params {
	unsigned int max_signatures; /* 0: DKIM_VERIFY_MAX_SIGS */
	unsigned int max_cost;       /* 0: the default budget (above) */
	unsigned int min_rsa_bits;   /* 0: DKIM_VERIFY_MIN_RSA_BITS */
	bool         accept_sha1;    /* rsa-sha1 may pass (RFC 8301: no) */
	bool         ignore_l;       /* l= short of the body: policy */
	time_t       now;            /* 0: time() at dkim_verify_new */
	/* NULL: dkim_verify_eom() waits for the key answers (tools, tests).
	 * Set: key queries are attached to it and dkim_verify_eom() never
	 * waits: a key not in by then is temperror "key lookup: timeout". */
	struct dns_waiter *waiter;
};

struct dkim_result {
	enum dkim_status status;
	const char      *domain;    /* d=, lower case; NULL if unparsable */
	const char      *selector;  /* s=; NULL if unparsable */
	const char      *identity;  /* i=, or NULL */
	const char      *algorithm; /* a=, lower case; NULL if absent */
	const char      *b8;        /* the first 8 characters of b= */
	const char      *reason;    /* short comment; "" on pass */
	bool             testing;   /* key t=y: the domain is testing */
	bool             l_partial; /* l= left body bytes unsigned */
	/* For a pass: a field RFC 5322 3.6 allows once (From, Sender,
	 * Reply-To, To, Cc, Subject, Date, Message-ID, In-Reply-To,
	 * References) that the message has more often than h= names it. h=
	 * takes instances from the bottom up (RFC 6376 5.4.2), so those above
	 * the signed ones are unsigned: what a reader sees first. A field h=
	 * does not name at all is not this case (the signature says nothing
	 * of it). NULL: none; else the first in the order above. */
	const char *extra_field;
	size_t      extra_count;  /* its instances in the message */
	size_t      extra_signed; /* the h= entries naming it */
};

struct dns;
struct dns_answer;
struct dns_waiter;
struct dkim_verify;

/* NULL only on OOM. dns may be NULL (no lookups: temperror), for tests
 * that supply keys with dkim_verify_set_key_lookup(). */
struct dkim_verify *dkim_verify_new(
    struct dns *, const struct dkim_verify_params *);
void dkim_verify_free(struct dkim_verify *); /* NULL ok */

/* Tests and tools: answer key queries with fn(arg, name) instead of DNS
 * (name: "selector._domainkey.domain"). The answer stays owned by the
 * caller and must live until dkim_verify_eom() returns. */
typedef const struct dns_answer *dkim_key_lookup_fn(
    void *arg, const char *name);
void dkim_verify_set_key_lookup(
    struct dkim_verify *, dkim_key_lookup_fn *, void *arg);

/* Each header field as it arrives; the field must stay unchanged in the
 * list later given to dkim_verify_eom(). */
void dkim_verify_header(struct dkim_verify *, const struct hdr_field *);
void dkim_verify_eoh(struct dkim_verify *, const struct hdr_list *);
void dkim_verify_body(struct dkim_verify *, const void *, size_t);
/* True while a key query is in flight (with params.waiter: what the
 * caller waits for before dkim_verify_eom()). */
bool dkim_verify_pending(const struct dkim_verify *);
/* Finishes everything; without params.waiter, blocks for outstanding key
 * queries. */
void dkim_verify_eom(struct dkim_verify *, const struct hdr_list *);

/* The signatures seen (up to the cap), in header order. */
size_t                    dkim_verify_count(const struct dkim_verify *);
const struct dkim_result *dkim_verify_result(
    const struct dkim_verify *, size_t i);
/* DKIM-Signature fields ignored past params.max_signatures. */
size_t dkim_verify_ignored(const struct dkim_verify *);
/* Signatures not verified because the budget (params.max_cost) was
 * spent; each has result policy. */
size_t dkim_verify_over_budget(const struct dkim_verify *);
/* Tests and the benchmark: body streams in use (shared by signatures with
 * the same body canonicalization, hash and l=). */
size_t dkim_verify_body_streams(const struct dkim_verify *);

/* "pass", "fail", "neutral", "policy", "temperror", "permerror". */
const char *dkim_status_str(enum dkim_status);

#endif /* AM_DKIM_VERIFY_H */
