/*
 * store: the aggregate-report store over a small back-end interface
 * (store_int.h). This file holds what both back ends share: the spec,
 * the schema and its migrations, the SQL, the row <-> text mapping, the
 * row key and the DKIM column codec. See store.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "str.h"
#include "store.h"
#include "store_int.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct store_rx_txn;

struct store {
	struct store_be     *be;
	EVP_MD_CTX          *md; /* for row keys, reused */
	struct store_rx_txn *rx; /* a received report being added */
};

/* ---- results ---- */

void
store_res_init(struct store_res *res)
{
	memset(res, 0, sizeof(*res));
	buf_init(&res->text, STORE_RES_MAX);
}

void
store_res_free(struct store_res *res)
{
	buf_free(&res->text);
	free(res->off);
	res->off = NULL;
	res->cap = 0;
	res->nrows = 0;
}

int
store_res_add(struct store_res *res, const char *p, size_t n)
{
	size_t  used = res->nrows * res->ncols, ncap, *noff;
	size_t *cell;

	if (res->ncols == 0)
		return -1;
	/* The row being filled is the one past nrows: count its cells. */
	used += res->fill;
	if (used == res->cap) {
		ncap = res->cap == 0 ? 64 : res->cap * 2;
		if (ncap < res->cap || ncap > SIZE_MAX / sizeof(*noff) ||
		    ncap * sizeof(*noff) > STORE_RES_MAX)
			return -1;
		noff = realloc(res->off, ncap * sizeof(*noff));
		if (noff == NULL)
			return -1;
		res->off = noff;
		res->cap = ncap;
	}
	cell = &res->off[used];
	if (p == NULL) {
		*cell = SIZE_MAX;
	} else {
		*cell = res->text.len;
		if (buf_append(&res->text, p, n) < 0 ||
		    buf_append_char(&res->text, '\0') < 0)
			return -1;
	}
	if (++res->fill == res->ncols) {
		res->fill = 0;
		res->nrows++;
	}
	return 0;
}

const char *
store_res_get(const struct store_res *res, size_t row, size_t col)
{
	size_t o;

	if (row >= res->nrows || col >= res->ncols)
		return NULL;
	o = res->off[row * res->ncols + col];
	return o == SIZE_MAX ? NULL : res->text.data + o;
}

/* ---- the DKIM column ---- */

static bool
dkim_plain(unsigned char c)
{
	return str_isalnum(c) || c == '.' || c == '_' || c == '-';
}

/* Appends s (at most max bytes of it, up to a NUL) escaped; -1 when dst
 * is full. */
static int
dkim_put(char *dst, size_t dstsize, size_t *len, const char *s, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t            i;
	unsigned char     c;

	for (i = 0; i < max && s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		if (dkim_plain(c)) {
			if (dstsize - *len < 2)
				return -1;
			dst[(*len)++] = (char)c;
		} else {
			if (dstsize - *len < 4)
				return -1;
			dst[(*len)++] = '%';
			dst[(*len)++] = hex[c >> 4];
			dst[(*len)++] = hex[c & 15];
		}
	}
	return 0;
}

int
store_dkim_encode(
    const struct report_dkim *d, size_t n, char *dst, size_t dstsize)
{
	size_t      len = 0, i, rl;
	const char *r;

	if (dstsize == 0)
		return -1;
	dst[0] = '\0';
	if (n > REPORT_MAX_DKIM)
		n = REPORT_MAX_DKIM;
	for (i = 0; i < n; i++) {
		if (i > 0) {
			if (dstsize - len < 2)
				return -1;
			dst[len++] = ';';
		}
		if (dkim_put(dst, dstsize, &len, d[i].domain,
			sizeof(d[i].domain)) < 0 ||
		    dstsize - len < 2)
			return -1;
		dst[len++] = ' ';
		if (dkim_put(dst, dstsize, &len, d[i].selector,
			sizeof(d[i].selector)) < 0 ||
		    dstsize - len < 2)
			return -1;
		dst[len++] = ' ';
		r = report_auth_str(d[i].result);
		rl = strlen(r);
		if (dstsize - len < rl + 1)
			return -1;
		memcpy(dst + len, r, rl);
		len += rl;
	}
	dst[len] = '\0';
	return (int)len;
}

/* Decodes one escaped field [p, end) into dst (size dstsize). */
static int
dkim_field(const char *p, const char *end, char *dst, size_t dstsize,
    const char *what, struct am_err *err)
{
	size_t        len = 0;
	int           hi, lo;
	unsigned char c;

	dst[0] = '\0';
	while (p < end) {
		c = (unsigned char)*p;
		if (c == '%') {
			if (end - p < 3)
				return am_err_set(
				    err, "store: dkim %s: short escape", what);
			hi = str_hexval((unsigned char)p[1]);
			lo = str_hexval((unsigned char)p[2]);
			if (hi < 0 || lo < 0)
				return am_err_set(
				    err, "store: dkim %s: bad escape", what);
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0')
				return am_err_set(
				    err, "store: dkim %s: escaped NUL", what);
			p += 3;
		} else if (dkim_plain(c)) {
			p++;
		} else {
			return am_err_set(
			    err, "store: dkim %s: byte 0x%02x", what, c);
		}
		if (len + 1 >= dstsize) {
			dst[0] = '\0';
			return am_err_set(err, "store: dkim %s too long", what);
		}
		/* Terminated after every byte: an error further on leaves a
		 * string, never unterminated bytes. */
		dst[len++] = (char)c;
		dst[len] = '\0';
	}
	return 0;
}

int
store_dkim_decode(const char *p, size_t len, struct report_dkim *out,
    size_t *n_r, struct am_err *err)
{
	const char *end = p + len, *e, *s1, *s2;
	char        res[16];
	size_t      n = 0, i;
	int         r;

	*n_r = 0;
	for (i = 0; i < REPORT_MAX_DKIM; i++) {
		out[i].domain[0] = '\0';
		out[i].selector[0] = '\0';
		out[i].result = REPORT_AUTH_NONE;
	}
	if (len == 0)
		return 0;
	while (p <= end) {
		e = memchr(p, ';', (size_t)(end - p));
		if (e == NULL)
			e = end;
		if (n == REPORT_MAX_DKIM)
			return am_err_set(err, "store: dkim: too many results");
		s1 = memchr(p, ' ', (size_t)(e - p));
		s2 = s1 == NULL ? NULL
				: memchr(s1 + 1, ' ', (size_t)(e - s1 - 1));
		if (s2 == NULL || memchr(s2 + 1, ' ', (size_t)(e - s2 - 1)))
			return am_err_set(err, "store: dkim: not three fields");
		if (dkim_field(p, s1, out[n].domain, sizeof(out[n].domain),
			"domain", err) < 0 ||
		    dkim_field(s1 + 1, s2, out[n].selector,
			sizeof(out[n].selector), "selector", err) < 0)
			return -1;
		/* A NUL would end the name early and let "pass\0x" pass. */
		if ((size_t)(e - s2 - 1) >= sizeof(res) ||
		    memchr(s2 + 1, '\0', (size_t)(e - s2 - 1)) != NULL)
			return am_err_set(err, "store: dkim: bad result");
		memcpy(res, s2 + 1, (size_t)(e - s2 - 1));
		res[e - s2 - 1] = '\0';
		if ((r = report_auth_parse(res)) < 0)
			return am_err_set(err, "store: dkim: bad result");
		out[n].result = (enum report_auth)r;
		n++;
		if (e == end)
			break;
		p = e + 1;
	}
	*n_r = n;
	return 0;
}

