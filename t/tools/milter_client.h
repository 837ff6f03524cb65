/*
 * milter_client: the MTA side of the Sendmail milter protocol, version 6,
 * spoken as Postfix 3.7 speaks it (src/milter/milter8.c), for tests and the
 * benchmark. It connects to a filter, negotiates (SMFIC_OPTNEG offering
 * every action and every protocol step unless told otherwise), then sends
 * one SMTP event per call and returns the filter's reply.
 *
 * Like Postfix it honours what the filter negotiated: a step the filter
 * asked not to see (SMFIP_NOHELO, SMFIP_NOHDRS, ...) is not sent and gives
 * MILTER_CLIENT_NOTSENT; a step whose reply the filter will not send
 * (SMFIP_NR_*) is sent without waiting and gives MILTER_CLIENT_NOREPLY;
 * after SMFIR_SKIP the rest of the body is not sent. The macros set for a
 * stage (SMFIC_MACRO) go out before each event of that stage, restricted to
 * the filter's SMFIR_SETSYMLIST list when it sent one; header fields carry
 * the end-of-header macros and body chunks the end-of-message macros, as in
 * Postfix. Header edits, recipient changes, body replacement and quarantine
 * are accepted only at end of message and only when negotiated; they are
 * collected in order and read back with milter_client_action().
 *
 * Limits: a reply packet over max_reply bytes (MILTER_CLIENT_MAX_REPLY) is a
 * protocol error; one body packet carries at most MILTER_CLIENT_CHUNK bytes
 * (libmilter's MILTER_CHUNK_SIZE); each wait for the socket lasts at most
 * timeout_ms. Outgoing packets are buffered and written in one go before
 * the client waits for a reply, so macros and their event share a segment.
 *
 * Errors (I/O, timeout, malformed or unexpected reply) return -1 with an
 * am_err; the connection is then closed and every later call fails. One
 * thread per client.
 */
#ifndef AM_MILTER_CLIENT_H
#define AM_MILTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MILTER_CLIENT_MAX_REPLY  (1024 * 1024) /* bytes in one reply packet */
#define MILTER_CLIENT_CHUNK      65535         /* MILTER_CHUNK_SIZE, mfdef.h */
#define MILTER_CLIENT_TIMEOUT_MS 30000 /* Postfix milter_command_timeout */
#define MILTER_CLIENT_MAX_EDITS  (64 * 1024 * 1024) /* bytes of actions */
#define MILTER_CLIENT_VERSION    6

struct milter_client_params {
	unsigned int timeout_ms; /* 0: MILTER_CLIENT_TIMEOUT_MS */
	uint32_t     actions;    /* SMFIF_* offered; 0: all (SMFI_CURR_ACTS) */
	uint32_t     protocol;   /* SMFIP_* offered; 0: all (SMFI_CURR_PROT) */
	size_t       max_reply;  /* 0: MILTER_CLIENT_MAX_REPLY */
	size_t       chunk;      /* body packet size; 0 or too big: the max */
	bool         nodelay;    /* TCP_NODELAY on inet sockets (Postfix: no) */
};

/* Macro stages, numbered as SMFIM_* in SMFIR_SETSYMLIST. */
enum milter_client_stage {
	MILTER_CLIENT_CONNECT = 0,
	MILTER_CLIENT_HELO = 1,
	MILTER_CLIENT_MAIL = 2,
	MILTER_CLIENT_RCPT = 3,
	MILTER_CLIENT_DATA = 4,
	MILTER_CLIENT_EOM = 5,
	MILTER_CLIENT_EOH = 6,
	MILTER_CLIENT_NSTAGES = 7
};

enum milter_client_verdict {
	MILTER_CLIENT_CONTINUE,
	MILTER_CLIENT_ACCEPT,
	MILTER_CLIENT_REJECT,
	MILTER_CLIENT_TEMPFAIL,
	MILTER_CLIENT_DISCARD,
	MILTER_CLIENT_REPLYCODE, /* text holds "550 5.7.1 why" */
	MILTER_CLIENT_SKIP,      /* to a body chunk: send no more body */
	MILTER_CLIENT_SHUTDOWN,
	MILTER_CLIENT_CONN_FAIL,
	MILTER_CLIENT_NOREPLY, /* sent; the filter said it won't reply */
	MILTER_CLIENT_NOTSENT  /* not sent: SMFIP_NO* or after SKIP */
};

struct milter_client_reply {
	enum milter_client_verdict verdict;
	/* MILTER_CLIENT_REPLYCODE: the SMTP reply (lines joined by CRLF);
	 * otherwise "". Owned by the client, valid until its next call. */
	const char *text;
};

