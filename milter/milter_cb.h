/*
 * milter_cb: the libmilter callbacks. Each one fetches its connection's
 * struct msgauth, makes one msgauth_* call, and maps the answer to SMFIS_*
 * codes and smfi_* edits: no parsing, no policy here.
 *
 * The configuration in force is a refcounted struct msgauth_ctx that the
 * daemon swaps on reload (milter_cb_set_ctx); each message takes the one
 * current at its MAIL FROM.
 */
#ifndef AM_MILTER_CB_H
#define AM_MILTER_CB_H

#include <libmilter/mfapi.h>

#include "hdr.h"
#include "msgauth.h"

/* The largest packet libmilter takes from the MTA (smfi_setmaxdatasize;
 * its default of 65,535 bytes drops the connection, with no reply and no
 * log line, on any longer header field: Postfix passes fields up to its
 * header_size_limit, 100 KiB by default). A field goes in one packet, so
 * this is four times HDR_MAX_BYTES: every field within our header limit
 * reaches msgauth, and one past it by anything an MTA is plausibly set to
 * pass gets the 552 reply and the log line. Body chunks are at most
 * MILTER_CHUNK_SIZE (64 KiB) below it. libmilter allocates a packet at
 * its declared size, so normal mail costs nothing more. */
#define MILTER_CB_MAX_DATA (4 * (size_t)HDR_MAX_BYTES)

/* The filter description to hand to smfi_register(). */
extern struct smfiDesc milter_cb_desc;

/* Installs ctx (the reference passes to us) as the one new messages use;
 * the previous one is released when its last message ends. */
void milter_cb_set_ctx(struct msgauth_ctx *);
/* A new reference to the context in force; NULL before the first set. */
struct msgauth_ctx *milter_cb_get_ctx(void);
/* Installs the report writer new rows go to (NULL: none) and returns the
 * one it replaces, which no callback uses any more on return. */
struct recorder;
struct recorder *milter_cb_set_recorder(struct recorder *);
/* Stopping: new transactions get a tempfail (421 at MAIL FROM), those
 * in flight go on. (libmilter's smfi_stop() would drop idle sessions and
 * transactions waiting for their next command.) */
void milter_cb_drain(void);
/* Transactions between MAIL FROM and their end, right now. */
unsigned int milter_cb_in_flight(void);
/* Milter connections open right now (connect to close). */
unsigned int milter_cb_connections(void);

#endif /* AM_MILTER_CB_H */