/* ---- the SQL ---- */

#define PERIOD_COLS                                                            \
	"p.day, p.domain, p.p, p.sp, p.np, p.adkim, p.aspf, p.testing, "       \
	"p.psd, p.fo, p.rua, p.report_id, p.sent_at, p.sent_to, "              \
	"(SELECT COALESCE(SUM(r.count), 0) FROM report_rows r "                \
	"WHERE r.day = p.day AND r.domain = p.domain), "                       \
	"(SELECT COUNT(*) FROM report_rows r "                                 \
	"WHERE r.day = p.day AND r.domain = p.domain)"
#define PERIODS_WHERE                                                          \
	" FROM periods p WHERE (CAST($1 AS BIGINT) = 0 OR "                    \
	"p.day < CAST($1 AS BIGINT)) AND (CAST($2 AS INTEGER) = 0 OR "         \
	"p.sent_at IS NULL)"
#define ROWS_SELECT                                                            \
	"SELECT r.source_ip, r.header_from, r.envelope_from, r.envelope_to, "  \
	"r.disposition, r.dkim_aligned, r.spf_aligned, r.reasons, r.dkim, "    \
	"r.spf_domain, r.spf_result, r.has_spf, r.count, p.p, p.sp, p.np, "    \
	"p.adkim, p.aspf, p.testing, p.psd, p.fo, p.rua FROM report_rows r "   \
	"JOIN periods p ON p.day = r.day AND p.domain = r.domain "             \
	"WHERE r.day = CAST($1 AS BIGINT) AND r.domain = $2"
#define KEY_WHERE " WHERE day = CAST($1 AS BIGINT) AND domain = $2"
#define RX_COLS                                                                \
	"org, report_id, email, period_begin, period_end, domain, p, sp, np, " \
	"adkim, aspf, testing, psd, fo, rua, received"
#define RX_ROW_COLS                                                            \
	"source_ip, header_from, envelope_from, envelope_to, disposition, "    \
	"dkim_aligned, spf_aligned, reasons, dkim, spf_domain, spf_result, "   \
	"has_spf, count"
#define RX_REPORTS_SELECT                                                      \
	"SELECT " RX_COLS " FROM rx_reports WHERE domain = $1 AND "            \
	"period_end >= CAST($2 AS BIGINT) ORDER BY period_begin, "

/* PostgreSQL sorts text by the database's collation; "C" gives the
 * byte order SQLite's BINARY gives, whatever the cluster's locale. */
const struct store_stmt_def store_stmts[STORE_STMT_N] = {
    [STORE_STMT_VERSION_GET] = {"SELECT value FROM meta WHERE key = "
				"'schema_version'",
	NULL, 0},
    [STORE_STMT_VERSION_SET] = {"INSERT INTO meta (key, value) VALUES "
				"('schema_version', $1) ON CONFLICT (key) "
				"DO UPDATE SET value = excluded.value",
	NULL, 1},
    [STORE_STMT_PERIOD_UPSERT] = {"INSERT INTO periods (day, domain, p, sp, "
				  "np, adkim, aspf, testing, psd, fo, rua) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
				  "$9, $10, $11) ON CONFLICT (day, domain) "
				  "DO UPDATE SET p = excluded.p, sp = "
				  "excluded.sp, np = excluded.np, adkim = "
				  "excluded.adkim, aspf = excluded.aspf, "
				  "testing = excluded.testing, psd = "
				  "excluded.psd, fo = excluded.fo, rua = "
				  "excluded.rua",
	NULL, 11},
    [STORE_STMT_ROW_UPSERT] = {"INSERT INTO report_rows (day, domain, "
			       "rowkey, source_ip, header_from, "
			       "envelope_from, envelope_to, disposition, "
			       "dkim_aligned, spf_aligned, reasons, dkim, "
			       "spf_domain, spf_result, has_spf, count) "
			       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
			       "$10, $11, $12, $13, $14, $15, $16) ON "
			       "CONFLICT (day, domain, rowkey) DO UPDATE SET "
			       "count = report_rows.count + excluded.count",
	NULL, 16},
    [STORE_STMT_PERIODS] = {"SELECT " PERIOD_COLS PERIODS_WHERE
			    " ORDER BY p.day, p.domain",
	"SELECT " PERIOD_COLS PERIODS_WHERE
	" ORDER BY p.day, p.domain COLLATE \"C\"",
	2},
    [STORE_STMT_ROWS] = {ROWS_SELECT " ORDER BY r.count DESC, r.rowkey",
	ROWS_SELECT " ORDER BY r.count DESC, r.rowkey COLLATE \"C\"", 2},
    [STORE_STMT_ID_SET] = {"UPDATE periods SET report_id = $3" KEY_WHERE
			   " AND report_id IS NULL",
	NULL, 3},
    [STORE_STMT_ID_GET] = {"SELECT report_id FROM periods" KEY_WHERE, NULL, 2},
    [STORE_STMT_MARK_SENT] = {"UPDATE periods SET sent_at = CAST($3 AS "
			      "BIGINT), sent_to = $4" KEY_WHERE
			      " AND sent_at IS NULL",
	NULL, 4},
    [STORE_STMT_PERIOD_STATE] = {"SELECT sent_at FROM periods" KEY_WHERE, NULL,
	2},
    [STORE_STMT_EXPIRE_ROWS] = {"DELETE FROM report_rows WHERE day < "
				"CAST($1 AS BIGINT)",
	NULL, 1},
    [STORE_STMT_EXPIRE_PERIODS] = {"DELETE FROM periods WHERE day < CAST($1 "
				   "AS BIGINT)",
	NULL, 1},
    [STORE_STMT_RX_INSERT] = {"INSERT INTO rx_reports (" RX_COLS
			      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
			      "$10, $11, $12, $13, $14, $15, $16) ON "
			      "CONFLICT (org, report_id) DO NOTHING",
	NULL, 16},
    [STORE_STMT_RX_ROW_INSERT] =
	{"INSERT INTO rx_rows (org, report_id, seq, " RX_ROW_COLS
	 ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
	 "$9, $10, $11, $12, $13, $14, $15, $16)",
	    NULL, 16},
    [STORE_STMT_RX_REPORTS] = {RX_REPORTS_SELECT "org, report_id",
	RX_REPORTS_SELECT "org COLLATE \"C\", report_id COLLATE \"C\"", 2},
    [STORE_STMT_RX_ROWS] = {"SELECT " RX_ROW_COLS " FROM rx_rows WHERE org = "
			    "$1 AND report_id = $2 ORDER BY seq",
	NULL, 2},
};

