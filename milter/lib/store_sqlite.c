/*
 * store_sqlite: the embedded back end. One file in WAL mode (readers do
 * not block the writer), synchronous=NORMAL (a power cut may lose the
 * last transactions, never corrupt the file), and a short busy timeout:
 * the daemon's writer must not hang on a lock held by authmilter-report,
 * so a store locked for longer than STORE_SQLITE_BUSY_MS is an error the
 * caller counts and retries.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_int.h"

#define STORE_SQLITE_BUSY_MS 200

struct sqlite_be {
	struct store_be base;
	sqlite3        *db;
	sqlite3_stmt   *st[STORE_STMT_N];
	/* SQLite numbers "$N" parameters in order of first appearance: the
	 * index of $1..$n in each statement, looked up once. */
	int           idx[STORE_STMT_N][STORE_PARAMS_MAX];
	sqlite3_stmt *begin, *commit, *rollback;
};

static int
db_err(struct sqlite_be *be, int rc, const char *what, struct am_err *err)
{
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return am_err_set(err,
		    "store: sqlite: %s: database is locked (waited %d ms)",
		    what, STORE_SQLITE_BUSY_MS);
	return am_err_set(
	    err, "store: sqlite: %s: %s", what, sqlite3_errmsg(be->db));
}

static int
prepare(struct sqlite_be *be, const char *sql, sqlite3_stmt **st,
    struct am_err *err)
{
	int rc;

	if (*st != NULL)
		return 0;
	rc = sqlite3_prepare_v3(
	    be->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return db_err(be, rc, "prepare", err);
	}
	return 0;
}

/* Steps st to the end, copying rows to res (NULL: dropped). */
static int
run(struct sqlite_be *be, sqlite3_stmt *st, struct store_res *res,
    struct am_err *err)
{
	int    rc, i, ncols = sqlite3_column_count(st);
	size_t guard;

	if (res != NULL)
		res->ncols = (size_t)ncols;
	/* Bounded: a result larger than STORE_RES_MAX fails in
	 * store_res_add() long before the guard. */
	for (guard = 0; guard < SIZE_MAX; guard++) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			db_err(be, rc, "step", err);
			sqlite3_reset(st);
			return -1;
		}
		for (i = 0; res != NULL && i < ncols; i++) {
			const char *p = NULL;
			size_t      n = 0;

			if (sqlite3_column_type(st, i) != SQLITE_NULL) {
				p = (const char *)sqlite3_column_text(st, i);
				n = (size_t)sqlite3_column_bytes(st, i);
				if (p == NULL) {
					sqlite3_reset(st);
					return am_err_set(
					    err, "store: out of memory");
				}
			}
			if (store_res_add(res, p, n) < 0) {
				sqlite3_reset(st);
				return am_err_set(
				    err, "store: result too large");
			}
		}
	}
	sqlite3_reset(st);
	return 0;
}

static int
sq_exec(struct store_be *b, enum store_stmt s, const char *const *params,
    struct store_res *res, uint64_t *changes, struct am_err *err)
{
	struct sqlite_be *be = (struct sqlite_be *)b;
	sqlite3_stmt     *st;
	char              name[16];
	int               i, n = store_stmts[s].nparams, rc;

	if (be->st[s] == NULL) {
		if (prepare(be, store_stmts[s].sql, &be->st[s], err) < 0)
			return -1;
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "$%d", i + 1);
			be->idx[s][i] =
			    sqlite3_bind_parameter_index(be->st[s], name);
		}
	}
	st = be->st[s];
	for (i = 0; i < n; i++) {
		if (be->idx[s][i] == 0)
			continue;
		rc = sqlite3_bind_text(
		    st, be->idx[s][i], params[i], -1, SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			sqlite3_clear_bindings(st);
			return db_err(be, rc, "bind", err);
		}
	}
	rc = run(be, st, res, err);
	sqlite3_clear_bindings(st);
	if (rc < 0)
		return -1;
	if (changes != NULL)
		*changes = (uint64_t)sqlite3_changes64(be->db);
	return 0;
}

