#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "buf.h"
#include "mailaddr.h"
#include "str.h"

/*
 * The address-list parser works in two layers, as Postfix's tok822 does:
 * a lexer turns the field into atoms, quoted strings, domain literals and
 * the specials "<>@,;:.", skipping CFWS (RFC 5322 3.2.2) with comments
 * counted, never recursed; the parser reads the RFC 5322 3.4 grammar from
 * those tokens with one token of look-ahead. Whitespace between tokens is
 * not significant to anything we return, which also gives the obsolete
 * forms of RFC 5322 4.4 (CFWS around "." and "@") for free.
 */

enum ma_tok {
	MA_END,
	MA_ATOM,    /* 1*atext, UTF-8 included (RFC 6532 3.2) */
	MA_QSTR,    /* quoted-string, quotes included */
	MA_DLIT,    /* domain-literal, brackets included */
	MA_SPECIAL, /* one of < > @ , ; : . */
	MA_ERR
};

struct ma_lex {
	const char *p;
	size_t      n;
	size_t      i;
	enum ma_tok type;
	size_t      start, end; /* the token is [start, end) */
	char        c;          /* the special, for MA_SPECIAL */
	size_t      errpos;     /* MA_ERR: offset of the bad byte */
};

struct ma_parser {
	struct ma_lex         lx;
	struct mailaddr_list *l;
	struct buf            local; /* the local-part being read */
	struct buf            dom;   /* the domain being read */
	size_t                errpos;
	bool                  oom;
};

/* What a run of words and dots looked like (see ma_collect()). */
struct ma_run {
	size_t ntok, nwords;
	size_t first;    /* offset of the first token */
	bool   adjacent; /* two words with no "." between them */
	bool   dot_first;
};

/* RFC 5322 3.2.3 atext, plus every byte >= 0x80 (RFC 6532 3.2 UTF8-non-
 * ascii; bytes that are not UTF-8 are left for libidn2 to refuse in a
 * domain, and do not matter in a display name or local-part). */