/* ---- the schema ---- */

/* Version 1. Integers that can pass 2^31 (days, times, counts) are
 * BIGINT; SQLite gives both INTEGER affinity. */
static const char *const schema_0_1[] = {
    "CREATE TABLE periods (day BIGINT NOT NULL, domain TEXT NOT NULL, "
    "p INTEGER NOT NULL, sp INTEGER NOT NULL, np INTEGER NOT NULL, "
    "adkim INTEGER NOT NULL, aspf INTEGER NOT NULL, testing INTEGER NOT "
    "NULL, psd INTEGER NOT NULL, fo TEXT NOT NULL, rua TEXT NOT NULL, "
    "report_id TEXT, sent_at BIGINT, sent_to TEXT, "
    "PRIMARY KEY (day, domain))",
    "CREATE TABLE report_rows (day BIGINT NOT NULL, domain TEXT NOT NULL, "
    "rowkey TEXT NOT NULL, source_ip TEXT NOT NULL, header_from TEXT NOT "
    "NULL, envelope_from TEXT NOT NULL, envelope_to TEXT NOT NULL, "
    "disposition INTEGER NOT NULL, dkim_aligned INTEGER NOT NULL, "
    "spf_aligned INTEGER NOT NULL, reasons INTEGER NOT NULL, dkim TEXT NOT "
    "NULL, spf_domain TEXT NOT NULL, spf_result INTEGER NOT NULL, has_spf "
    "INTEGER NOT NULL, count BIGINT NOT NULL, "
    "PRIMARY KEY (day, domain, rowkey))",
    NULL};

/* Version 2: received reports (authmilter-report ingest). A report's
 * records carry its key (org, report_id) and their position in it. */
static const char *const schema_1_2[] = {
    "CREATE TABLE rx_reports (org TEXT NOT NULL, report_id TEXT NOT NULL, "
    "email TEXT NOT NULL, period_begin BIGINT NOT NULL, period_end BIGINT "
    "NOT NULL, domain TEXT NOT NULL, p INTEGER NOT NULL, sp INTEGER NOT "
    "NULL, np INTEGER NOT NULL, adkim INTEGER NOT NULL, aspf INTEGER NOT "
    "NULL, testing INTEGER NOT NULL, psd INTEGER NOT NULL, fo TEXT NOT "
    "NULL, rua TEXT NOT NULL, received BIGINT NOT NULL, "
    "PRIMARY KEY (org, report_id))",
    "CREATE INDEX rx_reports_domain ON rx_reports (domain, period_end)",
    "CREATE TABLE rx_rows (org TEXT NOT NULL, report_id TEXT NOT NULL, "
    "seq BIGINT NOT NULL, source_ip TEXT NOT NULL, header_from TEXT NOT "
    "NULL, envelope_from TEXT NOT NULL, envelope_to TEXT NOT NULL, "
    "disposition INTEGER NOT NULL, dkim_aligned INTEGER NOT NULL, "
    "spf_aligned INTEGER NOT NULL, reasons INTEGER NOT NULL, dkim TEXT NOT "
    "NULL, spf_domain TEXT NOT NULL, spf_result INTEGER NOT NULL, has_spf "
    "INTEGER NOT NULL, count BIGINT NOT NULL, "
    "PRIMARY KEY (org, report_id, seq))",
    NULL};

const struct store_migration store_migrations[STORE_SCHEMA] = {
    {schema_0_1},
    {schema_1_2},
};

#define META_SQL                                                               \
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "              \
	"value TEXT NOT NULL)"

static int
parse_i64(const char *s, int64_t *v)
{
	char     *end;
	long long x;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

static int
version_get(struct store *st, int64_t *v, struct am_err *err)
{
	struct store_res res;
	int              rc = 0;

	store_res_init(&res);
	if (st->be->ops->exec(
		st->be, STORE_STMT_VERSION_GET, NULL, &res, NULL, err) < 0)
		rc = -1;
	else if (res.nrows == 0)
		*v = 0;
	else if (parse_i64(store_res_get(&res, 0, 0), v) < 0 || *v < 0)
		rc = am_err_set(err, "store: bad schema_version in the store");
	store_res_free(&res);
	return rc;
}

/* Brings the store to version nsteps in one transaction. */
static int
migrate(struct store *st, const struct store_migration *steps, size_t nsteps,
    struct am_err *err)
{
	const struct store_be_ops *ops = st->be->ops;
	int64_t                    v;
	size_t                     k, i;
	char                       num[24];
	const char                *p[1] = {num};
	struct am_err              e;

	if (ops->begin(st->be, err) < 0)
		return -1;
	if (ops->lock_schema(st->be, err) < 0 ||
	    ops->exec_sql(st->be, META_SQL, err) < 0 ||
	    version_get(st, &v, err) < 0)
		goto fail;
	if ((uint64_t)v > nsteps) {
		am_err_set(err,
		    "reports.store: schema version %" PRId64
		    " is newer than this build's %zu: refusing to use it",
		    v, nsteps);
		goto fail;
	}
	for (k = (size_t)v; k < nsteps; k++)
		for (i = 0; steps[k].sql[i] != NULL; i++)
			if (ops->exec_sql(st->be, steps[k].sql[i], &e) < 0) {
				am_err_set(err,
				    "store: migration to schema version %zu: "
				    "%s",
				    k + 1, e.msg);
				goto fail;
			}
	if ((uint64_t)v != nsteps) {
		snprintf(num, sizeof(num), "%zu", nsteps);
		if (ops->exec(
			st->be, STORE_STMT_VERSION_SET, p, NULL, NULL, err) < 0)
			goto fail;
	}
	return ops->commit(st->be, err);
fail:
	ops->rollback(st->be);
	return -1;
}

/* ---- open and close ---- */

static const char *
spec_pg(const char *spec)
{
	if (strncmp(spec, "postgresql://", 13) == 0 ||
	    strncmp(spec, "postgres://", 11) == 0)
		return spec;
	return NULL;
}

static const char *
spec_sqlite(const char *spec)
{
	if (strncmp(spec, "sqlite:", 7) == 0)
		return spec + 7;
	return NULL;
}

/* store_spec_valid() is in report.c: the config check links it without
 * the back ends' libraries. */

struct store *
store_open_steps(const char *spec, const struct store_migration *steps,
    size_t nsteps, struct am_err *err)
{
	struct store *st;
	const char   *path;
	size_t        n;

	if (spec == NULL) {
		am_err_set(err, "reports.store: no store given");
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->md = EVP_MD_CTX_new()) == NULL) {
		free(st);
		am_err_set(err, "store: out of memory");
		return NULL;
	}
	if (spec_pg(spec) != NULL) {
		st->be = store_pg_open(spec, err);
	} else if ((path = spec_sqlite(spec)) != NULL) {
		if (path[0] != '/' || path[1] == '\0')
			am_err_set(err,
			    "reports.store: sqlite: needs an absolute path, "
			    "not \"%.200s\"",
			    path);
		else
			st->be = store_sqlite_open(path, err);
	} else {
		/* Only the scheme: the rest may hold a password. */
		n = strcspn(spec, ":");
		am_err_set(err,
		    "reports.store: unknown back end \"%.*s\" (want "
		    "sqlite:/path or postgresql://...)",
		    (int)(n > 32 ? 32 : n), spec);
	}
	if (st->be == NULL || migrate(st, steps, nsteps, err) < 0) {
		store_close(st);
		return NULL;
	}
	return st;
}

