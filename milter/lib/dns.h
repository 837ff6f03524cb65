/*
 * dns: asynchronous DNS lookups over one libunbound context shared by all
 * threads of the process (its cache is shared by all connections).
 *
 * Set-up: the system resolver by default (forwarders from /etc/resolv.conf,
 * else full recursion from the root hints), or params.unbound_conf, an
 * unbound.conf-syntax file handed to libunbound as the whole resolver set-up
 * (tests point it at a loopback DNS server). The config is read once, in
 * dns_new(): libunbound's config parser is not thread-safe, so it is never
 * touched per message. A reload makes a new struct dns beside the old one.
 *
 * Queries: dns_start() sends a query and returns at once; dns_wait()
 * collects it, blocking until the answer arrives or the query's deadline
 * passes (params.timeout seconds after dns_start: libunbound alone would
 * wait ~17 s on a silent server). So lookups can be started as soon as a
 * name is known (a DKIM-Signature header, a From field) and collected at
 * end of message. One internal thread drives libunbound (ub_fd/ub_process);
 * there is no thread per query. Final answers (records, NXDOMAIN, NODATA)
 * are also kept in a bounded answer cache for their TTL (at most an hour),
 * and a lookup found there completes inside dns_start(), without a trip
 * through libunbound's threads.
 *
 * Results distinguish an answer, NXDOMAIN, NODATA (the name exists, no
 * record of that type), and TEMPFAIL (SERVFAIL, timeout, REFUSED, any other
 * rcode, or a resolver error): SPF void lookups and DMARC np= depend on it.
 *
 * Limits: DNS_MAX_RRS records and DNS_MAX_ANSWER bytes of rdata per answer;
 * a bigger answer is cut (truncated is set). Names are at most 253 octets
 * (RFC 1035 2.3.4) with labels of at most 63; another name is answered
 * DNS_BADNAME without a query.
 *
 * Waiting on several lookups: a struct dns_waiter collects the queries of
 * one owner (a message's SPF, DKIM and DMARC lookups) and dns_waiter_wait()
 * sleeps until one of them completes or a deadline passes, so a state
 * machine over dns_start()/dns_done() is stepped when there is something
 * new and never polls. The dispatcher thread signals the waiter when an
 * answer arrives; a query's own deadline also completes it (as timeout).
 *
 * Threads: dns_* calls are thread-safe on one struct dns. A struct
 * dns_query and a struct dns_waiter belong to the thread that made them.
 */

#ifndef AM_DNS_H
#define AM_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"

#define DNS_MAX_RRS         64
#define DNS_MAX_ANSWER      65536
#define DNS_MAX_NAME        253
#define DNS_DEFAULT_TIMEOUT 5.0

enum dns_type {
	DNS_T_A = 1,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28
};

enum dns_status {
	DNS_OK,       /* at least one record of the type asked for */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_NODATA,   /* the name exists, no record of this type */
	DNS_TEMPFAIL, /* SERVFAIL, timeout, other rcode, resolver failure */
	DNS_BADNAME   /* the name is not a valid DNS name; nothing was sent */
};

struct dns_rr {
	/* A: 4 bytes, AAAA: 16 bytes (network order).
	 * TXT: the character-strings of one record joined, len bytes (may hold
	 * NUL bytes: compare lengths), NUL-terminated after len; the strings
	 * one by one through dns_txt_string().
	 * MX: the exchange, PTR: the target, as a dotted name without the
	 * trailing dot ("" for the root), NUL-terminated. */
	char          *data;
	size_t         len;
	size_t         wire_len; /* TXT: octets of the rdata kept after data */
	unsigned short pref;     /* MX preference; 0 otherwise */
};

/* TXT: the i-th character-string (from 0) of the record as published, as s
 * and len (not NUL-terminated); false past the last. A record made without
 * its rdata (wire_len 0) is one string. */
bool dns_txt_string(
    const struct dns_rr *, size_t i, const char **s, size_t *len);

struct dns_answer {
	enum dns_status status;
	bool            secure;    /* DNSSEC validated (needs a trust anchor) */
	bool            bogus;     /* DNSSEC validation failed */
	bool            truncated; /* more than the limits; the rest dropped */
	size_t          n;         /* records in rr; 0 unless DNS_OK */
	struct dns_rr  *rr;
	/* TEMPFAIL: "timeout", "SERVFAIL", "REFUSED", "rcode N", "DNSSEC
	 * bogus", "resolver: <ub_strerror>", "malformed answer" (records
	 * none of which could be read), "out of memory"; else "". */
	const char *why;
};

