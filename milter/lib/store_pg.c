/*
 * store_pg: the PostgreSQL back end (libpq), for several gateways sharing
 * one store. Every call first checks the connection and, when it is bad,
 * resets it once; when that fails too the call fails and the caller
 * retries later, so that the store comes back with the server. A call
 * that starts outside a transaction and finds the connection dead on its
 * first statement (the server restarted between calls) reconnects and
 * runs it again: nothing was done yet. Statements are prepared once per
 * connection and run with text parameters; each is limited by
 * statement_timeout, so that the writer never waits on a lock for long.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_int.h"

#define STORE_PG_TIMEOUT         "5s"
#define STORE_PG_CONNECT_TIMEOUT "5" /* seconds, unless the URI says */
/* Our key for pg_advisory_xact_lock() around migrations ("amst"). */
#define STORE_PG_LOCK_KEY "1634562932"

struct pg_be {
	struct store_be base;
	PGconn         *conn;
	bool            prepared[STORE_STMT_N];
	bool            in_txn;
};

/* libpq's message without its trailing newline. */
static int
pg_err(
    struct pg_be *be, const PGresult *r, const char *what, struct am_err *err)
{
	const char *m = r != NULL ? PQresultErrorMessage(r) : "";
	char        line[320];
	size_t      n, i;

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(be->conn);
	n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r'))
		n--;
	/* libpq's messages run over several lines: make them one. */
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	for (i = 0; i < n; i++)
		line[i] = m[i] == '\n' || m[i] == '\t' ? ' ' : m[i];
	line[n] = '\0';
	return am_err_set(err, "store: postgresql: %s: %s", what, line);
}

/* Library modules do not log: notices ("relation exists, skipping") are
 * dropped. */
static void
no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int
session_setup(struct pg_be *be, struct am_err *err)
{
	PGresult *r;
	int       rc = 0;

	memset(be->prepared, 0, sizeof(be->prepared));
	be->in_txn = false;
	r = PQexec(be->conn, "SET statement_timeout = '" STORE_PG_TIMEOUT "'");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_err(be, r, "statement_timeout", err);
	PQclear(r);
	return rc;
}

/* A usable connection, reset once if it is not. */
static int
pg_ready(struct pg_be *be, struct am_err *err)
{
	if (PQstatus(be->conn) == CONNECTION_OK)
		return 0;
	if (be->in_txn)
		return pg_err(be, NULL, "connection lost", err);
	PQreset(be->conn);
	if (PQstatus(be->conn) != CONNECTION_OK)
		return pg_err(be, NULL, "reconnect", err);
	return session_setup(be, err);
}

/* True when r failed because the connection went away and the statement
 * may be run again on a new one. */
static bool
pg_retry(struct pg_be *be, const PGresult *r)
{
	return PQresultStatus(r) == PGRES_FATAL_ERROR && !be->in_txn &&
	       PQstatus(be->conn) == CONNECTION_BAD;
}

static int
pg_exec(struct store_be *b, enum store_stmt s, const char *const *params,
    struct store_res *res, uint64_t *changes, struct am_err *err)
{
	struct pg_be *be = (struct pg_be *)b;
	const char   *sql =
            store_stmts[s].pg ? store_stmts[s].pg : store_stmts[s].sql;
	int            n = store_stmts[s].nparams, i, j, nrows, ncols, attempt;
	char           name[16];
	PGresult      *r = NULL;
	ExecStatusType t;

	snprintf(name, sizeof(name), "am_%d", (int)s);
	for (attempt = 0; attempt < 2; attempt++) {
		PQclear(r);
		r = NULL;
		if (pg_ready(be, err) < 0)
			return -1;
		if (!be->prepared[s]) {
			r = PQprepare(be->conn, name, sql, n, NULL);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				if (attempt == 0 && pg_retry(be, r))
					continue;
				pg_err(be, r, "prepare", err);
				PQclear(r);
				return -1;
			}
			PQclear(r);
			be->prepared[s] = true;
		}
		r = PQexecPrepared(be->conn, name, n, params, NULL, NULL, 0);
		t = PQresultStatus(r);
		if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK)
			break;
		if (attempt == 0 && pg_retry(be, r))
			continue;
		pg_err(be, r, "exec", err);
		PQclear(r);
		return -1;
	}
	if (res != NULL) {
		nrows = PQntuples(r);
		ncols = PQnfields(r);
		res->ncols = (size_t)ncols;
		for (i = 0; i < nrows; i++)
			for (j = 0; j < ncols; j++)
				if (store_res_add(res,
					PQgetisnull(r, i, j)
					    ? NULL
					    : PQgetvalue(r, i, j),
					(size_t)PQgetlength(r, i, j)) < 0) {
					PQclear(r);
					return am_err_set(
					    err, "store: result too large");
				}
	}
	if (changes != NULL)
		*changes = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