struct store *
store_open(const char *spec, struct am_err *err)
{
	return store_open_steps(spec, store_migrations, STORE_SCHEMA, err);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_rx_abort(st);
	if (st->be != NULL)
		st->be->ops->close(st->be);
	EVP_MD_CTX_free(st->md);
	free(st);
}

int
store_schema_version(struct store *st, int64_t *version_r, struct am_err *err)
{
	return version_get(st, version_r, err);
}

int
store_exec_sql(struct store *st, const char *sql, struct am_err *err)
{
	return st->be->ops->exec_sql(st->be, sql, err);
}

/* ---- rows as text ---- */

/* Copies the string in src (an array of srcsize bytes, read up to a NUL)
 * for a text column: bytes outside printable ASCII become '?', so that a
 * stray byte can neither break a PostgreSQL UTF-8 database nor split one
 * row into two. dst has srcsize bytes. */
static void
text_copy(char *dst, const char *src, size_t srcsize)
{
	size_t        i;
	unsigned char c;

	for (i = 0; i + 1 < srcsize && src[i] != '\0'; i++) {
		c = (unsigned char)src[i];
		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = '\0';
}

static unsigned
clamp(unsigned v, unsigned max)
{
	return v <= max ? v : 0;
}

/* The row upsert's parameters, in the order of its SQL. */
enum {
	RP_DAY,
	RP_DOMAIN,
	RP_KEY,
	RP_IP,
	RP_HFROM,
	RP_EFROM,
	RP_ETO,
	RP_DIS,
	RP_DKIM_AL,
	RP_SPF_AL,
	RP_REASONS,
	RP_DKIM,
	RP_SPF_DOMAIN,
	RP_SPF_RESULT,
	RP_HAS_SPF,
	RP_COUNT,
	RP_N
};

struct row_text {
	char        day[24], count[24], key[65];
	char        domain[REPORT_NAME_MAX + 1];
	char        ip[REPORT_IP_MAX + 1];
	char        hfrom[REPORT_NAME_MAX + 1], efrom[REPORT_NAME_MAX + 1];
	char        eto[REPORT_NAME_MAX + 1], spf_domain[REPORT_NAME_MAX + 1];
	char        dis[4], dkim_al[2], spf_al[2], reasons[8], spf_result[4];
	char        has_spf[2];
	char        dkim[STORE_DKIM_TEXT_MAX + 1];
	const char *p[RP_N];
};

/* Fills t from r (count and key left out). */
static int
row_fields(const struct report_row *r, struct row_text *t, struct am_err *err)
{
	snprintf(t->day, sizeof(t->day), "%" PRId64, report_day(r->when));
	text_copy(t->domain, r->pol.domain, sizeof(r->pol.domain));
	text_copy(t->ip, r->source_ip, sizeof(r->source_ip));
	text_copy(t->hfrom, r->header_from, sizeof(r->header_from));
	text_copy(t->efrom, r->envelope_from, sizeof(r->envelope_from));
	text_copy(t->eto, r->envelope_to, sizeof(r->envelope_to));
	text_copy(t->spf_domain, r->spf_domain, sizeof(r->spf_domain));
	snprintf(t->dis, sizeof(t->dis), "%u",
	    clamp(r->disposition, REPORT_DIS_REJECT));
	snprintf(t->dkim_al, sizeof(t->dkim_al), "%d", r->dkim_aligned ? 1 : 0);
	snprintf(t->spf_al, sizeof(t->spf_al), "%d", r->spf_aligned ? 1 : 0);
	snprintf(t->reasons, sizeof(t->reasons), "%u",
	    r->reasons & REPORT_REASON_ALL);
	snprintf(t->spf_result, sizeof(t->spf_result), "%u",
	    clamp(r->spf_result, REPORT_AUTH_PERMERROR));
	snprintf(t->has_spf, sizeof(t->has_spf), "%d", r->has_spf ? 1 : 0);
	if (store_dkim_encode(r->dkim, r->ndkim, t->dkim, sizeof(t->dkim)) < 0)
		return am_err_set(err, "store: DKIM results too long");
	t->p[RP_DAY] = t->day;
	t->p[RP_DOMAIN] = t->domain;
	t->p[RP_KEY] = t->key;
	t->p[RP_IP] = t->ip;
	t->p[RP_HFROM] = t->hfrom;
	t->p[RP_EFROM] = t->efrom;
	t->p[RP_ETO] = t->eto;
	t->p[RP_DIS] = t->dis;
	t->p[RP_DKIM_AL] = t->dkim_al;
	t->p[RP_SPF_AL] = t->spf_al;
	t->p[RP_REASONS] = t->reasons;
	t->p[RP_DKIM] = t->dkim;
	t->p[RP_SPF_DOMAIN] = t->spf_domain;
	t->p[RP_SPF_RESULT] = t->spf_result;
	t->p[RP_HAS_SPF] = t->has_spf;
	t->p[RP_COUNT] = t->count;
	return 0;
}

/* row_fields(), and the row key: SHA-256 over "length:text," of each
 * column but day, domain and count, so that no two different rows share a
 * serialization. The published policy is not part of the key: the period
 * keeps it once (store.h). */
static int
row_text(struct store *st, const struct report_row *r, struct row_text *t,
    uint8_t key[32], struct am_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char     md[EVP_MAX_MD_SIZE];
	unsigned int      mdlen = 0;
	char              len[24];
	size_t            i;
	int               n;

	if (row_fields(r, t, err) < 0)
		return -1;
	if (t->domain[0] == '\0')
		return am_err_set(err, "store: a row without a policy domain");
	if (EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1)
		return am_err_set(err, "store: SHA-256 unavailable");
	for (i = RP_IP; i < RP_COUNT; i++) {
		n = snprintf(len, sizeof(len), "%zu:", strlen(t->p[i]));
		if (EVP_DigestUpdate(st->md, len, (size_t)n) != 1 ||
		    EVP_DigestUpdate(st->md, t->p[i], strlen(t->p[i])) != 1 ||
		    EVP_DigestUpdate(st->md, ",", 1) != 1)
			return am_err_set(err, "store: SHA-256 failed");
	}
	if (EVP_DigestFinal_ex(st->md, md, &mdlen) != 1 || mdlen != 32)
		return am_err_set(err, "store: SHA-256 failed");
	for (i = 0; i < 32; i++) {
		key[i] = md[i];
		t->key[2 * i] = hex[md[i] >> 4];
		t->key[2 * i + 1] = hex[md[i] & 15];
	}
	t->key[64] = '\0';
	return 0;
}

struct period_text {
	char        day[24], domain[REPORT_NAME_MAX + 1];
	char        p[4], sp[4], np[4], adkim[2], aspf[2], testing[2], psd[4];
	char        fo[REPORT_FO_MAX + 1], rua[REPORT_RUA_MAX + 1];
	const char *v[11];
};

static void
period_text(const struct report_row *r, struct period_text *t)
{
	const struct report_policy_pub *pol = &r->pol;

	snprintf(t->day, sizeof(t->day), "%" PRId64, report_day(r->when));
	text_copy(t->domain, pol->domain, sizeof(pol->domain));
	snprintf(t->p, sizeof(t->p), "%u", clamp(pol->p, REPORT_POLICY_REJECT));
	snprintf(
	    t->sp, sizeof(t->sp), "%u", clamp(pol->sp, REPORT_POLICY_REJECT));
	snprintf(
	    t->np, sizeof(t->np), "%u", clamp(pol->np, REPORT_POLICY_REJECT));
	snprintf(t->adkim, sizeof(t->adkim), "%d", pol->adkim_strict ? 1 : 0);
	snprintf(t->aspf, sizeof(t->aspf), "%d", pol->aspf_strict ? 1 : 0);
	snprintf(t->testing, sizeof(t->testing), "%d", pol->testing ? 1 : 0);
	snprintf(t->psd, sizeof(t->psd), "%u", clamp(pol->psd, REPORT_PSD_N));
	text_copy(t->fo, pol->fo, sizeof(pol->fo));
	text_copy(t->rua, pol->rua, sizeof(pol->rua));
	t->v[0] = t->day;
	t->v[1] = t->domain;
	t->v[2] = t->p;
	t->v[3] = t->sp;
	t->v[4] = t->np;
	t->v[5] = t->adkim;
	t->v[6] = t->aspf;
	t->v[7] = t->testing;
	t->v[8] = t->psd;
	t->v[9] = t->fo;
	t->v[10] = t->rua;
}

/* ---- adding ---- */

/* One input row in the batch, for merging identical rows before they go
 * to the back end: a batch from a busy source is mostly repeats. */
struct add_ent {
	int64_t  day;
	size_t   idx;   /* the input row */
	uint64_t count; /* its count */
	uint8_t  key[32];
	char     domain[REPORT_NAME_MAX + 1];
};

static int
add_cmp(const void *a, const void *b)
{
	const struct add_ent *x = a, *y = b;
	int                   c;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if ((c = strcmp(x->domain, y->domain)) != 0)
		return c;
	if ((c = memcmp(x->key, y->key, sizeof(x->key))) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool
same_period(const struct add_ent *a, const struct add_ent *b)
{
	return a->day == b->day && strcmp(a->domain, b->domain) == 0;
}

int
store_add(struct store *st, const struct report_row *rows,
    const uint64_t *counts, size_t n, struct am_err *err)
{
	const struct store_be_ops *ops = st->be->ops;
	struct add_ent            *ent = NULL;
	struct row_text           *t = NULL;
	struct period_text         pt;
	size_t                     i, j, k, e, m = 0, last;
	uint64_t                   sum;
	int                        rc = -1;

	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(*ent) ||
	    (ent = malloc(n * sizeof(*ent))) == NULL ||
	    (t = malloc(sizeof(*t))) == NULL) {
		free(ent);
		return am_err_set(err, "store: out of memory");
	}
	for (i = 0; i < n; i++) {
		if (counts != NULL && counts[i] == 0)
			continue;
		if (counts != NULL && counts[i] > INT64_MAX) {
			am_err_set(err, "store: count out of range");
			goto out;
		}
		if (row_text(st, &rows[i], t, ent[m].key, err) < 0)
			goto out;
		ent[m].day = report_day(rows[i].when);
		memcpy(ent[m].domain, t->domain, sizeof(t->domain));
		ent[m].idx = i;
		ent[m].count = counts == NULL ? 1 : counts[i];
		m++;
	}
	qsort(ent, m, sizeof(*ent), add_cmp);

	if (ops->begin(st->be, err) < 0)
		goto out;
	for (i = 0; i < m; i = k) {
		/* One period: [i, k); its policy is its last input row's. */
		last = ent[i].idx;
		for (k = i + 1; k < m && same_period(&ent[i], &ent[k]); k++)
			if (ent[k].idx > last)
				last = ent[k].idx;
		period_text(&rows[last], &pt);
		if (ops->exec(st->be, STORE_STMT_PERIOD_UPSERT, pt.v, NULL,
			NULL, err) < 0)
			goto fail;
		/* One row: [j, e), identical but for `when`. */
		for (j = i; j < k; j = e) {
			sum = 0;
			for (e = j; e < k && memcmp(ent[e].key, ent[j].key,
						 sizeof(ent[j].key)) == 0;
			     e++) {
				if (ent[e].count > INT64_MAX - sum) {
					am_err_set(
					    err, "store: count out of range");
					goto fail;
				}
				sum += ent[e].count;
			}
			if (row_text(
				st, &rows[ent[j].idx], t, ent[j].key, err) < 0)
				goto fail;
			snprintf(t->count, sizeof(t->count), "%" PRIu64, sum);
			if (ops->exec(st->be, STORE_STMT_ROW_UPSERT, t->p, NULL,
				NULL, err) < 0)
				goto fail;
		}
	}
	rc = ops->commit(st->be, err);
	goto out;
fail:
	ops->rollback(st->be);
out:
	free(t);
	free(ent);
	return rc;
}

/* ---- reading ---- */

static int
get_i64(const struct store_res *res, size_t row, size_t col, int64_t *v)
{
	return parse_i64(store_res_get(res, row, col), v);
}

/* An enum or flag column: 0..max. */
static int
get_small(const struct store_res *res, size_t row, size_t col, unsigned max,
    unsigned *v)
{
	int64_t x;

	if (get_i64(res, row, col, &x) < 0 || x < 0 || x > max)
		return -1;
	*v = (unsigned)x;
	return 0;
}

static int
get_str(const struct store_res *res, size_t row, size_t col, char *dst,
    size_t dstsize, bool null_ok)
{
	const char *s = store_res_get(res, row, col);

	if (s == NULL) {
		dst[0] = '\0';
		return null_ok ? 0 : -1;
	}
	return str_lcpy(dst, s, dstsize) < dstsize ? 0 : -1;
}

/* The published policy from columns col.. (p, sp, np, adkim, aspf,
 * testing, psd, fo, rua). */
static int
get_policy(const struct store_res *res, size_t row, size_t col,
    struct report_policy_pub *pol)
{
	unsigned p, sp, np, adkim, aspf, testing, psd;

	if (get_small(res, row, col, REPORT_POLICY_REJECT, &p) < 0 ||
	    get_small(res, row, col + 1, REPORT_POLICY_REJECT, &sp) < 0 ||
	    get_small(res, row, col + 2, REPORT_POLICY_REJECT, &np) < 0 ||
	    get_small(res, row, col + 3, 1, &adkim) < 0 ||
	    get_small(res, row, col + 4, 1, &aspf) < 0 ||
	    get_small(res, row, col + 5, 1, &testing) < 0 ||
	    get_small(res, row, col + 6, REPORT_PSD_N, &psd) < 0 ||
	    get_str(res, row, col + 7, pol->fo, sizeof(pol->fo), false) < 0 ||
	    get_str(res, row, col + 8, pol->rua, sizeof(pol->rua), false) < 0)
		return -1;
	pol->p = (enum report_policy)p;
	pol->sp = (enum report_policy)sp;
	pol->np = (enum report_policy)np;
	pol->adkim_strict = adkim != 0;
	pol->aspf_strict = aspf != 0;
	pol->testing = testing != 0;
	pol->psd = (enum report_psd)psd;
	return 0;
}

static int
check_domain(const char *domain, struct am_err *err)
{
	if (domain == NULL || domain[0] == '\0' ||
	    strlen(domain) > REPORT_NAME_MAX)
		return am_err_set(err, "store: bad period domain");
	return 0;
}

int
store_periods(struct store *st, int64_t before, bool unsent_only,
    int (*fn)(void *arg, const struct store_period *), void *arg,
    struct am_err *err)
{
	struct store_res    res;
	struct store_period per;
	char                b[24];
	const char         *p[2] = {b, unsent_only ? "1" : "0"};
	size_t              i;
	int64_t             v, msgs;
	int                 rc = 0;

	snprintf(b, sizeof(b), "%" PRId64, before);
	store_res_init(&res);
	if (st->be->ops->exec(st->be, STORE_STMT_PERIODS, p, &res, NULL, err) <
	    0) {
		store_res_free(&res);
		return -1;
	}
	for (i = 0; i < res.nrows && rc == 0; i++) {
		memset(&per, 0, sizeof(per));
		if (get_i64(&res, i, 0, &per.day) < 0 ||
		    get_str(&res, i, 1, per.pol.domain, sizeof(per.pol.domain),
			false) < 0 ||
		    get_policy(&res, i, 2, &per.pol) < 0 ||
		    get_str(&res, i, 11, per.report_id, sizeof(per.report_id),
			true) < 0 ||
		    get_str(&res, i, 13, per.sent_to, sizeof(per.sent_to),
			true) < 0 ||
		    get_i64(&res, i, 14, &msgs) < 0 || msgs < 0 ||
		    get_i64(&res, i, 15, &v) < 0 || v < 0) {
			rc = am_err_set(err, "store: malformed period in the "
					     "store");
			break;
		}
		per.messages = (uint64_t)msgs;
		per.rows = (uint64_t)v;
		if (store_res_get(&res, i, 12) != NULL) {
			per.sent = true;
			if (get_i64(&res, i, 12, &per.sent_at) < 0) {
				rc = am_err_set(err, "store: malformed period "
						     "in the store");
				break;
			}
		}
		rc = fn(arg, &per);
	}
	store_res_free(&res);
	return rc;
}

/* The row in columns 0..12 of a listing (source_ip .. has_spf, count),
 * as ROWS_SELECT and RX_ROW_COLS give them; the rest of row untouched. */
static int
get_row(const struct store_res *res, size_t i, struct report_row *row,
    uint64_t *count_r)
{
	const char *dk = store_res_get(res, i, 8);
	unsigned    dis, dal, sal, reasons, spfres, hasspf;
	int64_t     count;

	if (get_str(res, i, 0, row->source_ip, sizeof(row->source_ip), false) <
		0 ||
	    get_str(res, i, 1, row->header_from, sizeof(row->header_from),
		false) < 0 ||
	    get_str(res, i, 2, row->envelope_from, sizeof(row->envelope_from),
		false) < 0 ||
	    get_str(res, i, 3, row->envelope_to, sizeof(row->envelope_to),
		false) < 0 ||
	    get_small(res, i, 4, REPORT_DIS_REJECT, &dis) < 0 ||
	    get_small(res, i, 5, 1, &dal) < 0 ||
	    get_small(res, i, 6, 1, &sal) < 0 ||
	    get_small(res, i, 7, REPORT_REASON_ALL, &reasons) < 0 ||
	    dk == NULL ||
	    store_dkim_decode(dk, strlen(dk), row->dkim, &row->ndkim, NULL) <
		0 ||
	    get_str(res, i, 9, row->spf_domain, sizeof(row->spf_domain),
		false) < 0 ||
	    get_small(res, i, 10, REPORT_AUTH_PERMERROR, &spfres) < 0 ||
	    get_small(res, i, 11, 1, &hasspf) < 0 ||
	    get_i64(res, i, 12, &count) < 0 || count < 0)
		return -1;
	row->disposition = (enum report_disposition)dis;
	row->dkim_aligned = dal != 0;
	row->spf_aligned = sal != 0;
	row->reasons = reasons;
	row->spf_result = (enum report_auth)spfres;
	row->has_spf = hasspf != 0;
	*count_r = (uint64_t)count;
	return 0;
}

int
store_rows(struct store *st, int64_t day, const char *domain,
    int (*fn)(void *arg, const struct report_row *, uint64_t count), void *arg,
    struct am_err *err)
{
	struct store_res   res;
	struct report_row *row;
	char               d[24];
	const char        *p[2] = {d, domain};
	size_t             i;
	uint64_t           count;
	int                rc = 0;

	if (check_domain(domain, err) < 0)
		return -1;
	if ((row = malloc(sizeof(*row))) == NULL)
		return am_err_set(err, "store: out of memory");
	snprintf(d, sizeof(d), "%" PRId64, day);
	store_res_init(&res);
	if (st->be->ops->exec(st->be, STORE_STMT_ROWS, p, &res, NULL, err) <
	    0) {
		store_res_free(&res);
		free(row);
		return -1;
	}
	for (i = 0; i < res.nrows && rc == 0; i++) {
		memset(row, 0, sizeof(*row));
		row->when = day;
		str_lcpy(row->pol.domain, domain, sizeof(row->pol.domain));
		if (get_row(&res, i, row, &count) < 0 ||
		    get_policy(&res, i, 13, &row->pol) < 0) {
			rc = am_err_set(err, "store: malformed row in the "
					     "store");
			break;
		}
		rc = fn(arg, row, count);
	}
	store_res_free(&res);
	free(row);
	return rc;
}

/* ---- report ids, sending, expiry ---- */

/* STORE_ID_LEN characters from [A-Za-z0-9], unbiased: bytes past the
 * largest multiple of 62 are drawn again. */
#define STORE_ID_LEN 24
static int
make_id(char out[STORE_ID_MAX + 1], struct am_err *err)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char     rnd[32];
	size_t            len = 0, i, round;

	/* Each round keeps 31 of 32 bytes on average: 16 rounds cannot run
	 * short but with a broken generator. */
	for (round = 0; round < 16 && len < STORE_ID_LEN; round++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return am_err_set(err, "store: RAND_bytes failed");
		for (i = 0; i < sizeof(rnd) && len < STORE_ID_LEN; i++)
			if (rnd[i] < 248)
				out[len++] = abc[rnd[i] % 62];
	}
	if (len < STORE_ID_LEN)
		return am_err_set(err, "store: no random report id");
	out[len] = '\0';
	return 0;
}

static bool
id_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!str_isalnum((unsigned char)s[i]) || i >= STORE_ID_MAX)
			return false;
	return i > 0;
}