static bool
ma_isatext(unsigned char c)
{
	if (str_isalnum(c) || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
ma_isfws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
ma_lex_err(struct ma_lex *lx, size_t pos)
{
	lx->type = MA_ERR;
	lx->errpos = pos;
}

/* Skips one comment starting at lx->i (a "("). Nesting is counted up to
 * MAILADDR_MAX_COMMENT_DEPTH (RFC 5322 3.2.2 ccontent may be a comment).
 * Returns false (and sets MA_ERR) when unbalanced, too deep, or on NUL. */
static bool
ma_skip_comment(struct ma_lex *lx)
{
	size_t open = lx->i, depth = 0;

	while (lx->i < lx->n) {
		switch (lx->p[lx->i]) {
		case '(':
			if (++depth > MAILADDR_MAX_COMMENT_DEPTH) {
				ma_lex_err(lx, lx->i);
				return false;
			}
			lx->i++;
			break;
		case ')':
			lx->i++;
			if (--depth == 0)
				return true;
			break;
		case '\\': /* quoted-pair, RFC 5322 3.2.1 */
			if (lx->i + 1 >= lx->n)
				goto unbalanced;
			if (lx->p[lx->i + 1] == '\0') {
				ma_lex_err(lx, lx->i + 1);
				return false;
			}
			lx->i += 2;
			break;
		case '\0':
			ma_lex_err(lx, lx->i);
			return false;
		default:
			lx->i++;
			break;
		}
	}
unbalanced:
	ma_lex_err(lx, open);
	return false;
}

/* Reads a quoted-string or domain-literal from lx->i to its closing
 * delimiter; quoted-pairs are skipped whole. A NUL or a missing closing
 * delimiter is an error. */
static void
ma_lex_quoted(struct ma_lex *lx, char close, enum ma_tok type)
{
	size_t        open = lx->i;
	unsigned char c;

	lx->i++;
	while (lx->i < lx->n) {
		c = (unsigned char)lx->p[lx->i];
		if (c == '\0' || (close == ']' && c == '[')) {
			ma_lex_err(lx, lx->i);
			return;
		}
		if (c == '\\') {
			if (lx->i + 1 >= lx->n)
				break;
			if (lx->p[lx->i + 1] == '\0') {
				ma_lex_err(lx, lx->i + 1);
				return;
			}
			lx->i += 2;
			continue;
		}
		lx->i++;
		if (c == (unsigned char)close) {
			lx->type = type;
			lx->start = open;
			lx->end = lx->i;
			return;
		}
	}
	ma_lex_err(lx, open);
}

static void
ma_next(struct ma_lex *lx)
{
	unsigned char c;

	if (lx->type == MA_ERR)
		return;
	for (;;) {
		if (lx->i >= lx->n) {
			lx->type = MA_END;
			lx->start = lx->end = lx->n;
			return;
		}
		c = (unsigned char)lx->p[lx->i];
		if (ma_isfws(c))
			lx->i++;
		else if (c == '(') {
			if (!ma_skip_comment(lx))
				return;
		} else
			break;
	}
	lx->start = lx->i;
	if (ma_isatext(c)) {
		while (lx->i < lx->n && ma_isatext((unsigned char)lx->p[lx->i]))
			lx->i++;
		lx->type = MA_ATOM;
		lx->end = lx->i;
	} else if (c == '"')
		ma_lex_quoted(lx, '"', MA_QSTR);
	else if (c == '[')
		ma_lex_quoted(lx, ']', MA_DLIT);
	else if (strchr("<>@,;:.", c) != NULL && c != '\0') {
		lx->type = MA_SPECIAL;
		lx->c = (char)c;
		lx->end = ++lx->i;
	} else
		/* ")", "]", "\" outside quotes, controls, NUL. */
		ma_lex_err(lx, lx->i);
}

static bool
ma_is(const struct ma_lex *lx, char c)
{
	return lx->type == MA_SPECIAL && lx->c == c;
}

static bool
ma_isword(const struct ma_lex *lx)
{
	return lx->type == MA_ATOM || lx->type == MA_QSTR;
}

static int
ma_fail(struct ma_parser *P, size_t pos)
{
	if (P->lx.type == MA_ERR)
		pos = P->lx.errpos;
	P->errpos = pos;
	return -1;
}

static int
ma_append(struct ma_parser *P, struct buf *b, const char *s, size_t n)
{
	if (buf_append(b, s, n) < 0) {
		P->oom = true;
		return -1;
	}
	return 0;
}

/* Appends the current word to the local-part: an atom as is, a quoted
 * string without its quotes, with quoted-pairs resolved and the CRLF of
 * folds dropped (RFC 5322 3.2.4: they are "invisible"). */
static int
ma_append_word(struct ma_parser *P)
{
	const char *p = P->lx.p;
	size_t      i, end;

	if (P->lx.type == MA_ATOM)
		return ma_append(
		    P, &P->local, p + P->lx.start, P->lx.end - P->lx.start);
	end = P->lx.end - 1;
	for (i = P->lx.start + 1; i < end; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			continue;
		if (p[i] == '\\')
			i++;
		if (ma_append(P, &P->local, p + i, 1) < 0)
			return -1;
	}
	return 0;
}

/* Reads a run of words and dots (a display-name, or what will be a
 * local-part), building the unquoted local-part in P->local as it goes. */
static int
ma_collect(struct ma_parser *P, struct ma_run *r)
{
	bool prevword = false;

	memset(r, 0, sizeof(*r));
	buf_reset(&P->local);
	r->first = P->lx.start;
	while (ma_isword(&P->lx) || ma_is(&P->lx, '.')) {
		if (ma_isword(&P->lx)) {
			if (prevword)
				r->adjacent = true;
			prevword = true;
			r->nwords++;
			if (!r->adjacent && ma_append_word(P) < 0)
				return -1;
		} else {
			if (r->ntok == 0)
				r->dot_first = true;
			prevword = false;
			if (ma_append(P, &P->local, ".", 1) < 0)
				return -1;
		}
		r->ntok++;
		ma_next(&P->lx);
	}
	return 0;
}

/* domain = dot-atom / domain-literal / obs-domain (RFC 5322 3.4.1, 4.4),
 * and one trailing dot, which the normal form drops. The text goes to
 * P->dom without CFWS. */
static int
ma_domain(struct ma_parser *P)
{
	const char *p = P->lx.p;
	size_t      i;

	buf_reset(&P->dom);
	if (P->lx.type == MA_DLIT) {
		for (i = P->lx.start; i < P->lx.end; i++)
			if (!ma_isfws((unsigned char)p[i]) &&
			    ma_append(P, &P->dom, p + i, 1) < 0)
				return -1;
		ma_next(&P->lx);
		return 0;
	}
	if (P->lx.type != MA_ATOM)
		return ma_fail(P, P->lx.start);
	for (;;) {
		if (ma_append(P, &P->dom, p + P->lx.start,
			P->lx.end - P->lx.start) < 0)
			return -1;
		ma_next(&P->lx);
		if (!ma_is(&P->lx, '.'))
			return 0;
		if (ma_append(P, &P->dom, ".", 1) < 0)
			return -1;
		ma_next(&P->lx);
		if (P->lx.type != MA_ATOM)
			return 0;
	}
}

static int
ma_add(struct ma_parser *P)
{
	struct mailaddr_list *l = P->l;
	struct mailaddr      *a;
	char                  norm[MAILADDR_DOMAIN_MAX + 1];

	if (l->count == MAILADDR_MAX) {
		l->status = MAILADDR_ETOOMANY;
		return -1;
	}
	a = &l->addr[l->count];
	a->local = str_ndup(buf_cstr(&P->local), P->local.len);
	a->domain = str_ndup(buf_cstr(&P->dom), P->dom.len);
	a->domain_norm = NULL;
	if (mailaddr_domain_normalize(buf_cstr(&P->dom), P->dom.len, norm))
		a->domain_norm = str_ndup(norm, strlen(norm));
	l->count++;
	if (a->local == NULL || a->domain == NULL ||
	    (norm[0] != '\0' && a->domain_norm == NULL)) {
		P->oom = true;
		return -1;
	}
	return 0;
}

/* The rest of an addr-spec once its local-part is in P->local and the
 * current token is the "@". */
static int
ma_addr_spec_tail(struct ma_parser *P, const struct ma_run *r)
{
	if (r->nwords == 0 || r->adjacent)
		return ma_fail(P, r->ntok > 0 ? r->first : P->lx.start);
	ma_next(&P->lx);
	if (ma_domain(P) < 0)
		return -1;
	return ma_add(P);
}

/* angle-addr = "<" [obs-route] addr-spec ">" (RFC 5322 3.4, 4.4); the
 * current token is the "<". obs-route = obs-domain-list ":", where
 * obs-domain-list = *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain]);
 * the route's domains are read and forgotten. */
static int
ma_angle(struct ma_parser *P)
{
	struct ma_run r;
	bool          route = false;

	ma_next(&P->lx);
	if (ma_is(&P->lx, '@') || ma_is(&P->lx, ',')) {
		for (;;) {
			if (ma_is(&P->lx, ','))
				ma_next(&P->lx);
			else if (ma_is(&P->lx, '@')) {
				ma_next(&P->lx);
				if (ma_domain(P) < 0)
					return -1;
				route = true;
				if (!ma_is(&P->lx, ',') && !ma_is(&P->lx, ':'))
					return ma_fail(P, P->lx.start);
			} else
				break;
		}
		if (!route || !ma_is(&P->lx, ':'))
			return ma_fail(P, P->lx.start);
		ma_next(&P->lx);
	}
	if (ma_collect(P, &r) < 0)
		return -1;
	if (!ma_is(&P->lx, '@'))
		return ma_fail(P, P->lx.start);
	if (ma_addr_spec_tail(P, &r) < 0)
		return -1;
	if (!ma_is(&P->lx, '>'))
		return ma_fail(P, P->lx.start);
	ma_next(&P->lx);
	return 0;
}

static int ma_address(struct ma_parser *P, bool in_group);

/* group = display-name ":" [group-list] ";" [CFWS] (RFC 5322 3.4); the
 * current token is the ":". Members are mailboxes; obs-group-list and
 * obs-mbox-list allow empty ones. */
static int
ma_group(struct ma_parser *P)
{
	ma_next(&P->lx);
	for (;;) {
		if (ma_address(P, true) < 0)
			return -1;
		if (ma_is(&P->lx, ';')) {
			ma_next(&P->lx);
			return 0;
		}
		if (!ma_is(&P->lx, ','))
			return ma_fail(P, P->lx.start);
		ma_next(&P->lx);
	}
}

/* address = mailbox / group; mailbox = name-addr / addr-spec. Reads one
 * member of an address-list (or of a group when in_group), which may be
 * empty (obs-addr-list); the caller checks what follows. */
static int
ma_address(struct ma_parser *P, bool in_group)
{
	struct ma_run r;

	if (ma_collect(P, &r) < 0)
		return -1;
	if (P->lx.type == MA_ERR)
		return ma_fail(P, 0);
	if (ma_is(&P->lx, '@'))
		/* A bare addr-spec. Its local-part may not be two words:
		 * "user name@example.com" and display names that look like
		 * addresses end here, as errors. */
		return ma_addr_spec_tail(P, &r);
	if (ma_is(&P->lx, '<')) {
		/* display-name = phrase = 1*word / obs-phrase, which may
		 * hold "." but not begin with it (RFC 5322 3.2.5, 4.1). */
		if (r.dot_first)
			return ma_fail(P, r.first);
		return ma_angle(P);
	}
	if (ma_is(&P->lx, ':')) {
		if (in_group || r.nwords == 0 || r.dot_first)
			return ma_fail(P, r.ntok > 0 ? r.first : P->lx.start);
		return ma_group(P);
	}
	if (r.ntok > 0)
		/* Words with neither "@" nor "<": "bank.com" alone. */
		return ma_fail(P, P->lx.start);
	return 0;
}

static void
ma_list_clear(struct mailaddr_list *l)
{
	size_t i;

	for (i = 0; i < l->count; i++) {
		free(l->addr[i].local);
		free(l->addr[i].domain);
		free(l->addr[i].domain_norm);
	}
	memset(l->addr, 0, sizeof(l->addr));
	l->count = 0;
}

struct mailaddr_list *
mailaddr_parse_list(const char *p, size_t n)
{
	struct ma_parser P;
	int              r = 0;

	memset(&P, 0, sizeof(P));
	if ((P.l = calloc(1, sizeof(*P.l))) == NULL)
		return NULL;
	P.lx.p = p;
	P.lx.n = n;
	/* A local-part or domain can be no longer than the field; the
	 * buffers' ceiling is the default one (1 MiB, above any header). */
	buf_init(&P.local, 0);
	buf_init(&P.dom, 0);
	P.l->status = MAILADDR_OK;
	ma_next(&P.lx);
	for (;;) {
		if ((r = ma_address(&P, false)) < 0)
			break;
		if (P.lx.type == MA_END)
			break;
		if (!ma_is(&P.lx, ',')) {
			r = ma_fail(&P, P.lx.start);
			break;
		}
		ma_next(&P.lx);
	}
	buf_free(&P.local);
	buf_free(&P.dom);
	if (P.oom) {
		mailaddr_list_free(P.l);
		return NULL;
	}
	if (r < 0) {
		if (P.l->status != MAILADDR_ETOOMANY) {
			P.l->status = MAILADDR_ESYNTAX;
			P.l->error_pos = P.errpos;
		}
		ma_list_clear(P.l);
	}
	return P.l;
}

void
mailaddr_list_free(struct mailaddr_list *l)
{
	if (l == NULL)
		return;
	ma_list_clear(l);
	free(l);
}

/*
 * RFC 5321 4.1.2 paths. The MTA has already parsed the command, so this
 * is strict: no spaces outside a quoted local-part, nothing after ">".
 * UTF-8 is accepted in the local-part and domain (RFC 6531 3.3).
 */

static enum mailaddr_status
ma_path_err(size_t *where_r, size_t pos)
{
	if (where_r != NULL)
		*where_r = pos;
	return MAILADDR_ESYNTAX;
}

/* A byte of a domain name as an MTA may pass it: letters, digits, "-",
 * ".", "_" (seen in the wild; the normal form then refuses it) and UTF-8
 * (RFC 6531). Whether it is usable is mailaddr_domain_normalize()'s call. */
static bool
ma_isdomchar(unsigned char c)
{
	return str_isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

enum mailaddr_status
mailaddr_parse_path(
    const char *p, size_t n, struct mailaddr_path *out, size_t *where_r)
{
	size_t        i = 0, end = n, k = 0, start;
	unsigned char c;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return MAILADDR_NULL; /* how some callers spell "<>" */
	if (p[0] == '<') {
		if (n < 2 || p[n - 1] != '>')
			return ma_path_err(where_r, n);
		i = 1;
		end = n - 1;
		if (end == i)
			return MAILADDR_NULL;
		/* A-d-l = At-domain *( "," At-domain ) ":" */
		if (p[i] == '@') {
			for (;;) {
				start = ++i;
				while (i < end &&
				       ma_isdomchar((unsigned char)p[i]))
					i++;
				if (i == start || i == end)
					return ma_path_err(where_r, i);
				if (p[i] == ':') {
					i++;
					break;
				}
				if (p[i] != ',' || i + 1 >= end ||
				    p[i + 1] != '@')
					return ma_path_err(where_r, i);
				i++;
			}
		}
	}
	/* Local-part = Dot-string / Quoted-string. Dots are tolerated where
	 * Dot-string puts none ("a..b", ".a"), as Postfix tolerates them. */
	if (i < end && p[i] == '"') {
		start = i++;
		for (;;) {
			if (i >= end)
				return ma_path_err(where_r, start);
			c = (unsigned char)p[i];
			if (c == '"')
				break;
			if (c == '\\') {
				if (++i >= end)
					return ma_path_err(where_r, start);
				c = (unsigned char)p[i];
			}
			/* qtextSMTP, quoted-pairSMTP: %d32-126, UTF-8 */
			if (c < 0x20 || c == 0x7f)
				return ma_path_err(where_r, i);
			if (k == MAILADDR_PATH_LOCAL_MAX)
				return ma_path_err(where_r, i);
			out->local[k++] = (char)c;
			i++;
		}
		i++;
	} else {
		start = i;
		while (i < end && p[i] != '@') {
			c = (unsigned char)p[i];
			if (!ma_isatext(c) && c != '.')
				return ma_path_err(where_r, i);
			if (k == MAILADDR_PATH_LOCAL_MAX)
				return ma_path_err(where_r, i);
			out->local[k++] = (char)c;
			i++;
		}
		if (strspn(out->local, ".") == k)
			return ma_path_err(where_r, start);
	}
	out->local[k] = '\0';
	if (i == end) {
		/* No domain: "<postmaster>" (RFC 5321 4.1.1.3). */
		if (k == 0)
			return ma_path_err(where_r, i);
		return MAILADDR_OK;
	}
	if (p[i] != '@')
		return ma_path_err(where_r, i);
	start = ++i;
	if (i < end && p[i] == '[') {
		/* address-literal (RFC 5321 4.1.3): kept as written, never a
		 * usable domain. */
		while (++i < end && p[i] != ']') {
			c = (unsigned char)p[i];
			if (c <= 0x20 || c >= 0x7f || c == '[' || c == '\\')
				return ma_path_err(where_r, i);
		}
		if (i + 1 != end)
			return ma_path_err(where_r, i);
		i++;
	} else {
		while (i < end && ma_isdomchar((unsigned char)p[i]))
			i++;
		if (i != end || i == start)
			return ma_path_err(where_r, i);
	}
	if (i - start > MAILADDR_DOMAIN_MAX)
		return ma_path_err(where_r, start + MAILADDR_DOMAIN_MAX);
	memcpy(out->domain, p + start, i - start);
	out->domain[i - start] = '\0';
	out->domain_ok =
	    mailaddr_domain_normalize(p + start, i - start, out->domain_norm);
	return MAILADDR_OK;
}

bool
mailaddr_domain_valid(const char *p, size_t n)
{
	size_t i, label = 0;

	if (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n > MAILADDR_DOMAIN_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			/* Empty label, or one ending with "-". */
			if (label == 0 || p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!str_isalnum(c) && !(c == '-' && label > 0))
			return false;
		if (++label > MAILADDR_LABEL_MAX)
			return false;
	}
	return p[n - 1] != '-';
}

/* U-labels are at most 63 characters of at most 4 UTF-8 bytes each
 * before conversion (RFC 5890 2.3.2.1 bounds the A-label), so a name
 * longer than this cannot convert to MAILADDR_DOMAIN_MAX characters. */
#define MA_NORM_IN_MAX (4 * MAILADDR_DOMAIN_MAX)

bool
mailaddr_domain_normalize(const char *p, size_t n, char *out)
{
	char   in[MA_NORM_IN_MAX + 1];
	char  *a = NULL;
	size_t i;
	bool   ascii = true;

	out[0] = '\0';
	str_trim(&p, &n);
	if (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0 || n > MA_NORM_IN_MAX || memchr(p, '\0', n) != NULL)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			ascii = false;
	if (ascii) {
		if (n > MAILADDR_DOMAIN_MAX)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
	} else {
		memcpy(in, p, n);
		in[n] = '\0';
		/* UTS #46 non-transitional processing (IDNA2008 with the
		 * mapping browsers use): case-folds, maps, refuses what is
		 * disallowed and bytes that are not UTF-8. */
		if (idn2_to_ascii_8z(in, &a, IDN2_NONTRANSITIONAL) != IDN2_OK)
			return false;
		if (str_lcpy(out, a, MAILADDR_DOMAIN_MAX + 1) >
		    MAILADDR_DOMAIN_MAX) {
			idn2_free(a);
			out[0] = '\0';
			return false;
		}
		idn2_free(a);
	}
	str_lower(out);
	if (!mailaddr_domain_valid(out, strlen(out)) ||
	    out[strlen(out) - 1] == '.') {
		out[0] = '\0';
		return false;
	}
	return true;
}
