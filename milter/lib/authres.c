#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "buf.h"
#include "mailaddr.h"
#include "str.h"

/*
 * The composer keeps each result as pre-rendered pieces that are never
 * split: "method=result (comment)" and one "ptype.property=value" per
 * property. authres_value() lays them out: the authserv-id on the first
 * line, each result on a line of its own, folded between properties when
 * a line would pass AUTHRES_LINE_MAX.
 */

struct ar_res {
	char  *head;
	size_t nprops;
	char  *props[AUTHRES_MAX_PROPS];
};

struct authres {
	char         *id; /* rendered: token or quoted-string */
	size_t        n;
	struct ar_res res[AUTHRES_MAX_RESULTS];
};

/* "Authentication-Results:" as it starts the first line. */
#define AR_NAME_LEN 23

/* RFC 2045 5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or
 * tspecials>. */
static bool
ar_istoken(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static bool
ar_is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!ar_istoken((unsigned char)*s))
			return false;
	return true;
}

/* RFC 5322 3.2.3 atext (ASCII only here: we only write values bare when
 * they cannot surprise a parser). */
static bool
ar_isatext(unsigned char c)
{
	return str_isalnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 8601 2.2 pvalue may be [ [ local-part ] "@" ] domain-name bare,
 * domain-name from RFC 6376 3.5 (at least two labels). The local-part is
 * taken as a dot-atom. */
static bool
ar_is_bare_address(const char *s)
{
	const char *at = strchr(s, '@'), *q, *dom;
	bool        prevdot = true;

	if (at == NULL)
		return false;
	for (q = s; q < at; q++) {
		if (*q == '.') {
			if (prevdot)
				return false;
			prevdot = true;
		} else if (ar_isatext((unsigned char)*q))
			prevdot = false;
		else
			return false;
	}
	if (q > s && prevdot)
		return false;
	dom = at + 1;
	return strchr(dom, '.') != NULL && dom[strlen(dom) - 1] != '.' &&
	       mailaddr_domain_valid(dom, strlen(dom));
}

/* A quoted-string (RFC 5322 3.2.4): '"' and '\' become quoted-pairs;
 * bytes outside printable ASCII become '?' (a header field we add must
 * not carry controls, line breaks or unencoded 8-bit text). */
static int
ar_put_quoted(struct buf *b, const char *s)
{
	unsigned char c;

	if (buf_append_char(b, '"') < 0)
		return -1;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e)
			c = '?';
		if ((c == '"' || c == '\\') && buf_append_char(b, '\\') < 0)
			return -1;
		if (buf_append_char(b, (char)c) < 0)
			return -1;
	}
	return buf_append_char(b, '"');
}

static int
ar_put_value(struct buf *b, const char *s)
{
	if (ar_is_token(s) || ar_is_bare_address(s))
		return buf_append_str(b, s);
	return ar_put_quoted(b, s);
}

/* A comment (RFC 5322 3.2.2): "(", ")" and "\" become quoted-pairs,
 * bytes outside printable ASCII become '?', and the text is cut at
 * AUTHRES_MAX_COMMENT bytes with "...". */
static int
ar_put_comment(struct buf *b, const char *s)
{
	size_t        i, n = strlen(s);
	unsigned char c;
	bool          cut = n > AUTHRES_MAX_COMMENT;

	if (cut)
		n = AUTHRES_MAX_COMMENT - 3;
	if (buf_append_char(b, '(') < 0)
		return -1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e)
			c = '?';
		if ((c == '(' || c == ')' || c == '\\') &&
		    buf_append_char(b, '\\') < 0)
			return -1;
		if (buf_append_char(b, (char)c) < 0)
			return -1;
	}
	if (cut && buf_append_str(b, "...") < 0)
		return -1;
	return buf_append_char(b, ')');
}

bool
authres_keyword_valid(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!str_isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return s[0] != '-' && s[n - 1] != '-';
}