int
store_report_id(struct store *st, int64_t day, const char *domain,
    char out[STORE_ID_MAX + 1], struct am_err *err)
{
	const struct store_be_ops *ops = st->be->ops;
	struct store_res           res;
	char                       d[24], id[STORE_ID_MAX + 1];
	const char                *p[3] = {d, domain, id};
	const char                *got;

	out[0] = '\0';
	if (check_domain(domain, err) < 0 || make_id(id, err) < 0)
		return -1;
	snprintf(d, sizeof(d), "%" PRId64, day);
	store_res_init(&res);
	if (ops->begin(st->be, err) < 0) {
		store_res_free(&res);
		return -1;
	}
	/* Set only where none is: a racing gateway's id wins if it was
	 * first, and both then read the same one back. */
	if (ops->exec(st->be, STORE_STMT_ID_SET, p, NULL, NULL, err) < 0 ||
	    ops->exec(st->be, STORE_STMT_ID_GET, p, &res, NULL, err) < 0)
		goto fail;
	if (res.nrows == 0) {
		am_err_set(
		    err, "store: no period %s on day %" PRId64, domain, day);
		goto fail;
	}
	got = store_res_get(&res, 0, 0);
	if (got == NULL || !id_valid(got)) {
		am_err_set(err, "store: malformed report id in the store");
		goto fail;
	}
	str_lcpy(out, got, STORE_ID_MAX + 1);
	store_res_free(&res);
	if (ops->commit(st->be, err) < 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
fail:
	ops->rollback(st->be);
	store_res_free(&res);
	return -1;
}

int
store_mark_sent(struct store *st, int64_t day, const char *domain,
    const char *to, int64_t at, struct am_err *err)
{
	const struct store_be_ops *ops = st->be->ops;
	struct store_res           res;
	char                       d[24], a[24];
	const char                *p[4] = {d, domain, a, to};
	uint64_t                   changed = 0;
	size_t                     i;

	if (check_domain(domain, err) < 0)
		return -1;
	if (to == NULL || strlen(to) > REPORT_RUA_MAX)
		return am_err_set(err, "store: bad hand-off destination");
	for (i = 0; to[i] != '\0'; i++)
		if ((unsigned char)to[i] < 0x20 || (unsigned char)to[i] >= 0x7f)
			return am_err_set(
			    err, "store: bad hand-off destination");
	snprintf(d, sizeof(d), "%" PRId64, day);
	snprintf(a, sizeof(a), "%" PRId64, at);
	store_res_init(&res);
	if (ops->begin(st->be, err) < 0) {
		store_res_free(&res);
		return -1;
	}
	if (ops->exec(st->be, STORE_STMT_MARK_SENT, p, NULL, &changed, err) < 0)
		goto fail;
	if (changed != 1) {
		if (ops->exec(st->be, STORE_STMT_PERIOD_STATE, p, &res, NULL,
			err) < 0)
			goto fail;
		if (res.nrows == 0)
			am_err_set(err, "store: no period %s on day %" PRId64,
			    domain, day);
		else
			am_err_set(err,
			    "store: period %s on day %" PRId64 " already sent",
			    domain, day);
		goto fail;
	}
	store_res_free(&res);
	return ops->commit(st->be, err);
fail:
	ops->rollback(st->be);
	store_res_free(&res);
	return -1;
}

int
store_expire(struct store *st, int64_t before, uint64_t *n, struct am_err *err)
{
	const struct store_be_ops *ops = st->be->ops;
	char                       b[24];
	const char                *p[1] = {b};
	uint64_t                   changed = 0;

	if (n != NULL)
		*n = 0;
	snprintf(b, sizeof(b), "%" PRId64, before);
	if (ops->begin(st->be, err) < 0)
		return -1;
	if (ops->exec(st->be, STORE_STMT_EXPIRE_ROWS, p, NULL, NULL, err) < 0 ||
	    ops->exec(st->be, STORE_STMT_EXPIRE_PERIODS, p, NULL, &changed,
		err) < 0) {
		ops->rollback(st->be);
		return -1;
	}
	if (ops->commit(st->be, err) < 0)
		return -1;
	if (n != NULL)
		*n = changed;
	return 0;
}

/* ---- received reports ---- */

struct store_rx_txn {
	char            org[STORE_RX_ORG_MAX + 1];
	char            id[STORE_RX_ID_MAX + 1];
	uint64_t        seq; /* the next record's position */
	struct row_text t;
};

/* Checks rep and writes its text columns into the array v of 16 (the
 * order of RX_COLS), with their storage in t. */
struct rx_text {
	char        org[STORE_RX_ORG_MAX + 1], id[STORE_RX_ID_MAX + 1];
	char        email[STORE_RX_EMAIL_MAX + 1], begin[24], end[24];
	char        received[24];
	const char *v[16];
};

static int
rx_text(const struct store_rx_report *rep, struct rx_text *t,
    struct period_text *pt, struct am_err *err)
{
	struct report_row *r;
	size_t             i, n;

	n = strnlen(rep->report_id, sizeof(rep->report_id));
	if (n == 0 || n > STORE_RX_ID_MAX)
		return am_err_set(err,
		    "store: a received report needs a "
		    "report_id of 1 to %d characters",
		    STORE_RX_ID_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)rep->report_id[i] < 0x20 ||
		    (unsigned char)rep->report_id[i] >= 0x7f)
			return am_err_set(err, "store: report_id is not "
					       "printable ASCII");
	memcpy(t->id, rep->report_id, n);
	t->id[n] = '\0';
	text_copy(t->org, rep->org, sizeof(rep->org));
	text_copy(t->email, rep->email, sizeof(rep->email));
	if (t->org[0] == '\0')
		return am_err_set(err, "store: a received report without org");
	if (rep->begin < 0 || rep->end < rep->begin)
		return am_err_set(err, "store: a received report's date_range "
				       "is not begin <= end");
	/* The policy's columns, as a period's. */
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return am_err_set(err, "store: out of memory");
	r->pol = rep->pol;
	period_text(r, pt);
	free(r);
	if (pt->domain[0] == '\0')
		return am_err_set(err, "store: a received report without a "
				       "policy domain");
	snprintf(t->begin, sizeof(t->begin), "%" PRId64, rep->begin);
	snprintf(t->end, sizeof(t->end), "%" PRId64, rep->end);
	snprintf(t->received, sizeof(t->received), "%" PRId64, rep->received);
	t->v[0] = t->org;
	t->v[1] = t->id;
	t->v[2] = t->email;
	t->v[3] = t->begin;
	t->v[4] = t->end;
	for (i = 0; i < 10; i++) /* domain, p .. rua */
		t->v[5 + i] = pt->v[1 + i];
	t->v[15] = t->received;
	return 0;
}

