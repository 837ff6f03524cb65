/*
 * store: the aggregate-report store, one schema over two back ends.
 *
 *	"sqlite:/var/lib/authmilter/reports.db"   embedded default (WAL)
 *	"postgresql://user@/db?host=/run/pg"      several gateways, one store
 *	"postgres://..." is the same as "postgresql://..."
 *
 * The daemon's writer thread only adds rows; authmilter-report reads
 * periods and rows, assigns report ids, marks periods sent and expires old
 * data. A period is one UTC day for one policy domain. Identical tuples
 * (every field of a struct report_row but `when` and the published policy,
 * within one period) are one stored row whose count grows: the store grows
 * with distinct rows, not with messages. The period keeps one published
 * policy, the last one added, so a policy change within a day does not
 * split a row in two.
 *
 * The schema is versioned (a schema_version value in the store); opening
 * an older store migrates it in one transaction, a newer one is refused.
 *
 * Every call that can fail returns 0 or -1 with err set; a failed call
 * leaves the store as it was (each call is one transaction). A handle
 * belongs to one thread at a time.
 *
 * No call waits long. SQLite: a store another process holds locked for
 * more than 200 ms is an error ("database is locked"). PostgreSQL: each
 * statement is cut at 5 s; a call finding the connection broken resets it
 * once and fails if that fails, so that a later call recovers when the
 * server is back. The schema and the SQL live in store.c, the back ends
 * in store_sqlite.c and store_pg.c (interface: store_int.h).
 */
#ifndef AM_STORE_H
#define AM_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "report.h"

#define STORE_ID_MAX     32  /* report ids: [A-Za-z0-9], at most this long */
#define STORE_SCHEMA     2   /* the version this code writes */

struct store;

/* Opens (creating it when absent, migrating it when older) the store that
 * spec names. NULL with err set on any failure, spec errors included. A
 * new SQLite file gets mode 0640 (less the umask); its directory must
 * exist. Errors never quote a PostgreSQL URI (it may hold a password). */
struct store *store_open(const char *spec, struct am_err *err);
void          store_close(struct store *); /* NULL ok */
/* True when spec names a back end this build knows ("sqlite:" with a
 * path, "postgresql://", "postgres://"); for the config check. */
bool store_spec_valid(const char *spec);

/* Adds n rows in one transaction, row i counted counts[i] times (counts
 * NULL: once each; a count of 0 adds nothing). The period's published
 * policy becomes the one of the last row added for it. Bytes outside
 * printable ASCII in a row's strings are stored as '?' (DKIM domains and
 * selectors are stored exactly); enum values out of range as 0. Fails,
 * adding nothing, on a row without pol.domain. */
int store_add(struct store *, const struct report_row *rows,
    const uint64_t *counts, size_t n, struct am_err *err);

struct store_period {
	int64_t                  day;      /* UTC 00:00:00 */
	struct report_policy_pub pol;      /* pol.domain names the period */
	uint64_t                 messages; /* sum of the counts */
	uint64_t                 rows;     /* distinct rows */
	char                     report_id[STORE_ID_MAX + 1]; /* "" if none */
	bool                     sent;
	int64_t                  sent_at; /* 0 unless sent */
	char                     sent_to[REPORT_RUA_MAX + 1]; /* hand-off */
};

/* Calls fn for each period with day < before (0: every period), unsent
 * ones only when unsent_only, in (day, domain) order (bytewise). fn
 * returning non-zero stops the walk; that value is returned. The listing
 * is read before the first call, so fn may call the store (mark a period
 * sent, list its rows) on the same handle. */
int store_periods(struct store *, int64_t before, bool unsent_only,
    int (*fn)(void *arg, const struct store_period *), void *arg,
    struct am_err *err);

/* Calls fn for each row of one period with its count, largest count
 * first (ties in a stable order), so that a report cut at max_rows keeps
 * the rows that carry the most mail.
 * The row's `when` is the period's day, its pol the period's policy. Same
 * stop and re-entry rules as above. No such period: no call, 0. */
