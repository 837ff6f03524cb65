/*
 * msgauth: one SMTP connection's mail authentication as a state machine,
 * with no libmilter inside. The milter glue (milter_cb.c), authmilter-check
 * and the tests all drive it the same way:
 *
 *	m = msgauth_new(ctx);
 *	msgauth_connect(m, "client.example", "192.0.2.1");
 *	msgauth_daemon_name(m, "ORIGINATING");    (optional)
 *	msgauth_helo(m, "client.example");
 *	for each message:
 *		msgauth_mailfrom(m, "<a@example.org>", auth_authen, reply);
 *		msgauth_rcpt(m, "<b@example.net>") ...    (optional)
 *		msgauth_header(m, name, value) ... msgauth_eoh(m)
 *		msgauth_body(m, chunk, len) ...
 *		msgauth_eom(m, &result)   (or msgauth_abort(m))
 *	msgauth_free(m);
 *
 * Events return a reply: continue, or an SMTP verdict (reject / tempfail
 * with code, enhanced code and text). At end of message the result holds
 * the header edits to apply in order (deletions from the last index back,
 * then insertions at the top), the verdict, and a one-line summary for the
 * log. Nothing here logs per message; the caller writes the summary.
 *
 * Forged Authentication-Results fields (RFC 8601 5) are deleted on every
 * path that can deliver, internal failures with on_internal_error =
 * "accept" included; where that cannot be done (a header field that could
 * not be stored, no memory for the edits), the message tempfails whatever
 * the config says. Outbound mail that should be signed and cannot be
 * tempfails unless dkim.sign.on_error is "accept".
 *
 * The shared context (struct msgauth_ctx) is an immutable, refcounted
 * snapshot of a config plus its resolver; a message keeps the context it
 * started with (MAIL FROM) until its end, so a reload never changes a
 * transaction in flight.
 *
 * Time: no call here waits except msgauth_eom() and, with
 * spf.reject_fail, msgauth_mailfrom(); they sleep only on DNS answers of
 * their own message, to its deadline (message_timeout from MAIL FROM;
 * spf.timeout per SPF evaluation). msgauth_abort() and msgauth_free()
 * never wait. See msgauth.c.
 *
 * Threads: a struct msgauth belongs to one thread at a time; contexts are
 * shared freely.
 */
#ifndef AM_MSGAUTH_H
#define AM_MSGAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "dkim_sign.h"
#include "err.h"

struct dns;
struct msgauth_ctx;
struct msgauth;

enum msgauth_verdict {
	MSGAUTH_CONTINUE,
	MSGAUTH_ACCEPT,    /* end of message: deliver (with the edits) */
	MSGAUTH_REJECT,    /* 5xx */
	MSGAUTH_TEMPFAIL,  /* 4xx */
	MSGAUTH_QUARANTINE /* end of message: deliver to the hold queue */
};

struct msgauth_reply {
	enum msgauth_verdict verdict;
	char                 code[4];   /* "550", "451"; "" for continue */
	char                 xcode[12]; /* "5.7.1" */
	char                 text[256]; /* printable, no CR/LF */
};

enum msgauth_edit_type {
	MSGAUTH_EDIT_DELETE, /* delete the index-th field named name (1-based)
			      */
	MSGAUTH_EDIT_INSERT  /* insert name: value at index (0: the top) */
};

struct msgauth_edit {
	enum msgauth_edit_type type;
	const char            *name;
	const char            *value; /* INSERT: leading space, "\n\t" folds */
	size_t                 index;
};

/* The edits have no fixed limit: every forged Authentication-Results
 * field is deleted, however many there are. An edit that cannot be
 * recorded (OOM) makes the message tempfail. */
struct msgauth_result {
	struct msgauth_reply reply;
	struct msgauth_edit *edit; /* nedits of them, owned by the msgauth */
	size_t               nedits;
	const char          *quarantine_reason; /* with MSGAUTH_QUARANTINE */
	const char *summary; /* "spf=pass smtp.mailfrom=... action=accept" */
};

/* Makes a context from conf (a reference is taken). The resolver of prev
 * is shared when prev's dns settings equal conf's (a reload keeps the
 * cache); otherwise a new one is made from conf->dns. Returns NULL with err
 * set when the resolver cannot be set up. prev may be NULL. */
struct msgauth_ctx *msgauth_ctx_new(
    struct am_conf *conf, const struct msgauth_ctx *prev, struct am_err *err);
struct msgauth_ctx   *msgauth_ctx_ref(struct msgauth_ctx *);
void                  msgauth_ctx_unref(struct msgauth_ctx *); /* NULL ok */
const struct am_conf *msgauth_ctx_conf(const struct msgauth_ctx *);
struct dns           *msgauth_ctx_dns(const struct msgauth_ctx *);

/* Key rotation (dkim.sign.publish_check). Where a key of a signing-table
 * row has publish_check, the row signs with, for each algorithm, the first
 * of its keys (in row order) that is usable: a key without publish_check
 * always is; one with it only while its state below is MSGAUTH_PUB_OK. A
 * row with no usable key signs with none, which is a signing failure (see
 * dkim.sign.on_error). Rows without such keys sign with all their keys.
 * A new context starts each key with the state of the same key (domain,
 * selector, public key) in prev, else MSGAUTH_PUB_UNCHECKED (not used). */