int
store_rx_begin(struct store *st, const struct store_rx_report *rep,
    bool *duplicate, struct am_err *err)
{
	const struct store_be_ops *ops = st->be->ops;
	struct rx_text             t;
	struct period_text         pt;
	uint64_t                   changed = 0;

	*duplicate = false;
	if (st->rx != NULL)
		return am_err_set(err, "store: a received report is open");
	if (rx_text(rep, &t, &pt, err) < 0)
		return -1;
	if ((st->rx = calloc(1, sizeof(*st->rx))) == NULL)
		return am_err_set(err, "store: out of memory");
	memcpy(st->rx->org, t.org, sizeof(t.org));
	memcpy(st->rx->id, t.id, sizeof(t.id));
	if (ops->begin(st->be, err) < 0) {
		free(st->rx);
		st->rx = NULL;
		return -1;
	}
	if (ops->exec(st->be, STORE_STMT_RX_INSERT, t.v, NULL, &changed, err) <
	    0) {
		store_rx_abort(st);
		return -1;
	}
	if (changed == 0) {
		*duplicate = true;
		store_rx_abort(st);
	}
	return 0;
}

int
store_rx_put(struct store *st, const struct report_row *row, uint64_t count,
    struct am_err *err)
{
	struct store_rx_txn *rx = st->rx;
	char                 seq[24];
	const char          *v[16];
	size_t               i;