/* Runs sql; want is the command tag it must answer (NULL: any). */
static int
pg_simple(
    struct pg_be *be, const char *sql, const char *want, struct am_err *err)
{
	PGresult      *r = NULL;
	ExecStatusType t;
	int            attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		PQclear(r);
		if (pg_ready(be, err) < 0)
			return -1;
		r = PQexec(be->conn, sql);
		t = PQresultStatus(r);
		if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK)
			break;
		if (attempt == 0 && pg_retry(be, r))
			continue;
		pg_err(be, r, sql, err);
		PQclear(r);
		return -1;
	}
	/* COMMIT of a failed transaction answers ROLLBACK, with success. */
	if (want != NULL && strcmp(PQcmdStatus(r), want) != 0) {
		am_err_set(err, "store: postgresql: %s answered %s", sql,
		    PQcmdStatus(r));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

static int
pg_exec_sql(struct store_be *b, const char *sql, struct am_err *err)
{
	return pg_simple((struct pg_be *)b, sql, NULL, err);
}

static int
pg_begin(struct store_be *b, struct am_err *err)
{
	struct pg_be *be = (struct pg_be *)b;

	if (pg_simple(be, "BEGIN", "BEGIN", err) < 0)
		return -1;
	be->in_txn = true;
	return 0;
}

static void
pg_rollback(struct store_be *b)
{
	struct pg_be *be = (struct pg_be *)b;

	if (PQstatus(be->conn) == CONNECTION_OK)
		PQclear(PQexec(be->conn, "ROLLBACK"));
	be->in_txn = false;
}

static int
pg_commit(struct store_be *b, struct am_err *err)
{
	struct pg_be *be = (struct pg_be *)b;
	int           rc = pg_simple(be, "COMMIT", "COMMIT", err);

	if (rc < 0)
		pg_rollback(b);
	be->in_txn = false;
	return rc;
}

static int
pg_lock_schema(struct store_be *b, struct am_err *err)
{
	return pg_simple((struct pg_be *)b,
	    "SELECT pg_advisory_xact_lock(" STORE_PG_LOCK_KEY ")", NULL, err);
}

static void
pg_close(struct store_be *b)
{
	struct pg_be *be = (struct pg_be *)b;

	if (be == NULL)
		return;
	PQfinish(be->conn);
	free(be);
}

static const struct store_be_ops pg_ops = {
    .exec = pg_exec,
    .exec_sql = pg_exec_sql,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_schema = pg_lock_schema,
    .close = pg_close,
};

struct store_be *
store_pg_open(const char *conninfo, struct am_err *err)
{
	/* With expand_dbname the URI is expanded in place of dbname, and
	 * what it sets overrides the defaults before it. */
	static const char *const keys[] = {
	    "connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *vals[] = {
	    STORE_PG_CONNECT_TIMEOUT, "authmilter", conninfo, NULL};
	struct pg_be *be;

	if ((be = calloc(1, sizeof(*be))) == NULL) {
		am_err_set(err, "store: out of memory");
		return NULL;
	}
	be->base.ops = &pg_ops;
	be->conn = PQconnectdbParams(keys, vals, 1);
	if (be->conn == NULL) {
		free(be);
		am_err_set(err, "store: out of memory");
		return NULL;
	}
	PQsetNoticeProcessor(be->conn, no_notice, NULL);
	if (PQstatus(be->conn) != CONNECTION_OK) {
		pg_err(be, NULL, "connect", err);
		pg_close(&be->base);
		return NULL;
	}
	if (session_setup(be, err) < 0) {
		pg_close(&be->base);
		return NULL;
	}
	return &be->base;
}