struct authres *
authres_new(const char *authserv_id)
{
	struct authres *ar;
	struct buf      b;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		return NULL;
	buf_init(&b, 0);
	if (ar_is_token(authserv_id) ? buf_append_str(&b, authserv_id) < 0
				     : ar_put_quoted(&b, authserv_id) < 0) {
		buf_free(&b);
		free(ar);
		return NULL;
	}
	if ((ar->id = buf_take(&b)) == NULL) {
		free(ar);
		return NULL;
	}
	return ar;
}

static void
ar_res_clear(struct ar_res *r)
{
	size_t i;

	free(r->head);
	for (i = 0; i < r->nprops; i++)
		free(r->props[i]);
	memset(r, 0, sizeof(*r));
}

void
authres_free(struct authres *ar)
{
	size_t i;

	if (ar == NULL)
		return;
	for (i = 0; i < ar->n; i++)
		ar_res_clear(&ar->res[i]);
	free(ar->id);
	free(ar);
}

size_t
authres_count(const struct authres *ar)
{
	return ar->n;
}

int
authres_add(struct authres *ar, const char *method, const char *result,
    const char *reason, const struct authres_prop *props, size_t nprops)
{
	struct ar_res r;
	struct buf    b;
	size_t        i;

	if (ar->n == AUTHRES_MAX_RESULTS || nprops > AUTHRES_MAX_PROPS ||
	    (nprops > 0 && props == NULL) || !authres_keyword_valid(method) ||
	    !authres_keyword_valid(result))
		return -1;
	for (i = 0; i < nprops; i++)
		if (!authres_keyword_valid(props[i].ptype) ||
		    !authres_keyword_valid(props[i].property) ||
		    props[i].value == NULL)
			return -1;
	memset(&r, 0, sizeof(r));
	buf_init(&b, 0);
	if (buf_printf(&b, "%s=%s", method, result) < 0)
		goto oom;
	if (reason != NULL &&
	    (buf_append_char(&b, ' ') < 0 || ar_put_comment(&b, reason) < 0))
		goto oom;
	if ((r.head = buf_take(&b)) == NULL)
		goto oom;
	for (i = 0; i < nprops; i++) {
		if (buf_printf(
			&b, "%s.%s=", props[i].ptype, props[i].property) < 0 ||
		    ar_put_value(&b, props[i].value) < 0)
			goto oom;
		if ((r.props[r.nprops] = buf_take(&b)) == NULL)
			goto oom;
		r.nprops++;
	}
	ar->res[ar->n++] = r;
	return 0;
oom:
	buf_free(&b);
	ar_res_clear(&r);
	return -1;
}