	if (rx == NULL)
		return am_err_set(err, "store: no received report is open");
	if (count > INT64_MAX)
		return am_err_set(err, "store: count out of range");
	if (row_fields(row, &rx->t, err) < 0)
		return -1;
	snprintf(seq, sizeof(seq), "%" PRIu64, rx->seq);
	snprintf(rx->t.count, sizeof(rx->t.count), "%" PRIu64, count);
	v[0] = rx->org;
	v[1] = rx->id;
	v[2] = seq;
	for (i = RP_IP; i <= RP_COUNT; i++)
		v[3 + i - RP_IP] = rx->t.p[i];
	if (st->be->ops->exec(
		st->be, STORE_STMT_RX_ROW_INSERT, v, NULL, NULL, err) < 0)
		return -1;
	rx->seq++;
	return 0;
}

int
store_rx_commit(struct store *st, struct am_err *err)
{
	int rc;

	if (st->rx == NULL)
		return am_err_set(err, "store: no received report is open");
	rc = st->be->ops->commit(st->be, err);
	free(st->rx);
	st->rx = NULL;
	return rc;
}

void
store_rx_abort(struct store *st)
{
	if (st == NULL || st->rx == NULL)
		return;
	st->be->ops->rollback(st->be);
	free(st->rx);
	st->rx = NULL;
}

