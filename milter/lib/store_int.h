/*
 * store_int: what store.c shares with its two back ends (store_sqlite.c,
 * store_pg.c), the unit test and the fuzz target; not for other modules.
 *
 * A back end runs one fixed set of statements (enum store_stmt, SQL text
 * in store.c, the same for both back ends where it can be), each with up
 * to STORE_PARAMS_MAX text parameters $1..$n, prepared once per handle
 * (SQLite) or per connection (PostgreSQL). Results are copied into a
 * struct store_res before the caller sees them, so that a callback may
 * call the store again while a listing is being walked.
 */
#ifndef AM_STORE_INT_H
#define AM_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "report.h"
#include "store.h"

#define STORE_PARAMS_MAX 16
/* The largest result copied for one listing: 256 MiB of text, far above
 * what one day of one domain holds (a row is a few hundred bytes). */
#define STORE_RES_MAX (256u * 1024 * 1024)

enum store_stmt {
	STORE_STMT_VERSION_GET,
	STORE_STMT_VERSION_SET,
	STORE_STMT_PERIOD_UPSERT,
	STORE_STMT_ROW_UPSERT,
	STORE_STMT_PERIODS,
	STORE_STMT_ROWS,
	STORE_STMT_ID_SET,
	STORE_STMT_ID_GET,
	STORE_STMT_MARK_SENT,
	STORE_STMT_PERIOD_STATE,
	STORE_STMT_EXPIRE_ROWS,
	STORE_STMT_EXPIRE_PERIODS,
	STORE_STMT_RX_INSERT,
	STORE_STMT_RX_ROW_INSERT,
	STORE_STMT_RX_REPORTS,
	STORE_STMT_RX_ROWS,
	STORE_STMT_N
};

/* One statement's text and parameter count; pg, when not NULL, replaces
 * sql on PostgreSQL. */
struct store_stmt_def {
	const char *sql;
	const char *pg;
	int         nparams;
};
extern const struct store_stmt_def store_stmts[STORE_STMT_N];

/* A result: nrows x ncols cells of text, NULL for SQL NULL. */
struct store_res {
	size_t     nrows, ncols;
	struct buf text; /* the cells, each NUL-terminated */
	size_t    *off;  /* nrows * ncols offsets into text; SIZE_MAX: NULL */
	size_t     cap;  /* of off, in cells */
	size_t     fill; /* cells of the row being filled */
};
/* An empty result of ncols columns (the back end sets ncols). */
void store_res_init(struct store_res *);
void store_res_free(struct store_res *);
/* Appends one cell (NULL: SQL NULL) to the row being filled; -1 on OOM or
 * past STORE_RES_MAX. */
int         store_res_add(struct store_res *, const char *p, size_t n);
const char *store_res_get(const struct store_res *, size_t row, size_t col);

struct store_be;
struct store_be_ops {
	/* Runs statement st with its parameters; the result rows go to res
	 * (NULL: none wanted) and the number of rows changed to changes (NULL
	 * ok). Outside a transaction a lost connection is retried once. */
	int (*exec)(struct store_be *, enum store_stmt st,
	    const char *const *params, struct store_res *res, uint64_t *changes,
	    struct am_err *err);
	/* Runs one unprepared statement without parameters (DDL). */
	int (*exec_sql)(struct store_be *, const char *sql, struct am_err *err);
	/* A write transaction (SQLite: BEGIN IMMEDIATE, so that the busy
	 * timeout applies to taking the lock, not to a failed upgrade). */
	int (*begin)(struct store_be *, struct am_err *err);
	int (*commit)(struct store_be *, struct am_err *err);
	void (*rollback)(struct store_be *);
	/* Serializes schema migrations between processes, inside the
	 * transaction (PostgreSQL: an advisory lock; SQLite: nothing, BEGIN
	 * IMMEDIATE already excludes other writers). */
	int (*lock_schema)(struct store_be *, struct am_err *err);
	void (*close)(struct store_be *);
};

struct store_be {
	const struct store_be_ops *ops;
};

/* The back ends: NULL with err set on failure. */
struct store_be *store_sqlite_open(const char *path, struct am_err *err);
struct store_be *store_pg_open(const char *conninfo, struct am_err *err);

/* One migration step: the statements that take a store from version k
 * (its index in the list) to k + 1, NULL-terminated. */
struct store_migration {
	const char *const *sql;
};

/* store_open() with another list of migrations (nsteps of them: the
 * store ends at version nsteps), for the test of the framework. */
struct store *store_open_steps(const char *spec,
    const struct store_migration *steps, size_t nsteps, struct am_err *err);
/* The built-in list, STORE_SCHEMA steps long. */
extern const struct store_migration store_migrations[STORE_SCHEMA];
/* The schema version recorded in the store. */
int store_schema_version(
    struct store *, int64_t *version_r, struct am_err *err);
/* Runs raw SQL on the store's connection, for tests. */
int store_exec_sql(struct store *, const char *sql, struct am_err *err);

/*
 * The DKIM results of a row as one text column: entries "domain selector
 * result" joined by ';', the result named as report_auth_str() does, and
 * every byte of domain and selector outside [A-Za-z0-9._-] written %XX
 * (upper-case hex). No results: "". The longest text is
 * STORE_DKIM_TEXT_MAX bytes.
 */
#define STORE_DKIM_TEXT_MAX                                                    \
	(REPORT_MAX_DKIM * ((REPORT_NAME_MAX + REPORT_SEL_MAX) * 3 + 2 + 10) + \
	    REPORT_MAX_DKIM)
/* Writes the text for the first min(n, REPORT_MAX_DKIM) results of d into
 * dst (NUL-terminated); returns its length, or -1 when dstsize is too
 * small (STORE_DKIM_TEXT_MAX + 1 always suffices). Unterminated names are
 * read up to their array's size. */
int store_dkim_encode(
    const struct report_dkim *d, size_t n, char *dst, size_t dstsize);
/* Parses [p, p + len) back into at most REPORT_MAX_DKIM results: 0 with
 * *n_r set, or -1 (err set) for malformed text: a bad escape, an escaped
 * NUL, a raw byte outside the set above, a field too long for its array,
 * too many entries, a wrong number of fields or an unknown result. Every
 * name written is NUL-terminated, whatever the outcome. */
int store_dkim_decode(const char *p, size_t len, struct report_dkim *out,
    size_t *n_r, struct am_err *err);

#endif /* AM_STORE_INT_H */