enum milter_client_action_type {
	MILTER_CLIENT_ADDHEADER,   /* name, value */
	MILTER_CLIENT_INSHEADER,   /* index, name, value */
	MILTER_CLIENT_CHGHEADER,   /* index, name, value ("" deletes) */
	MILTER_CLIENT_ADDRCPT,     /* name: recipient */
	MILTER_CLIENT_ADDRCPT_PAR, /* name: recipient, value: ESMTP args */
	MILTER_CLIENT_DELRCPT,     /* name: recipient */
	MILTER_CLIENT_CHGFROM,     /* name: sender, value: ESMTP args */
	MILTER_CLIENT_REPLBODY,    /* value, len: the whole new body */
	MILTER_CLIENT_QUARANTINE   /* name: reason */
};

/* One end-of-message action; strings are NUL-terminated (value may hold
 * LF, and for REPLBODY any byte: use len). */
struct milter_client_action {
	enum milter_client_action_type type;
	uint32_t                       index;
	const char                    *name;
	const char                    *value;
	size_t                         len; /* of value */
};

struct milter_client; /* opaque */

/* Returns NULL only when out of memory; params may be NULL (defaults). */
struct milter_client *milter_client_new(const struct milter_client_params *);
/* Closes the socket without QUIT; NULL ok. */
void milter_client_free(struct milter_client *);

/* Connects to spec ("local:/path", "unix:/path", "/path",
 * "inet:PORT@HOST", "inet6:PORT@HOST"; HOST may be in brackets) and
 * negotiates. Fails on connection trouble, a timeout, or an OPTNEG reply
 * with a version over 6 or actions not offered. */
int milter_client_open(
    struct milter_client *, const char *spec, struct am_err *err);
/* What the filter answered in OPTNEG (0 before milter_client_open). */
uint32_t milter_client_version(const struct milter_client *);
uint32_t milter_client_actions(const struct milter_client *);
uint32_t milter_client_protocol(const struct milter_client *);
/* The SMFIR_SETSYMLIST list for a stage, or NULL when none was sent. */
const char *milter_client_symlist(
    const struct milter_client *, enum milter_client_stage);

/* Sets macro name (e.g. "j", "{auth_authen}") to value for a stage; value
 * NULL removes it. Order of first setting is the order sent. Returns -1
 * when out of memory or for a bad stage. */
int milter_client_macro(struct milter_client *, enum milter_client_stage,
    const char *name, const char *value);

/* The SMTP events. Each returns 0 and fills *reply, or -1 on error. */
/* SMFIC_CONNECT: addr is an IPv4 or IPv6 literal, a path starting with
 * "/" (family 'L'), or NULL (family 'U', unknown). */
int milter_client_connect(struct milter_client *, const char *hostname,
    const char *addr, unsigned int port, struct milter_client_reply *,
    struct am_err *);
int milter_client_helo(struct milter_client *, const char *name,
    struct milter_client_reply *, struct am_err *);
/* argv: "<address>" then ESMTP parameters, NULL-terminated. */
int milter_client_mail(struct milter_client *, const char *const *argv,
    struct milter_client_reply *, struct am_err *);
int milter_client_rcpt(struct milter_client *, const char *const *argv,
    struct milter_client_reply *, struct am_err *);
int milter_client_data(
    struct milter_client *, struct milter_client_reply *, struct am_err *);
/* value: everything after the colon as received, continuation lines joined
 * by LF; one leading space is removed unless SMFIP_HDR_LEADSPC. */
int milter_client_header(struct milter_client *, const char *name,
    const char *value, struct milter_client_reply *, struct am_err *);
int milter_client_eoh(
    struct milter_client *, struct milter_client_reply *, struct am_err *);
/* Sends n bytes (CRLF line ends) in packets of the chunk size; stops at
 * the first reply other than continue. n == 0 sends nothing (NOTSENT). */
int milter_client_body(struct milter_client *, const void *, size_t n,
    struct milter_client_reply *, struct am_err *);
/* SMFIC_BODYEOB: collects the actions, then the final reply. */
int milter_client_eom(
    struct milter_client *, struct milter_client_reply *, struct am_err *);
/* Actions of the last end of message; valid until the next mail, eom,
 * abort or free. */
size_t milter_client_nactions(const struct milter_client *);
const struct milter_client_action *milter_client_action(
    const struct milter_client *, size_t i);

/* SMFIC_ABORT (no reply): ends the message; the connection stays. */
int milter_client_abort(struct milter_client *, struct am_err *);
/* SMFIC_QUIT (no reply), then closes. */
int milter_client_quit(struct milter_client *, struct am_err *);
/* Writes what is buffered and closes the socket, without QUIT. */
int milter_client_close(struct milter_client *, struct am_err *);

/* "continue", "accept", "reject", ... for output. */
const char *milter_client_verdict_name(enum milter_client_verdict);

#endif /* AM_MILTER_CLIENT_H */