int
store_rx_add(struct store *st, const struct store_rx_report *rep,
    const struct report_row *rows, const uint64_t *counts, size_t n,
    bool *duplicate, struct am_err *err)
{
	size_t i;

	if (store_rx_begin(st, rep, duplicate, err) < 0)
		return -1;
	if (*duplicate)
		return 0;
	for (i = 0; i < n; i++)
		if (store_rx_put(st, &rows[i], counts == NULL ? 1 : counts[i],
			err) < 0) {
			store_rx_abort(st);
			return -1;
		}
	return store_rx_commit(st, err);
}

/* One report of a listing (the columns of RX_COLS). */
static int
get_rx(const struct store_res *res, size_t i, struct store_rx_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	if (get_str(res, i, 0, rep->org, sizeof(rep->org), false) < 0 ||
	    get_str(res, i, 1, rep->report_id, sizeof(rep->report_id), false) <
		0 ||
	    get_str(res, i, 2, rep->email, sizeof(rep->email), false) < 0 ||
	    get_i64(res, i, 3, &rep->begin) < 0 ||
	    get_i64(res, i, 4, &rep->end) < 0 ||
	    get_str(res, i, 5, rep->pol.domain, sizeof(rep->pol.domain),
		false) < 0 ||
	    get_policy(res, i, 6, &rep->pol) < 0 ||
	    get_i64(res, i, 15, &rep->received) < 0)
		return -1;
	return 0;
}

int
store_rx_rows(struct store *st, const char *domain, int64_t since,
    int (*fn)(void *arg, const struct store_rx_report *,
	const struct report_row *, uint64_t count),
    void *arg, struct am_err *err)
{
	struct store_res        reps, res;
	struct store_rx_report *rep = NULL;
	struct report_row      *row = NULL;
	char                    s[24];
	const char             *p[2] = {domain, s};
	size_t                  i, j;
	uint64_t                count;
	int                     rc = 0;

	if (check_domain(domain, err) < 0)
		return -1;
	snprintf(s, sizeof(s), "%" PRId64, since);
	store_res_init(&reps);
	store_res_init(&res);
	if ((rep = malloc(sizeof(*rep))) == NULL ||
	    (row = malloc(sizeof(*row))) == NULL) {
		rc = am_err_set(err, "store: out of memory");
		goto out;
	}
	if (st->be->ops->exec(
		st->be, STORE_STMT_RX_REPORTS, p, &reps, NULL, err) < 0) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < reps.nrows && rc == 0; i++) {
		const char *q[2];

		if (get_rx(&reps, i, rep) < 0) {
			rc = am_err_set(err, "store: malformed received "
					     "report in the store");
			break;
		}
		q[0] = store_res_get(&reps, i, 0);
		q[1] = store_res_get(&reps, i, 1);
		store_res_free(&res);
		store_res_init(&res);
		if (st->be->ops->exec(
			st->be, STORE_STMT_RX_ROWS, q, &res, NULL, err) < 0) {
			rc = -1;
			break;
		}
		for (j = 0; j < res.nrows && rc == 0; j++) {
			memset(row, 0, sizeof(*row));
			row->when = rep->begin;
			row->pol = rep->pol;
			if (get_row(&res, j, row, &count) < 0) {
				rc = am_err_set(err, "store: malformed "
						     "received row in the "
						     "store");
				break;
			}
			rc = fn(arg, rep, row, count);
		}
	}
out:
	store_res_free(&reps);
	store_res_free(&res);
	free(rep);
	free(row);
	return rc;
}