enum msgauth_pub {
	MSGAUTH_PUB_UNCHECKED, /* never looked up */
	MSGAUTH_PUB_FAILED,    /* only failed lookups so far */
	MSGAUTH_PUB_OK,        /* a record there holds this public key */
	MSGAUTH_PUB_ABSENT,    /* NXDOMAIN or no TXT record */
	MSGAUTH_PUB_MISMATCH,  /* key records there, another key in them */
	MSGAUTH_PUB_BAD        /* TXT records, none a usable key record */
};
/* Called for each key whose state changed, with a short reason. */
typedef void msgauth_pub_fn(void *arg, const struct conf_key *key,
    enum msgauth_pub state, const char *why);
/* Looks up the TXT records at SELECTOR._domainkey.DOMAIN of every key
 * with publish_check (in parallel) and compares their p= with the key's
 * public half. A failed lookup (timeout, SERVFAIL) keeps the state the key
 * had, if it had one but MSGAUTH_PUB_FAILED or _UNCHECKED. Blocks up to
 * dns.timeout: never call it from a libmilter callback. Messages read the
 * states without locks (atomics). Returns how many keys were looked up (keys no
 * signing-table row uses are not). */
size_t msgauth_publish_check(
    struct msgauth_ctx *, msgauth_pub_fn *fn, void *arg);
/* The state of key (a key of the context's config). */
enum msgauth_pub msgauth_key_pub(
    const struct msgauth_ctx *, const struct conf_key *key);
/* True when the context's config has a key with publish_check. */
bool msgauth_publish_checked(const struct msgauth_ctx *);

/* Tools and tests: fix the clock (DKIM t=/x=, signing t=); 0: time(). */
void msgauth_ctx_set_now(struct msgauth_ctx *, time_t);

/* A connection. NULL only on OOM. */
struct msgauth *msgauth_new(void);
void            msgauth_free(struct msgauth *); /* NULL ok; aborts a message */

/* addr: the client's IP address in text form, NULL or unparsable for a
 * local (non-IP) connection. hostname: the MTA's name for it. */
void msgauth_connect(struct msgauth *, const char *hostname, const char *addr);
/* The MTA's name for the service the client reached (Postfix's
 * {daemon_name}, milter_macro_daemon_name; Sendmail's DaemonPortOptions
 * Name), or NULL when it sent none. Connection-wide; a message is signed
 * when it is in sign_daemon_names. */
void msgauth_daemon_name(struct msgauth *, const char *name);
void msgauth_helo(struct msgauth *, const char *helo);
/* Starts a message on ctx (a reference is taken until eom/abort). from is
 * the MAIL FROM argument as the MTA gives it ("<a@b>", "<>"); auth_authen
 * the SASL login name or NULL. The reply may reject or tempfail (SPF). */
void msgauth_mailfrom(struct msgauth *, struct msgauth_ctx *, const char *from,
    const char *auth_authen, struct msgauth_reply *);
/* An envelope recipient as the MTA gives it ("<b@c>"); the first one
 * with a usable domain is the report's envelope_to. */
void msgauth_rcpt(struct msgauth *, const char *to);
/* The MTA's queue id, for the summary (known at MAIL FROM or later). */
void msgauth_queue_id(struct msgauth *, const char *id);
/* One header field; value is everything after the colon, leading
 * whitespace included, folds as LF or CRLF. */
void msgauth_header(struct msgauth *, const char *name, const char *value,
    struct msgauth_reply *);
void msgauth_eoh(struct msgauth *, struct msgauth_reply *);
/* Body bytes with CRLF line ends, in chunks of any size. */
void msgauth_body(
    struct msgauth *, const void *, size_t, struct msgauth_reply *);
/* Ends the message. The result's strings live until the next event. */
void msgauth_eom(struct msgauth *, struct msgauth_result *);
/* Drops the message (RSET, a lost client, an MTA abort). */
void msgauth_abort(struct msgauth *);

/* "MTA queue id or NOQUEUE" of the current or last message. */
const char *msgauth_log_id(const struct msgauth *);
/* The reason the last end of message did not enforce a DMARC fail (or a
 * deferring temperror), as RFC 9990's PolicyOverrideType names it:
 * "trusted_forwarder" (dmarc.trusted_forwarders) or "local_policy"
 * (dmarc.exempt_domains); NULL when nothing was overridden. For the
 * aggregate report writer; valid until the next MAIL FROM. */
const char *msgauth_dmarc_override(const struct msgauth *);
/* The aggregate-report row (RFC 9990 3.1) of the last end of message:
 * made for a DMARC pass or fail under a policy record, when the config
 * has a reports group and the client an IP address; NULL otherwise.
 * Valid until the next MAIL FROM. */
struct report_row;
const struct report_row *msgauth_report(const struct msgauth *);
/* True when the message in progress is outbound (signing). */
bool msgauth_outbound(const struct msgauth *);
/* The signer's parameters and keys for one signing-table row of the
 * context's config, as the daemon signs (the config's canonicalization,
 * signed and oversigned fields; t=now; the row's usable keys, see
 * msgauth_publish_check): keys has room for CONF_MAX_ROW_KEYS, and the
 * count used is returned, 0 when no key is usable. Both point into the
 * config, which must outlive them. Also for authmilter-report, whose mails
 * are signed as the daemon would. */
size_t msgauth_sign_setup(const struct msgauth_ctx *,
    const struct conf_sign_rule *rule, time_t now,
    struct dkim_sign_params *params, struct dkim_sign_key *keys);

const char *msgauth_verdict_str(enum msgauth_verdict);

/* Tests: resolvers of old configurations freed by a thread of their own
 * (their last reference went, perhaps in a callback) since start. */
unsigned long msgauth_dns_freed_aside(void);

#endif /* AM_MSGAUTH_H */