int store_rows(struct store *, int64_t day, const char *domain,
    int (*fn)(void *arg, const struct report_row *, uint64_t count),
    void *arg, struct am_err *err);

/* The period's report id: made (random, 24 characters of [A-Za-z0-9]
 * from RAND_bytes) and stored the first time, the same on every later call
 * from any handle or gateway (the first to store one wins a race), so that
 * a resend after a crash uses the same id and file name. Fails when there
 * is no such period. */
int store_report_id(struct store *, int64_t day, const char *domain,
    char out[STORE_ID_MAX + 1], struct am_err *err);

/* Marks the period sent and records the hand-off (to: the destinations,
 * printable ASCII, at most REPORT_RUA_MAX bytes; at: when) in one
 * transaction. Fails when the period is already sent, or absent. */
int store_mark_sent(struct store *, int64_t day, const char *domain,
    const char *to, int64_t at, struct am_err *err);

/* Deletes the periods (sent or not) and rows with day < before; *n gets
 * the number of periods deleted (n may be NULL). */
int store_expire(struct store *, int64_t before, uint64_t *n,
    struct am_err *err);

/*
 * Received reports (authmilter-report ingest): the aggregate reports other
 * receivers send about our domains, kept apart from the periods above.
 * A report is known by (org, report_id); its records keep the order they
 * came in. Strings are stored as printable ASCII ('?' for other bytes),
 * but a report_id that is not printable ASCII is refused: two ids that
 * differ only there would otherwise be one.
 */
#define STORE_RX_ORG_MAX   255 /* org_name, printable ASCII, longer is cut */
#define STORE_RX_ID_MAX    255 /* report_id as sent; longer: refused */
#define STORE_RX_EMAIL_MAX 255
struct store_rx_report {
	char    org[STORE_RX_ORG_MAX + 1];
	char    report_id[STORE_RX_ID_MAX + 1];
	char    email[STORE_RX_EMAIL_MAX + 1];
	int64_t begin, end; /* date_range, UTC epoch seconds */
	/* policy_published; pol.domain = the domain reported on */
	struct report_policy_pub pol;
	int64_t                  received; /* when ingested */
};

/* Adds one received report and its records (rows[i] counted counts[i]
 * times, counts NULL: once each; row.when and row.pol are not stored: they
 * come back as the report's begin and pol) in one transaction. (org,
 * report_id) already stored: *duplicate = true, nothing added, returns 0.
 * Fails, adding nothing, on an empty org, report_id or pol.domain, a
 * report_id that is not printable ASCII or longer than STORE_RX_ID_MAX,
 * end < begin, or a count past INT64_MAX. */
int store_rx_add(struct store *, const struct store_rx_report *,
    const struct report_row *rows, const uint64_t *counts, size_t n,
    bool *duplicate, struct am_err *err);

/* The same in steps, for a report too large to hold as rows in memory:
 * store_rx_begin() opens the transaction and adds the report (a duplicate:
 * *duplicate = true, nothing open, 0), store_rx_put() adds one record,
 * store_rx_commit() ends it; store_rx_abort() (also after a failed put or
 * commit; harmless when nothing is open) rolls back. No other store call
 * may come between begin and commit on the handle. */
int  store_rx_begin(struct store *, const struct store_rx_report *,
     bool *duplicate, struct am_err *err);
int  store_rx_put(struct store *, const struct report_row *, uint64_t count,
     struct am_err *err);
int  store_rx_commit(struct store *, struct am_err *err);
void store_rx_abort(struct store *);

/* Calls fn for each record of the received reports on domain (exact
 * match, lower case) whose date_range end >= since, ordered by (begin,
 * org, report_id) (bytewise), then the order the records came in. The
 * row's `when` is the report's begin, its pol the report's. fn returning
 * non-zero stops; that value is returned. The reports are listed before
 * the first call, and each report's records before its first call, so fn
 * may call the store on the same handle. */
int store_rx_rows(struct store *, const char *domain, int64_t since,
    int (*fn)(void *arg, const struct store_rx_report *,
	const struct report_row *, uint64_t count),
    void *arg, struct am_err *err);

#endif /* AM_STORE_H */