char *
authres_value_flags(const struct authres *ar, unsigned int flags)
{
	const char *fold = (flags & AUTHRES_CRLF) ? "\r\n\t" : "\n\t";
	struct buf  b;
	size_t      i, k, col, len;
	const char *piece;
	bool        semi;
	int         rc = 0;

	/* A field we add is bounded by what authres_add() accepted. */
	buf_init(&b, 0);
	rc |= buf_printf(&b, " %s;", ar->id);
	col = AR_NAME_LEN + b.len;
	if (ar->n == 0)
		rc |= buf_append_str(&b, " none");
	for (i = 0; i < ar->n; i++) {
		const struct ar_res *r = &ar->res[i];

		/* RFC 8601 2.2: resinfo = [CFWS] ";" methodspec ...; the
		 * ";" ends each result but the last. */
		for (k = 0; k <= r->nprops; k++) {
			piece = k == 0 ? r->head : r->props[k - 1];
			semi = k == r->nprops && i + 1 < ar->n;
			len = strlen(piece) + (semi ? 1 : 0);
			if (k == 0 || col + 1 + len > AUTHRES_LINE_MAX) {
				rc |= buf_append_str(&b, fold);
				col = 1; /* the TAB */
			} else {
				rc |= buf_append_char(&b, ' ');
				col++;
			}
			rc |= buf_append_str(&b, piece);
			if (semi)
				rc |= buf_append_char(&b, ';');
			col += len;
		}
	}
	if (rc != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

char *
authres_value(const struct authres *ar)
{
	return authres_value_flags(ar, 0);
}

/*
 * The parser. A cursor over [p, p + n); every read checks what remains.
 */

struct ar_lex {
	const char *p;
	size_t      n, i;
};

/* Skips CFWS (RFC 5322 3.2.2): whitespace, line breaks, and comments
 * nested at most AUTHRES_MAX_COMMENT_DEPTH deep, counted. Returns -1 on
 * an unbalanced or too deep comment, leaving i at the trouble. */
static int
ar_cfws(struct ar_lex *lx)
{
	size_t depth = 0;

	while (lx->i < lx->n) {
		char c = lx->p[lx->i];

		if (depth == 0) {
			if (str_isspace((unsigned char)c)) {
				lx->i++;
				continue;
			}
			if (c != '(')
				return 0;
		}
		switch (c) {
		case '(':
			if (++depth > AUTHRES_MAX_COMMENT_DEPTH)
				return -1;
			break;
		case ')':
			depth--;
			break;
		case '\\':
			if (lx->i + 1 >= lx->n)
				return -1;
			lx->i++;
			break;
		case '\0':
			return -1;
		default:
			break;
		}
		lx->i++;
	}
	return depth == 0 ? 0 : -1;
}

/* Reads a quoted-string at lx->i (a '"') into b, unquoted. */
static int
ar_qstring(struct ar_lex *lx, struct buf *b)
{
	char c;

	lx->i++;
	while (lx->i < lx->n) {
		c = lx->p[lx->i++];
		if (c == '"')
			return 0;
		if (c == '\0')
			return -1;
		if (c == '\r' || c == '\n')
			continue; /* the CRLF of a fold is invisible */
		if (c == '\\') {
			if (lx->i >= lx->n || lx->p[lx->i] == '\0')
				return -1;
			c = lx->p[lx->i++];
		}
		if (buf_append_char(b, c) < 0)
			return -1;
	}
	return -1;
}

/* value = token / quoted-string (RFC 2045 5.1), into b. */
static int
ar_value(struct ar_lex *lx, struct buf *b)
{
	size_t start = lx->i;

	buf_reset(b);
	if (lx->i < lx->n && lx->p[lx->i] == '"')
		return ar_qstring(lx, b);
	while (lx->i < lx->n && ar_istoken((unsigned char)lx->p[lx->i]))
		lx->i++;
	if (lx->i == start)
		return -1;
	return buf_append(b, lx->p + start, lx->i - start);
}

/* Keyword (RFC 8601 2.2), read leniently: letters, digits, "-", "_". */
static int
ar_keyword(struct ar_lex *lx, struct buf *b)
{
	size_t start = lx->i;
	char   c;

	buf_reset(b);
	while (lx->i < lx->n) {
		c = lx->p[lx->i];
		if (!str_isalnum((unsigned char)c) && c != '-' && c != '_')
			break;
		lx->i++;
	}
	if (lx->i == start)
		return -1;
	return buf_append(b, lx->p + start, lx->i - start);
}

/* pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
 * (RFC 8601 2.2): a quoted-string, optionally followed by "@domain", or a
 * run of printable bytes up to CFWS or ";" (which covers tokens, bare
 * addresses and domains). UTF-8 is kept (RFC 8616). */
static int
ar_pvalue(struct ar_lex *lx, struct buf *b)
{
	size_t        start;
	unsigned char c;

	buf_reset(b);
	if (lx->i < lx->n && lx->p[lx->i] == '"') {
		if (ar_qstring(lx, b) < 0)
			return -1;
		if (lx->i >= lx->n || lx->p[lx->i] != '@')
			return 0;
	}
	start = lx->i;
	while (lx->i < lx->n) {
		c = (unsigned char)lx->p[lx->i];
		if (c <= 0x20 || c == 0x7f || c == ';' || c == '(' || c == '"')
			break;
		lx->i++;
	}
	if (lx->i == start && b->len == 0)
		return -1;
	return buf_append(b, lx->p + start, lx->i - start);
}

static bool
ar_peek(const struct ar_lex *lx, char c)
{
	return lx->i < lx->n && lx->p[lx->i] == c;
}

/*
 * Fails closed: a field is kept only when its authserv-id reads and is
 * another's. One whose id cannot be read (a leading comment unbalanced,
 * deeper than AUTHRES_MAX_COMMENT_DEPTH or cut by a NUL, an unterminated
 * quoted-string, no id at all, an id longer than AUTHRES_MAX_VALUE, or no
 * memory to read it) counts as ours: a reader downstream with a deeper
 * comment limit or a laxer grammar may well read our id there, and RFC
 * 8601 5 wants every field that claims it removed. Removing a field whose
 * id nobody can read costs nothing (RFC 8601 2.2 readers ignore it).
 */
bool
authres_is_ours(const char *value, size_t len, const char *authserv_id)
{
	struct ar_lex lx = {.p = value, .n = len, .i = 0};
	struct buf    b;
	bool          ours;

	if (ar_cfws(&lx) < 0)
		return true;
	buf_init(&b, AUTHRES_MAX_VALUE);
	ours =
	    ar_value(&lx, &b) < 0 || str_ieq(buf_cstr(&b), b.len, authserv_id);
	buf_free(&b);
	return ours;
}

static void
ar_parsed_clear_result(struct authres_presult *r)
{
	size_t i;

	free(r->method);
	free(r->result);
	free(r->reason);
	for (i = 0; i < r->nprops; i++) {
		free(r->props[i].ptype);
		free(r->props[i].property);
		free(r->props[i].value);
	}
}

void
authres_parsed_free(struct authres_parsed *ap)
{
	size_t i;

	if (ap == NULL)
		return;
	for (i = 0; i < ap->nresults; i++)
		ar_parsed_clear_result(&ap->results[i]);
	free(ap->authserv_id);
	free(ap);
}

/* Copies b into a new string; sets *oom on failure. */
static char *
ar_dup(const struct buf *b, bool *oom)
{
	char *s = str_ndup(buf_cstr(b), b->len);

	if (s == NULL)
		*oom = true;
	return s;
}

/* Reads the properties of one result, up to ";" or the end, into r (NULL
 * when the result is past the limit and only read). */
static int
ar_parse_props(struct ar_lex *lx, struct authres_presult *r,
    struct authres_parsed *ap, struct buf *t1, struct buf *t2, struct buf *v,
    bool *oom)
{
	struct authres_pprop *pp;

	for (;;) {
		if (ar_cfws(lx) < 0)
			return -1;
		if (lx->i == lx->n || ar_peek(lx, ';'))
			return 0;
		if (ar_keyword(lx, t1) < 0 || ar_cfws(lx) < 0)
			return -1;
		if (ar_peek(lx, '=') &&
		    str_ieq(buf_cstr(t1), t1->len, "reason")) {
			/* reasonspec = "reason" [CFWS] "=" [CFWS] value */
			lx->i++;
			if (ar_cfws(lx) < 0 || ar_value(lx, v) < 0)
				return -1;
			if (r != NULL && r->reason == NULL)
				r->reason = ar_dup(v, oom);
			continue;
		}
		/* propspec = ptype [CFWS] "." [CFWS] property [CFWS] "="
		 * pvalue */
		if (!ar_peek(lx, '.'))
			return -1;
		lx->i++;
		if (ar_cfws(lx) < 0 || ar_keyword(lx, t2) < 0 ||
		    ar_cfws(lx) < 0 || !ar_peek(lx, '='))
			return -1;
		lx->i++;
		if (ar_cfws(lx) < 0 || ar_pvalue(lx, v) < 0)
			return -1;
		if (r == NULL || r->nprops == AUTHRES_MAX_PROPS) {
			ap->truncated = true;
			continue;
		}
		pp = &r->props[r->nprops++];
		pp->ptype = ar_dup(t1, oom);
		pp->property = ar_dup(t2, oom);
		pp->value = ar_dup(v, oom);
		if (*oom)
			return -1;
	}
}

struct authres_parsed *
authres_parse(const char *value, size_t len)
{
	struct authres_parsed  *ap;
	struct authres_presult *r;
	struct ar_lex           lx = {.p = value, .n = len, .i = 0};
	struct buf              t1, t2, v;
	bool                    oom = false;
	int                     rc = -1;

	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		return NULL;
	buf_init(&t1, AUTHRES_MAX_VALUE);
	buf_init(&t2, AUTHRES_MAX_VALUE);
	buf_init(&v, AUTHRES_MAX_VALUE);
	ap->version = 1;
	/* [CFWS] authserv-id [ CFWS authres-version ] */
	if (ar_cfws(&lx) < 0 || ar_value(&lx, &v) < 0)
		goto out;
	if ((ap->authserv_id = ar_dup(&v, &oom)) == NULL)
		goto out;
	if (ar_cfws(&lx) < 0)
		goto out;
	if (lx.i < lx.n && str_isdigit((unsigned char)lx.p[lx.i])) {
		ap->version = 0;
		while (lx.i < lx.n && str_isdigit((unsigned char)lx.p[lx.i])) {
			if (ap->version < 1000000)
				ap->version = ap->version * 10 +
					      (unsigned long)(lx.p[lx.i] - '0');
			lx.i++;
		}
		if (ar_cfws(&lx) < 0)
			goto out;
	}
	/* ( no-result / 1*resinfo ) */
	if (!ar_peek(&lx, ';'))
		goto out;
	while (ar_peek(&lx, ';')) {
		lx.i++;
		if (ar_cfws(&lx) < 0)
			goto out;
		if (lx.i == lx.n && ap->nresults > 0)
			break; /* a final ";", seen in the wild */
		if (ar_keyword(&lx, &t1) < 0)
			goto out;
		/* method = Keyword [ [CFWS] "/" [CFWS] method-version ] */
		if (ar_cfws(&lx) < 0)
			goto out;
		if (ar_peek(&lx, '/')) {
			lx.i++;
			if (ar_cfws(&lx) < 0 || ar_keyword(&lx, &t2) < 0 ||
			    ar_cfws(&lx) < 0)
				goto out;
		}
		if (ap->nresults == 0 && !ap->none &&
		    str_ieq(buf_cstr(&t1), t1.len, "none") &&
		    !ar_peek(&lx, '=')) {
			/* no-result = [CFWS] ";" [CFWS] "none" */
			ap->none = true;
			if (lx.i != lx.n)
				goto out;
			break;
		}
		if (ap->none || !ar_peek(&lx, '='))
			goto out;
		lx.i++;
		if (ar_cfws(&lx) < 0 || ar_keyword(&lx, &t2) < 0)
			goto out;
		r = NULL;
		if (ap->nresults < AUTHRES_MAX_RESULTS) {
			r = &ap->results[ap->nresults++];
			r->method = ar_dup(&t1, &oom);
			r->result = ar_dup(&t2, &oom);
			if (oom)
				goto out;
		} else
			ap->truncated = true;
		if (ar_parse_props(&lx, r, ap, &t1, &t2, &v, &oom) < 0)
			goto out;
	}
	if (lx.i == lx.n)
		rc = 0;
out:
	buf_free(&t1);
	buf_free(&t2);
	buf_free(&v);
	if (oom) {
		authres_parsed_free(ap);
		return NULL;
	}
	if (rc < 0) {
		ap->status = AUTHRES_ESYNTAX;
		ap->error_pos = lx.i;
	}
	return ap;
}