static int
sq_exec_sql(struct store_be *b, const char *sql, struct am_err *err)
{
	struct sqlite_be *be = (struct sqlite_be *)b;
	int               rc = sqlite3_exec(be->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_err(be, rc, "exec", err);
}

static int
sq_begin(struct store_be *b, struct am_err *err)
{
	struct sqlite_be *be = (struct sqlite_be *)b;

	if (prepare(be, "BEGIN IMMEDIATE", &be->begin, err) < 0)
		return -1;
	return run(be, be->begin, NULL, err);
}

static void
sq_rollback(struct store_be *b)
{
	struct sqlite_be *be = (struct sqlite_be *)b;

	if (sqlite3_get_autocommit(be->db))
		return;
	if (prepare(be, "ROLLBACK", &be->rollback, NULL) < 0 ||
	    run(be, be->rollback, NULL, NULL) < 0)
		/* Out of memory: sqlite3_exec still rolls back or the
		 * transaction ends with the connection. */
		sqlite3_exec(be->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
sq_commit(struct store_be *b, struct am_err *err)
{
	struct sqlite_be *be = (struct sqlite_be *)b;

	if (prepare(be, "COMMIT", &be->commit, err) < 0 ||
	    run(be, be->commit, NULL, err) < 0) {
		sq_rollback(b);
		return -1;
	}
	return 0;
}

static int
sq_lock_schema(struct store_be *b, struct am_err *err)
{
	(void)b;
	(void)err;
	return 0;
}

static void
sq_close(struct store_be *b)
{
	struct sqlite_be *be = (struct sqlite_be *)b;
	size_t            i;

	if (be == NULL)
		return;
	for (i = 0; i < STORE_STMT_N; i++)
		sqlite3_finalize(be->st[i]);
	sqlite3_finalize(be->begin);
	sqlite3_finalize(be->commit);
	sqlite3_finalize(be->rollback);
	sqlite3_close_v2(be->db);
	free(be);
}

static const struct store_be_ops sqlite_ops = {
    .exec = sq_exec,
    .exec_sql = sq_exec_sql,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .lock_schema = sq_lock_schema,
    .close = sq_close,
};

/* Checks that journal_mode=WAL took: it returns the mode in force. */
static int
wal_cb(void *arg, int ncols, char **vals, char **names)
{
	(void)names;
	if (ncols >= 1 && vals[0] != NULL && strcmp(vals[0], "wal") == 0)
		*(int *)arg = 1;
	return 0;
}

struct store_be *
store_sqlite_open(const char *path, struct am_err *err)
{
	struct sqlite_be *be;
	int               fd, rc, wal = 0;

	/* Created here with mode 0640 (less whatever the umask takes), not
	 * by SQLite, which would use 0644; its -wal and -shm files copy the
	 * database file's mode. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		am_err_set(err, "store: sqlite: cannot open %.200s: %s", path,
		    strerror(errno));
		return NULL;
	}
	close(fd);
	if ((be = calloc(1, sizeof(*be))) == NULL) {
		am_err_set(err, "store: out of memory");
		return NULL;
	}
	be->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(
	    path, &be->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		am_err_set(err, "store: sqlite: cannot open %.200s: %s", path,
		    be->db ? sqlite3_errmsg(be->db) : sqlite3_errstr(rc));
		sq_close(&be->base);
		return NULL;
	}
	sqlite3_extended_result_codes(be->db, 0);
	sqlite3_busy_timeout(be->db, STORE_SQLITE_BUSY_MS);
	rc =
	    sqlite3_exec(be->db, "PRAGMA journal_mode=WAL", wal_cb, &wal, NULL);
	if (rc != SQLITE_OK || !wal) {
		if (rc != SQLITE_OK)
			db_err(be, rc, "journal_mode=WAL", err);
		else
			am_err_set(err,
			    "store: sqlite: %.200s: WAL mode "
			    "refused",
			    path);
		sq_close(&be->base);
		return NULL;
	}
	rc =
	    sqlite3_exec(be->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		db_err(be, rc, "synchronous=NORMAL", err);
		sq_close(&be->base);
		return NULL;
	}
	return &be->base;
}