struct dns_params {
	const char *unbound_conf; /* NULL or "": the system resolver */
	const char *trust_anchor; /* NULL or "": no DNSSEC validation */
	double      timeout; /* seconds per query; 0: DNS_DEFAULT_TIMEOUT */
	bool        nocache; /* no answer cache in front of libunbound (tests
				that need every lookup to reach it) */
};

struct dns;        /* the shared resolver */
struct dns_query;  /* one lookup in flight */
struct dns_waiter; /* sleeps on several queries */

/* Creates the shared resolver and its thread. Returns NULL with err set when
 * the config cannot be read or libunbound fails. */
struct dns *dns_new(const struct dns_params *, struct am_err *err);
/* Stops the thread and frees everything. Every query must have been freed
 * with dns_query_free() first (one still in flight then is fine). NULL ok. */
void dns_free(struct dns *);
/* Starts a lookup of name (a dotted name, trailing dot optional). Returns
 * NULL only on OOM. A query for an invalid name completes at once with
 * DNS_BADNAME. */
struct dns_query *dns_start(struct dns *, const char *name, enum dns_type);
/* True when dns_wait() would not block. */
bool dns_done(struct dns_query *);
/* Blocks until the answer or the deadline; the answer is owned by the
 * query. Never NULL: a deadline gives status DNS_TEMPFAIL, why "timeout". */
const struct dns_answer *dns_wait(struct dns_query *);
/* Frees the query, abandoning it if still in flight: safe at any time, from
 * the owning thread; a late answer is dropped. NULL ok. */
void dns_query_free(struct dns_query *);
/* The name the query was started with (as given). */
const char *dns_query_name(const struct dns_query *);

/* A waiter for the queries of one owner. NULL only on OOM. Every query
 * attached to it must be freed (dns_query_free) before dns_waiter_free. */
struct dns_waiter *dns_waiter_new(struct dns *);
void               dns_waiter_free(struct dns_waiter *); /* NULL ok */
/* Attaches q to w: its completion wakes dns_waiter_wait(w). A query that
 * is already done counts as a completion at once. A query has at most one
 * waiter; attaching again moves it. */
void dns_query_notify(struct dns_query *q, struct dns_waiter *w);
/* Sleeps until a query attached to w completed since the last call (an
 * answer, or its own deadline: then it is done with TEMPFAIL "timeout"), or
 * until deadline (CLOCK_MONOTONIC; NULL: no deadline but the queries').
 * Returns true for a completion, false when deadline passed first (or
 * there is nothing left to wait for). Never blocks past deadline. */
bool dns_waiter_wait(struct dns_waiter *w, const struct timespec *deadline);

/* Convenience: start, wait, copy. The caller frees with dns_answer_free. */
struct dns_answer *dns_lookup(struct dns *, const char *name, enum dns_type);
void               dns_answer_free(struct dns_answer *);

/* Counters, for tests and the benchmark: queries handed to libunbound since
 * dns_new (a DNS_BADNAME query is not counted: nothing is sent). */
unsigned long dns_queries_started(const struct dns *);
/* Lookups answered from the answer cache, without libunbound. */
unsigned long dns_cache_hits(const struct dns *);
/* For tests: the value libunbound uses for an unbound.conf option such as
 * "outgoing-range:" (see dns.c on the defaults we set), copied into buf.
 * Returns 0, or -1 for an unknown option or a buf too small. */
int dns_ub_option(const struct dns *, const char *opt, char *buf, size_t size);

/* "ok", "nxdomain", "nodata", "tempfail", "badname". */
const char *dns_status_str(enum dns_status);

/* True when name is one dns_start() would send: 1..DNS_MAX_NAME octets
 * without the optional trailing dot, labels of 1..63 octets (RFC 1035
 * 2.3.4). Every octet but '.' is taken literally (no \ escapes). */
bool dns_name_valid(const char *name);

/* For tests and fuzzing: converts one record's rdata, as libunbound hands it
 * (data[i]/len[i]: names uncompressed), into rr, which the caller frees with
 * free(rr->data). A: 4 bytes, AAAA: 16, TXT: one or more character-strings,
 * MX: preference and a name, PTR: a name. A name must fill the rdata
 * exactly, have labels of 1..63 octets, 255 octets in all (RFC 1035 3.1),
 * and only printable ASCII other than '.' in its labels (so its dotted text
 * cannot be misread). Returns 0, -1 for malformed rdata (rr untouched),
 * -2 when out of memory. */
int dns_rdata_parse(
    enum dns_type, const unsigned char *rdata, size_t len, struct dns_rr *rr);

#endif /* AM_DNS_H */
