/*
 * spf: RFC 7208 check_host().
 *
 * The evaluation keeps no recursion: include: pushes a frame on a fixed
 * stack (SPF_MAX_DEPTH), redirect= replaces the current frame's record (a
 * tail call), and a finished frame hands its result to the include term of
 * the frame below. Each frame holds its own copy of the record text, so
 * terms are re-scanned from the text instead of being stored: a record of
 * any size costs its length and nothing per term.
 *
 * Resumable: no lookup is ever waited for. Every lookup of a step goes
 * through answer_get(), which starts the query and remembers it (the memo)
 * and returns NULL while it is pending; the term then reports M_PENDING,
 * the counters and the frame position it changed are put back, and
 * spf_check_step() returns to its caller. When an answer has arrived, the
 * same term is evaluated again from its start and finds its answers in the
 * memo; a term that ends frees the memo. A term needs at most one MX
 * answer and its address lookups, or the PTR name and its address lookups
 * (once per check) plus one more: SPF_MEMO_MAX. The elapsed limit (RFC
 * 7208 4.6.4 "at least 20 seconds") is checked whenever a step would wait.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "buf.h"
#include "dns.h"
#include "ipaddr.h"
#include "deadline.h"
#include "spf.h"
#include "str.h"

#define SPF_REASON_MAX 200
/* A %{...} value longer than this is cut: the output of one domain-spec is
 * cut to 253 octets anyway, and an explanation to SPF_MAX_EXPLANATION. */
#define SPF_MACRO_VALUE_MAX 1024
/* The buffer a domain-spec is expanded in: past it, labels that the 7.3
 * cut can no longer keep are dropped from the left (see sink_put()). */
#define SPF_EXPAND_MAX 8192
/* Room for the validated names: max_ptr may be raised up to this. */
#define SPF_PTR_CAP 64
/* Lookups one term may have in flight (see the comment at the top). */
#define SPF_MEMO_MAX (DNS_MAX_RRS + SPF_PTR_CAP + 4)
/* What an internal step returns while it waits on DNS: not a result. */
#define R_PENDING ((enum spf_result) - 1)

enum term_kind {
	T_ALL,
	T_INCLUDE,
	T_A,
	T_MX,
	T_PTR,
	T_IP4,
	T_IP6,
	T_EXISTS,
	T_REDIRECT,
	T_EXP,
	T_MODIFIER /* unknown modifier: ignored (RFC 7208 6) */
};

struct term {
	enum term_kind kind;
	char           qual; /* '+', '-', '~', '?' */
	const char    *spec; /* domain-spec or NULL */
	size_t         speclen;
	unsigned int   cidr4;   /* a, mx, ip4 */
	unsigned int   cidr6;   /* a, mx, ip6 */
	uint8_t        net[16]; /* ip4 (4 bytes), ip6 (16 bytes) */
	const char    *text;    /* the whole term */
	size_t         len;
};

struct spf_frame {
	char  *rec; /* the record text, owned; NUL after len */
	size_t len;
	size_t pos; /* where the next term starts */
	char   domain[SPF_MAX_DOMAIN + 2];
	bool   has_all;
	bool   has_redirect;
	bool   has_exp;
	size_t redir_off, redir_len;
	size_t exp_off, exp_len;
	char   inc_qual; /* the qualifier of the include that pushed above */
};

struct spf_query {
	struct dns       *dns;
	struct spf_params par;
	char             *receiver;

	/* One check. */
	struct ipaddr    ip;
	char            *sender;
	char            *local;
	char            *sender_domain;
	char            *helo;
	time_t           now;
	unsigned int     dns_terms;
	unsigned int     voids;
	int              depth; /* frames in use */
	struct spf_frame frames[SPF_MAX_DEPTH];
	char             reason[SPF_REASON_MAX];
	char            *explanation;
	bool             oom;

	/* The validated names of ip (RFC 7208 5.5), found once per check. */
	bool            ptr_done;
	enum dns_status ptr_status;
	unsigned int    nvalid;
	char           *valid[SPF_PTR_CAP];
	const char     *p_domain; /* the <domain> %{p} is chosen for */

	/* The resumable check (see the comment at the top). */
	struct spf_memo {
		char             *name;
		enum dns_type     type;
		struct dns_query *q;
	} memo[SPF_MEMO_MAX];
	size_t nmemo;
	bool   pending; /* a lookup of this step is in flight */
	enum { S_IDLE, S_LOAD, S_RUN, S_EXPLAIN, S_DONE } state;
	enum spf_result    result;
	struct timespec    deadline; /* CLOCK_MONOTONIC */
	struct dns_waiter *waiter;
	struct dns_waiter *own_waiter; /* made when params.waiter is NULL */

	/* What the term being evaluated did, for params.trace. */
	char         tr_target[SPF_MAX_DOMAIN + 2];
	bool         tr_void;
	unsigned int tr_noaddr;
};

/* Outcomes of one term. */
enum {
	M_NOMATCH,
	M_MATCH,
	M_PUSH, /* include: a frame was pushed */
	M_TEMPERROR,
	M_PERMERROR,
	M_PENDING /* a lookup is in flight: evaluate the term again later */
};

const char *
spf_result_str(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

/*
 * Macros (RFC 7208 7).
 */

static bool
is_delim(int c)
{
	/* RFC 7208 7.1 delimiter */
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	       c == '_' || c == '=';
}

static bool
is_unreserved(int c)
{
	/* RFC 3986 2.3, for the URL escaping of upper-case macros (7.3). */
	return str_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Where an expansion goes. */
struct sink {
	struct buf         *out;
	enum spf_macro_kind kind;
	bool                full; /* explain-string: cut at the ceiling */
};

/*
 * RFC 7208 7.3 keeps the right-most labels of an expanded domain-spec
 * within SPF_MAX_DOMAIN octets. Once a partial expansion is longer than
 * SPF_MAX_DOMAIN + 1 octets, whatever comes after it, the cut cannot keep
 * a label that starts before its last SPF_MAX_DOMAIN + 1 octets: drop
 * those labels. When no label starts there, the last label alone is longer
 * than any name: it is kept to its first SPF_MAX_DOMAIN + 1 octets, so
 * that it is still too long if it ends the name, and is still dropped by
 * the cut if labels follow. Returns false when there is nothing to drop.
 */
static bool
domain_compact(struct buf *b)
{
	const size_t keep = SPF_MAX_DOMAIN + 1;
	size_t       from, i;

	if (b->len <= keep)
		return false;
	from = b->len - keep; /* >= 1 */
	for (i = from; i <= b->len; i++)
		if (b->data[i - 1] == '.')
			break;
	if (i > b->len) {
		/* No label starts in the last keep octets: keep the start of
		 * the last label. */
		for (i = from - 1; i > 0 && b->data[i - 1] != '.'; i--)
			;
		memmove(b->data, b->data + i, keep);
		b->len = keep;
	} else {
		memmove(b->data, b->data + i, b->len - i);
		b->len -= i;
	}
	b->data[b->len] = '\0';
	return true;
}

/* Appends [p, p + n) to the expansion; whole: a %XX escape, which is
 * never split. An explain-string is cut at out's ceiling: what does not
 * fit, and everything after it, is dropped. Returns 0, or -1 when out of
 * memory or (domain-spec) the ceiling is too small for a name. */
static int
sink_write(struct sink *s, const char *p, size_t n, bool whole)
{
	struct buf *b = s->out;

	if (s->kind != SPF_MACRO_DOMAIN) {
		if (s->full)
			return 0;
		if (n > b->max - b->len) {
			s->full = true;
			if (whole)
				return 0;
			n = b->max - b->len;
		}
		return buf_append(b, p, n);
	}
	while (n > 0) {
		size_t room = b->max - b->len, k;

		if (room == 0) {
			if (!domain_compact(b))
				return -1; /* a ceiling too small for a name */
			continue;
		}
		k = n < room ? n : room;
		if (buf_append(b, p, k) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

static int
sink_put(struct sink *s, const char *p, size_t n)
{
	return sink_write(s, p, n, false);
}

static int
sink_put_escape(struct sink *s, const char *e)
{
	return sink_write(s, e, 3, true);
}

static int
put_escaped(struct sink *s, const char *p, size_t n, bool escape)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t            i = 0, j;

	if (!escape)
		return sink_put(s, p, n);
	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		char          e[3];

		if (is_unreserved(c)) {
			for (j = i + 1;
			     j < n && is_unreserved((unsigned char)p[j]); j++)
				;
			if (sink_put(s, p + i, j - i) < 0)
				return -1;
			i = j;
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		if (sink_put_escape(s, e) < 0)
			return -1;
		i++;
	}
	return 0;
}

/* Writes the value of a macro letter (lower case) into v (size vsize);
 * returns its length. */
static size_t
macro_value(
    int letter, const struct spf_macro_vars *vars, char *v, size_t vsize)
{
	const char *s = NULL;
	char        tmp[IPADDR_STRLEN];
	size_t      i, n;

	switch (letter) {
	case 's':
		s = vars->sender ? vars->sender : "";
		break;
	case 'l':
		s = vars->local ? vars->local : "";
		break;
	case 'o':
		s = vars->sender_domain ? vars->sender_domain : "";
		break;
	case 'd':
		s = vars->domain ? vars->domain : "";
		break;
	case 'h':
		s = vars->helo ? vars->helo : "unknown";
		break;
	case 'r':
		s = vars->receiver && *vars->receiver ? vars->receiver
						      : "unknown";
		break;
	case 'p':
		s = vars->ptr_name ? vars->ptr_name(vars->ptr_arg) : NULL;
		if (s == NULL)
			s = "unknown";
		break;
	case 't':
		snprintf(tmp, sizeof(tmp), "%lld", (long long)vars->now);
		s = tmp;
		break;
	case 'v':
		s = vars->ip && vars->ip->family == AF_INET6 ? "ip6"
							     : "in-addr";
		break;
	case 'c':
		if (vars->ip == NULL)
			s = "";
		else
			s = ipaddr_str(vars->ip, tmp, sizeof(tmp));
		break;
	case 'i':
		if (vars->ip == NULL) {
			s = "";
		} else if (vars->ip->family == AF_INET6) {
			/* RFC 7208 7.3: dot-format, nibbles in order; the
			 * 7.4 examples write them in lower case. */
			static const char hex[] = "0123456789abcdef";

			n = 0;
			for (i = 0; i < 16 && n + 4 <= vsize; i++) {
				v[n++] = hex[vars->ip->a[i] >> 4];
				v[n++] = '.';
				v[n++] = hex[vars->ip->a[i] & 15];
				v[n++] = '.';
			}
			return n ? n - 1 : 0;
		} else {
			s = ipaddr_str(vars->ip, tmp, sizeof(tmp));
		}
		break;
	default:
		s = "";
		break;
	}
	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n > vsize)
		n = vsize;
	memcpy(v, s, n);
	return n;
}

/* RFC 7208 7.3: split on the delimiters, reverse if asked, keep the
 * rightmost ndigits parts (0: all), join with ".". */
static int
macro_transform(const char *v, size_t n, const char *delims, size_t ndelims,
    unsigned int ndigits, bool reverse, bool escape, struct sink *out)
{
	size_t       parts = 1, i, start, end, skip, k;
	unsigned int keep;

#define ISDELIM(c) (memchr(delims, (c), ndelims) != NULL)
	for (i = 0; i < n; i++)
		if (ISDELIM(v[i]))
			parts++;
	keep = ndigits == 0 || ndigits > parts ? (unsigned int)parts : ndigits;
	if (!reverse) {
		/* The last keep parts, in order. */
		skip = parts - keep;
		for (i = 0; i < n && skip > 0; i++)
			if (ISDELIM(v[i]))
				skip--;
		start = i;
		for (k = start; k <= n; k++) {
			if (k == n || ISDELIM(v[k])) {
				if (put_escaped(
					out, v + start, k - start, escape) < 0)
					return -1;
				if (k < n && sink_put(out, ".", 1) < 0)
					return -1;
				start = k + 1;
			}
		}
		return 0;
	}
	/* Reversed: the rightmost keep parts of the reversed list are the
	 * first keep parts of the original, written last to first. */
	end = 0;
	skip = keep;
	for (i = 0; i <= n; i++) {
		if (i == n || ISDELIM(v[i])) {
			if (--skip == 0)
				break;
		}
	}
	end = i; /* the end of part number keep */
	while (1) {
		start = end;
		while (start > 0 && !ISDELIM(v[start - 1]))
			start--;
		if (put_escaped(out, v + start, end - start, escape) < 0)
			return -1;
		if (start == 0)
			break;
		if (sink_put(out, ".", 1) < 0)
			return -1;
		end = start - 1;
	}
#undef ISDELIM
	return 0;
}

int
spf_macro_expand(const char *p, size_t n, enum spf_macro_kind kind,
    const struct spf_macro_vars *vars, struct buf *out)
{
	struct sink s = {out, kind, false};
	size_t      i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		int           letter;
		bool          upper, reverse = false;
		unsigned int  ndigits = 0;
		bool          digits = false;
		const char   *delims;
		size_t        ndelims;
		char          v[SPF_MACRO_VALUE_MAX];
		size_t        vn;

		if (c != '%') {
			/* macro-literal = %x21-24 / %x26-7E; SP only in an
			 * explain-string (7.1). */
			if (c < 0x21 || c > 0x7e) {
				if (!(c == ' ' && kind == SPF_MACRO_EXPLAIN))
					return 1;
			}
			if (vars && sink_put(&s, p + i, 1) < 0)
				return -1;
			i++;
			continue;
		}
		if (i + 1 >= n)
			return 1;
		switch (p[i + 1]) {
		case '%':
			if (vars && sink_put(&s, "%", 1) < 0)
				return -1;
			i += 2;
			continue;
		case '_':
			if (vars && sink_put(&s, " ", 1) < 0)
				return -1;
			i += 2;
			continue;
		case '-':
			if (vars && sink_put_escape(&s, "%20") < 0)
				return -1;
			i += 2;
			continue;
		case '{':
			break;
		default:
			return 1;
		}
		i += 2;
		if (i >= n)
			return 1;
		letter = (unsigned char)p[i];
		upper = letter >= 'A' && letter <= 'Z';
		letter = str_tolower(letter);
		if (strchr("slodiphcrtv", letter) == NULL || letter == 0)
			return 1;
		if ((letter == 'c' || letter == 'r' || letter == 't') &&
		    kind != SPF_MACRO_EXPLAIN)
			return 1;
		i++;
		while (i < n && str_isdigit((unsigned char)p[i])) {
			digits = true;
			/* Saturate: any count above 255 keeps every part
			 * (a name has at most 127 labels). */
			if (ndigits < 1000)
				ndigits = ndigits * 10 + (unsigned)(p[i] - '0');
			i++;
		}
		if (digits && ndigits == 0)
			return 1; /* 7.3: the value MUST be nonzero */
		if (i < n && (p[i] == 'r' || p[i] == 'R')) {
			reverse = true;
			i++;
		}
		delims = p + i;
		while (i < n && is_delim((unsigned char)p[i]))
			i++;
		ndelims = (size_t)(p + i - delims);
		if (i >= n || p[i] != '}')
			return 1;
		i++;
		if (vars == NULL)
			continue;
		if (ndelims == 0) {
			delims = ".";
			ndelims = 1;
		}
		vn = macro_value(letter, vars, v, sizeof(v));
		if (macro_transform(v, vn, delims, ndelims, ndigits, reverse,
			upper, &s) < 0)
			return -1;
	}
	return 0;
}

size_t
spf_domain_truncate(char *name, size_t len, size_t max)
{
	size_t dot = len > 0 && name[len - 1] == '.' ? 1 : 0;
	size_t cut = 0;

	while (len - cut - dot > max) {
		const char *d = memchr(name + cut, '.', len - cut - dot);

		if (d == NULL)
			break;
		cut = (size_t)(d - name) + 1;
	}
	if (cut > 0) {
		memmove(name, name + cut, len - cut);
		len -= cut;
		name[len] = '\0';
	}
	return len;
}

/*
 * Record syntax (RFC 7208 4.5, 4.6, 5, 6, 7.1, 12).
 */

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel_valid(const char *p, size_t n)
{
	bool   alpha = false, dash = false;
	size_t i;

	if (n == 0 || !str_isalnum((unsigned char)p[0]) ||
	    !str_isalnum((unsigned char)p[n - 1]))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (str_isalpha(c))
			alpha = true;
		else if (c == '-')
			dash = true;
		else if (!str_isdigit(c))
			return false;
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static bool
domain_spec_valid(const char *p, size_t n)
{
	size_t i = 0, tail = 0, end;

	if (n == 0 || spf_macro_expand(p, n, SPF_MACRO_DOMAIN, NULL, NULL))
		return false;
	/* Find where the literal text after the last macro-expand starts. */
	while (i < n) {
		if (p[i] != '%') {
			i++;
			continue;
		}
		if (p[i + 1] == '{') {
			const char *close = memchr(p + i, '}', n - i);

			i = (size_t)(close - p) + 1; /* syntax checked above */
		} else {
			i += 2;
		}
		tail = i;
	}
	if (tail == n)
		return true;
	end = n;
	if (p[end - 1] == '.')
		end--;
	for (i = end; i > tail; i--) {
		if (p[i - 1] == '.')
			return toplabel_valid(p + i, end - i);
	}
	return false;
}

/* ip4-cidr-length = "/" ( "0" / %x31-39 0*1DIGIT ), at most 32;
 * ip6-cidr-length = "/" ( "0" / %x31-39 0*2DIGIT ), at most 128. */
static bool
cidr_len(const char *p, size_t n, unsigned int max, unsigned int *v)
{
	size_t i;

	if (n == 0 || n > 3 || (p[0] == '0' && n > 1))
		return false;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (!str_isdigit((unsigned char)p[i]))
			return false;
		*v = *v * 10 + (unsigned)(p[i] - '0');
	}
	return *v <= max;
}

/* Takes a trailing dual-cidr-length off [p, p + *n): "/4", "//6" or
 * "/4//6". Returns false for a malformed length. */
static bool
split_dual_cidr(const char *p, size_t *n, unsigned int *c4, unsigned int *c6)
{
	size_t e = *n, d;

	*c4 = 32;
	*c6 = 128;
	/* "//" ip6-cidr at the very end */
	d = e;
	while (d > 0 && str_isdigit((unsigned char)p[d - 1]))
		d--;
	if (d < e && d >= 2 && p[d - 1] == '/' && p[d - 2] == '/') {
		if (!cidr_len(p + d, e - d, 128, c6))
			return false;
		e = d - 2;
	}
	d = e;
	while (d > 0 && str_isdigit((unsigned char)p[d - 1]))
		d--;
	if (d < e && d >= 1 && p[d - 1] == '/') {
		if (!cidr_len(p + d, e - d, 32, c4))
			return false;
		e = d - 1;
	}
	*n = e;
	return true;
}

/* ip4-network = qnum "." qnum "." qnum "." qnum, no leading zeros. */
static bool
ip4_parse(const char *p, size_t n, uint8_t out[4])
{
	size_t i = 0;
	int    k;

	for (k = 0; k < 4; k++) {
		unsigned int v = 0;
		size_t       s = i;

		if (k > 0) {
			if (i >= n || p[i] != '.')
				return false;
			s = ++i;
		}
		while (i < n && str_isdigit((unsigned char)p[i]) && i - s < 3)
			v = v * 10 + (unsigned)(p[i++] - '0');
		if (i == s || v > 255 || (p[s] == '0' && i - s > 1))
			return false;
		out[k] = (uint8_t)v;
	}
	return i == n;
}

static bool
ip6_parse(const char *p, size_t n, uint8_t out[16])
{
	char   tmp[IPADDR_STRLEN + 1];
	size_t i;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!(str_isdigit(c) || c == ':' || c == '.' ||
			(str_tolower(c) >= 'a' && str_tolower(c) <= 'f')))
			return false;
	}
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ): the length of a
 * modifier name followed by "=", or 0 when the term is not a modifier. */
static size_t
modifier_name(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || !str_isalpha((unsigned char)p[0]))
		return 0;
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '=')
			return i;
		if (!(str_isalnum(c) || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 0;
}

/* Parses one term. Returns true, or false with *why set. */
static bool
term_parse(const char *p, size_t n, struct term *t, const char **why)
{
	size_t      nl, i, arg;
	const char *name;

	memset(t, 0, sizeof(*t));
	t->text = p;
	t->len = n;
	t->qual = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	nl = modifier_name(p, n);
	if (nl > 0) {
		t->spec = p + nl + 1;
		t->speclen = n - nl - 1;
		if (str_ieq(p, nl, "redirect") || str_ieq(p, nl, "exp")) {
			t->kind = str_ieq(p, nl, "exp") ? T_EXP : T_REDIRECT;
			if (!domain_spec_valid(t->spec, t->speclen)) {
				*why = t->kind == T_EXP
					   ? "bad exp= domain"
					   : "bad redirect= domain";
				return false;
			}
			return true;
		}
		/* unknown-modifier = name "=" macro-string (RFC 7208 12);
		 * every macro letter is accepted, the value is never used. */
		t->kind = T_MODIFIER;
		if (spf_macro_expand(t->spec, t->speclen, SPF_MACRO_EXPLAIN,
			NULL, NULL) != 0 ||
		    memchr(t->spec, ' ', t->speclen) != NULL) {
			*why = "bad macro in modifier";
			return false;
		}
		return true;
	}
	i = 0;
	if (n > 0 && strchr("+-~?", p[0]) != NULL) {
		t->qual = p[0];
		i = 1;
	}
	name = p + i;
	while (i < n && str_isalnum((unsigned char)p[i]))
		i++;
	nl = (size_t)(p + i - name);
	arg = i;
	*why = "syntax error";
	if (str_ieq(name, nl, "all")) {
		t->kind = T_ALL;
		if (arg != n) {
			*why = "bad all";
			return false;
		}
		return true;
	}
	if (str_ieq(name, nl, "include") || str_ieq(name, nl, "exists") ||
	    str_ieq(name, nl, "ptr")) {
		t->kind = str_ieq(name, nl, "include")  ? T_INCLUDE
			  : str_ieq(name, nl, "exists") ? T_EXISTS
							: T_PTR;
		if (arg == n && t->kind == T_PTR)
			return true;
		if (arg == n || p[arg] != ':' ||
		    !domain_spec_valid(p + arg + 1, n - arg - 1)) {
			*why = t->kind == T_INCLUDE  ? "bad include"
			       : t->kind == T_EXISTS ? "bad exists"
						     : "bad ptr";
			return false;
		}
		t->spec = p + arg + 1;
		t->speclen = n - arg - 1;
		return true;
	}
	if (str_ieq(name, nl, "a") || str_ieq(name, nl, "mx")) {
		size_t rest = n - arg;

		t->kind = str_ieq(name, nl, "a") ? T_A : T_MX;
		*why = t->kind == T_A ? "bad a" : "bad mx";
		if (!split_dual_cidr(p + arg, &rest, &t->cidr4, &t->cidr6))
			return false;
		if (rest == 0)
			return true;
		if (p[arg] != ':' || !domain_spec_valid(p + arg + 1, rest - 1))
			return false;
		t->spec = p + arg + 1;
		t->speclen = rest - 1;
		return true;
	}
	if (str_ieq(name, nl, "ip4") || str_ieq(name, nl, "ip6")) {
		const char *slash;
		size_t      an;

		t->kind = str_ieq(name, nl, "ip4") ? T_IP4 : T_IP6;
		*why = t->kind == T_IP4 ? "bad ip4" : "bad ip6";
		if (arg == n || p[arg] != ':')
			return false;
		arg++;
		slash = memchr(p + arg, '/', n - arg);
		an = slash ? (size_t)(slash - (p + arg)) : n - arg;
		if (t->kind == T_IP4) {
			if (!ip4_parse(p + arg, an, t->net))
				return false;
			if (slash &&
			    !cidr_len(slash + 1, (size_t)(p + n - slash - 1),
				32, &t->cidr4))
				return false;
		} else {
			if (!ip6_parse(p + arg, an, t->net))
				return false;
			if (slash &&
			    !cidr_len(slash + 1, (size_t)(p + n - slash - 1),
				128, &t->cidr6))
				return false;
		}
		return true;
	}
	*why = "unknown mechanism";
	return false;
}

/* The next term of [rec, rec + len) from *pos (terms are separated by one
 * or more SP, RFC 7208 4.6.1); false at the end. */
static bool
next_term(const char *rec, size_t len, size_t *pos, const char **tp, size_t *tn)
{
	size_t i = *pos, s;

	while (i < len && rec[i] == ' ')
		i++;
	if (i >= len) {
		*pos = i;
		return false;
	}
	s = i;
	while (i < len && rec[i] != ' ')
		i++;
	*tp = rec + s;
	*tn = i - s;
	*pos = i;
	return true;
}

/* RFC 7208 4.5: "v=spf1" (any case) then the end or SP. */
static bool
is_spf_record(const char *p, size_t n)
{
	return n >= 6 && str_ieq(p, 6, "v=spf1") && (n == 6 || p[6] == ' ');
}

/* The syntax pass over a whole record (RFC 7208 4.6: any error anywhere is
 * permerror before anything is evaluated). Fills f's modifier fields when
 * f is not NULL. */
static bool
record_check(const char *rec, size_t len, struct spf_frame *f, const char **why)
{
	size_t       pos = 6, tn;
	const char  *tp;
	struct term  t;
	bool         has_all = false;
	unsigned int nredir = 0, nexp = 0;

	*why = "not an SPF record";
	if (!is_spf_record(rec, len))
		return false;
	while (next_term(rec, len, &pos, &tp, &tn)) {
		if (!term_parse(tp, tn, &t, why))
			return false;
		if (t.kind == T_ALL)
			has_all = true;
		if (t.kind == T_REDIRECT && nredir++ == 0 && f) {
			f->redir_off = (size_t)(t.spec - rec);
			f->redir_len = t.speclen;
		}
		if (t.kind == T_EXP && nexp++ == 0 && f) {
			f->exp_off = (size_t)(t.spec - rec);
			f->exp_len = t.speclen;
		}
	}
	/* RFC 7208 6: redirect= and exp= at most once each. */
	if (nredir > 1 || nexp > 1) {
		*why = nredir > 1 ? "redirect= twice" : "exp= twice";
		return false;
	}
	if (f) {
		f->has_all = has_all;
		f->has_redirect = nredir > 0;
		f->has_exp = nexp > 0;
	}
	return true;
}

bool
spf_record_valid(const char *rec, size_t len, const char **why_r)
{
	const char *why = NULL;
	bool        ok = record_check(rec, len, NULL, &why);

	if (why_r)
		*why_r = ok ? NULL : why;
	return ok;
}

/*
 * Evaluation.
 */

static void set_reason(struct spf_query *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_reason(struct spf_query *q, const char *fmt, ...)
{
	va_list ap;
	char   *s;

	va_start(ap, fmt);
	vsnprintf(q->reason, sizeof(q->reason), fmt, ap);
	va_end(ap);
	for (s = q->reason; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

struct spf_query *
spf_query_new(struct dns *dns, const struct spf_params *par)
{
	struct spf_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->dns = dns;
	if (par)
		q->par = *par;
	if (q->par.max_dns_terms == 0)
		q->par.max_dns_terms = SPF_MAX_DNS_TERMS;
	if (q->par.max_void == 0)
		q->par.max_void = SPF_MAX_VOID;
	if (q->par.max_mx == 0)
		q->par.max_mx = SPF_MAX_MX;
	if (q->par.max_ptr == 0)
		q->par.max_ptr = SPF_MAX_PTR;
	if (q->par.max_ptr > sizeof(q->valid) / sizeof(q->valid[0]))
		q->par.max_ptr = sizeof(q->valid) / sizeof(q->valid[0]);
	q->receiver = strdup(par && par->receiver ? par->receiver : "unknown");
	if (q->receiver == NULL) {
		free(q);
		return NULL;
	}
	q->par.receiver = q->receiver;
	if (!(q->par.timeout > 0))
		q->par.timeout = SPF_DEFAULT_TIMEOUT;
	if (q->par.timeout > SPF_MAX_TIMEOUT)
		q->par.timeout = SPF_MAX_TIMEOUT;
	q->waiter = q->par.waiter;
	if (q->waiter == NULL && dns != NULL) {
		if ((q->own_waiter = dns_waiter_new(dns)) == NULL) {
			free(q->receiver);
			free(q);
			return NULL;
		}
		q->waiter = q->own_waiter;
	}
	snprintf(q->reason, sizeof(q->reason), "not checked");
	return q;
}

static void
memo_clear(struct spf_query *q)
{
	size_t i;

	for (i = 0; i < q->nmemo; i++) {
		dns_query_free(q->memo[i].q);
		free(q->memo[i].name);
	}
	q->nmemo = 0;
}

/* The answer to (name, type) for the term in progress, or NULL: pending
 * (q->pending set) or out of memory (q->oom set). The answer lives until
 * memo_clear(). */
static const struct dns_answer *
answer_get(struct spf_query *q, const char *name, enum dns_type type)
{
	struct spf_memo *e = NULL;
	size_t           i;

	for (i = 0; i < q->nmemo; i++)
		if (q->memo[i].type == type &&
		    strcmp(q->memo[i].name, name) == 0) {
			e = &q->memo[i];
			break;
		}
	if (e == NULL) {
		if (q->nmemo == SPF_MEMO_MAX) {
			q->oom = true; /* cannot happen: see SPF_MEMO_MAX */
			return NULL;
		}
		e = &q->memo[q->nmemo];
		if ((e->name = strdup(name)) == NULL ||
		    (e->q = dns_start(q->dns, name, type)) == NULL) {
			free(e->name);
			q->oom = true;
			return NULL;
		}
		e->type = type;
		q->nmemo++;
		if (q->waiter != NULL)
			dns_query_notify(e->q, q->waiter);
	}
	if (!dns_done(e->q)) {
		q->pending = true;
		return NULL;
	}
	return dns_wait(e->q); /* done: does not block */
}

static void
check_reset(struct spf_query *q)
{
	unsigned int i;

	memo_clear(q);
	q->pending = false;
	q->state = S_IDLE;

	for (i = 0; i < SPF_MAX_DEPTH; i++) {
		free(q->frames[i].rec);
		q->frames[i].rec = NULL;
	}
	for (i = 0; i < q->nvalid; i++)
		free(q->valid[i]);
	q->nvalid = 0;
	q->ptr_done = false;
	q->depth = 0;
	free(q->sender);
	free(q->local);
	free(q->sender_domain);
	free(q->helo);
	free(q->explanation);
	q->sender = q->local = q->sender_domain = q->helo = NULL;
	q->explanation = NULL;
	q->dns_terms = q->voids = 0;
	q->oom = false;
}

void
spf_query_free(struct spf_query *q)
{
	if (q == NULL)
		return;
	check_reset(q);
	dns_waiter_free(q->own_waiter);
	free(q->receiver);
	free(q);
}

const char *
spf_explanation(const struct spf_query *q)
{
	return q->explanation;
}

const char *
spf_reason(const struct spf_query *q)
{
	return q->reason;
}

unsigned int
spf_dns_terms(const struct spf_query *q)
{
	return q->dns_terms;
}

unsigned int
spf_void_lookups(const struct spf_query *q)
{
	return q->voids;
}

static enum spf_result
qual_result(char qual)
{
	switch (qual) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

static bool
answer_has_ip(const struct dns_answer *a, const struct ipaddr *ip,
    unsigned int c4, unsigned int c6)
{
	size_t        i;
	struct ipaddr x;

	if (a->status != DNS_OK)
		return false;
	for (i = 0; i < a->n; i++) {
		if (!ipaddr_from_bytes(&x, a->rr[i].data, a->rr[i].len))
			continue;
		if (x.family != ip->family)
			continue;
		if (ipaddr_match(ip, &x, ip->family == AF_INET ? c4 : c6))
			return true;
	}
	return false;
}

static enum dns_type
addr_type(const struct spf_query *q)
{
	return q->ip.family == AF_INET6 ? DNS_T_AAAA : DNS_T_A;
}

/* RFC 7208 5.5: the validated names of ip, found once per check: the
 * first max_ptr PTR names (the rest ignored, 4.6.4) whose A/AAAA records
 * include ip. A DNS error on an address lookup skips that name. */
static void
ptr_validate(struct spf_query *q)
{
	char                     rev[80];
	const struct dns_answer *a, *b[SPF_PTR_CAP];
	size_t                   i, n;
	bool                     wait = false;

	if (q->ptr_done)
		return;
	ipaddr_reverse_name(&q->ip, rev, sizeof(rev));
	if ((a = answer_get(q, rev, DNS_T_PTR)) == NULL) {
		if (q->oom) {
			q->ptr_done = true;
			q->ptr_status = DNS_TEMPFAIL;
		}
		return;
	}
	n = a->status == DNS_OK ? a->n : 0;
	if (n > q->par.max_ptr)
		n = q->par.max_ptr;
	/* Start the address lookups together, then collect them. */
	for (i = 0; i < n; i++)
		if ((b[i] = answer_get(q, a->rr[i].data, addr_type(q))) == NULL)
			wait = true;
	if (wait && !q->oom)
		return;
	q->ptr_done = true;
	q->ptr_status = a->status;
	for (i = 0; i < n; i++) {
		if (b[i] == NULL || !answer_has_ip(b[i], &q->ip, 32, 128))
			continue;
		if ((q->valid[q->nvalid] = strdup(a->rr[i].data)) == NULL)
			q->oom = true;
		else
			q->nvalid++;
	}
}

/* True when name is dom or below it (case-insensitive, trailing dots
 * ignored). */
static bool
name_under(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom), i;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && dom[d - 1] == '.')
		d--;
	if (d == 0 || n < d)
		return false;
	for (i = 0; i < d; i++)
		if (str_tolower((unsigned char)name[n - d + i]) !=
		    str_tolower((unsigned char)dom[i]))
			return false;
	return n == d || name[n - d - 1] == '.';
}

/* %{p} (RFC 7208 7.3): the domain itself if validated, else a validated
 * subdomain of it, else any validated name, else "unknown". */
static const char *
ptr_name_cb(void *arg)
{
	struct spf_query *q = arg;
	unsigned int      i;

	ptr_validate(q);
	if (!q->ptr_done)
		return NULL; /* pending: the expansion is made again */
	for (i = 0; i < q->nvalid; i++)
		if (str_domain_eq(q->valid[i], q->p_domain))
			return q->valid[i];
	for (i = 0; i < q->nvalid; i++)
		if (name_under(q->valid[i], q->p_domain))
			return q->valid[i];
	return q->nvalid > 0 ? q->valid[0] : NULL;
}

static void
vars_init(struct spf_query *q, const char *domain, struct spf_macro_vars *v)
{
	memset(v, 0, sizeof(*v));
	v->sender = q->sender;
	v->local = q->local;
	v->sender_domain = q->sender_domain;
	v->domain = domain;
	v->ip = &q->ip;
	v->helo = q->helo;
	v->receiver = q->par.receiver;
	v->now = q->now;
	v->ptr_name = ptr_name_cb;
	v->ptr_arg = q;
	q->p_domain = domain;
}

static bool
spec_uses_p(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i++)
		if (p[i] == '%' && p[i + 1] == '{' &&
		    (p[i + 2] == 'p' || p[i + 2] == 'P'))
			return true;
	return false;
}

/* Counts one DNS-querying term (RFC 7208 4.6.4); false past the limit. */
static bool
count_term(struct spf_query *q, const char *what)
{
	if (++q->dns_terms > q->par.max_dns_terms) {
		set_reason(q, "DNS lookup limit (%u terms) at %s",
		    q->par.max_dns_terms, what);
		return false;
	}
	return true;
}

/* Counts a void lookup (RFC 7208 4.6.4); false past the limit. */
static bool
count_void(struct spf_query *q, const char *name)
{
	q->tr_void = true;
	if (++q->voids > q->par.max_void) {
		set_reason(q, "void lookup limit at %s", name);
		return false;
	}
	return true;
}

/* Expands a domain-spec (or the frame's domain when spec is NULL) into
 * out, truncated per RFC 7208 7.3. Returns 0, or -1 on OOM. */
static int
target_name(struct spf_query *q, const char *domain, const char *spec,
    size_t len, char out[SPF_MAX_DOMAIN + 2])
{
	struct spf_macro_vars v;
	struct buf            b;
	size_t                n;
	int                   rc;

	if (spec == NULL) {
		str_lcpy(out, domain, SPF_MAX_DOMAIN + 2);
		return 0;
	}
	buf_init(&b, SPF_EXPAND_MAX);
	vars_init(q, domain, &v);
	rc = spf_macro_expand(spec, len, SPF_MACRO_DOMAIN, &v, &b);
	if (rc != 0) {
		/* The syntax was checked with the record, and the buffer holds
		 * any name (labels are dropped from the left as it fills): only
		 * memory can run out. */
		if (rc < 0)
			q->oom = true;
		buf_free(&b);
		return -1;
	}
	if (b.data == NULL) {
		out[0] = '\0';
		return 0;
	}
	n = spf_domain_truncate(b.data, b.len, SPF_MAX_DOMAIN);
	if (n > SPF_MAX_DOMAIN + 1)
		n = SPF_MAX_DOMAIN + 1; /* one long label: invalid anyway */
	memcpy(out, b.data, n);
	out[n] = '\0';
	buf_free(&b);
	return 0;
}

/* RFC 7208 4.3: a domain that is malformed or not multi-label gives
 * "none" without a lookup. */
static bool
domain_ok(const char *d)
{
	size_t n = strlen(d), i, label = 0, labels = 0;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > SPF_MAX_DOMAIN || d[0] == '[')
		return false;
	for (i = 0; i <= n; i++) {
		if (i == n || d[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++;
			label = 0;
		} else {
			label++;
		}
	}
	return labels >= 2;
}

/* RFC 7208 4.4, 4.5: loads the one SPF record of name into f (whose
 * domain becomes name) and checks its syntax. SPF_PASS means "loaded";
 * R_PENDING leaves f as it was. */
static enum spf_result
load_record_0(struct spf_query *q, struct spf_frame *f, const char *name)
{
	const struct dns_answer *a = NULL;
	size_t                   i, found = 0, which = 0;
	const char              *why;

	if (domain_ok(name) && (a = answer_get(q, name, DNS_T_TXT)) == NULL)
		return q->oom ? SPF_TEMPERROR : R_PENDING;
	if (f->domain != name)
		str_lcpy(f->domain, name, sizeof(f->domain));
	free(f->rec);
	f->rec = NULL;
	f->pos = 6;
	f->has_all = f->has_redirect = f->has_exp = false;
	if (a == NULL) {
		set_reason(q, "invalid domain %s", f->domain);
		return SPF_NONE;
	}
	switch (a->status) {
	case DNS_OK:
		break;
	case DNS_TEMPFAIL:
		set_reason(q, "%s at %s",
		    a->why && *a->why ? a->why : "DNS error", f->domain);
		return SPF_TEMPERROR;
	default:
		set_reason(q, "no SPF record at %s", f->domain);
		return SPF_NONE;
	}
	for (i = 0; i < a->n; i++) {
		if (is_spf_record(a->rr[i].data, a->rr[i].len)) {
			found++;
			which = i;
		}
	}
	if (found > 1) {
		set_reason(q, "multiple SPF records at %s", f->domain);
		return SPF_PERMERROR;
	}
	/* RFC 7208 4.5 needs the whole set: a "v=spf1" beyond the cut
	 * (DNS_MAX_RRS, DNS_MAX_ANSWER) would make the one record seen two
	 * (permerror), or the none seen one. */
	if (a->truncated) {
		set_reason(
		    q, "TXT answer at %s too large to read whole", f->domain);
		return SPF_TEMPERROR;
	}
	if (found == 0) {
		set_reason(q, "no SPF record at %s", f->domain);
		return SPF_NONE;
	}
	f->len = a->rr[which].len;
	f->rec = malloc(f->len + 1);
	if (f->rec == NULL) {
		q->oom = true;
		return SPF_TEMPERROR;
	}
	memcpy(f->rec, a->rr[which].data, f->len);
	f->rec[f->len] = '\0';
	if (!record_check(f->rec, f->len, f, &why)) {
		set_reason(q, "%s in the record of %s", why, f->domain);
		return SPF_PERMERROR;
	}
	return SPF_PASS;
}

/* load_record_0(), and its params.trace event once it is done. */
static enum spf_result
load_record(struct spf_query *q, struct spf_frame *f, const char *name)
{
	enum spf_result  r = load_record_0(q, f, name);
	struct spf_trace e;

	if (r == R_PENDING || q->par.trace == NULL)
		return r;
	memset(&e, 0, sizeof(e));
	e.kind = SPF_TRACE_RECORD;
	e.depth = (unsigned int)(f - q->frames);
	e.domain = f->domain;
	e.text = f->rec;
	e.len = f->rec != NULL ? f->len : 0;
	e.result = r;
	e.reason = r == SPF_PASS ? "" : q->reason;
	e.mech = "";
	e.target = "";
	e.dns_terms = q->dns_terms;
	e.voids = q->voids;
	q->par.trace(q->par.trace_arg, &e);
	return r;
}

static const char *
term_mech(enum term_kind k)
{
	static const char *const names[] = {"all", "include", "a", "mx", "ptr",
	    "ip4", "ip6", "exists", "redirect", "exp", ""};

	return names[k];
}

/* The params.trace event of a term that is done: m is its M_ outcome. */
static void
trace_term(struct spf_query *q, unsigned int depth, const char *domain,
    const struct term *t, int m)
{
	struct spf_trace e;

	if (q->par.trace == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.kind = SPF_TRACE_TERM;
	e.depth = depth;
	e.domain = domain;
	e.text = t->text;
	e.len = t->len;
	e.result = m == M_TEMPERROR   ? SPF_TEMPERROR
		   : m == M_PERMERROR ? SPF_PERMERROR
				      : SPF_PASS;
	e.reason = e.result == SPF_PASS ? "" : q->reason;
	e.mech = term_mech(t->kind);
	e.qual = t->qual;
	e.target = q->tr_target;
	e.dns_terms = q->dns_terms;
	e.voids = q->voids;
	e.void_lookup = q->tr_void;
	e.mx_noaddr = q->tr_noaddr;
	e.matched = m == M_MATCH;
	q->par.trace(q->par.trace_arg, &e);
}

static void
trace_reset(struct spf_query *q)
{
	q->tr_target[0] = '\0';
	q->tr_void = false;
	q->tr_noaddr = 0;
}

/* True when name is the domain of a frame below the top one: the reason
 * for a limit reached by a loop. */
static bool
on_stack(const struct spf_query *q, const char *name)
{
	int i;

	for (i = 0; i < q->depth; i++)
		if (str_domain_eq(q->frames[i].domain, name))
			return true;
	return false;
}

/* Looks up name's addresses (type) and tells whether ip is among them. */
static int
eval_addr(struct spf_query *q, const char *name, enum dns_type type,
    unsigned int c4, unsigned int c6, bool any)
{
	const struct dns_answer *a = answer_get(q, name, type);
	int                      r;

	if (a == NULL)
		return q->oom ? M_TEMPERROR : M_PENDING;
	switch (a->status) {
	case DNS_OK:
		r = any || answer_has_ip(a, &q->ip, c4, c6) ? M_MATCH
							    : M_NOMATCH;
		break;
	case DNS_TEMPFAIL:
		set_reason(q, "%s at %s",
		    a->why && *a->why ? a->why : "DNS error", name);
		r = M_TEMPERROR;
		break;
	case DNS_BADNAME:
		/* Not a name DNS can carry: as if it did not exist (RFC 7208
		 * 4.3), but no lookup was made, so it is not void. */
		r = M_NOMATCH;
		break;
	default:
		r = count_void(q, name) ? M_NOMATCH : M_PERMERROR;
		break;
	}
	return r;
}

/* RFC 7208 5.4 */
static int
eval_mx(struct spf_query *q, const char *name, unsigned int c4, unsigned int c6)
{
	const struct dns_answer *a = answer_get(q, name, DNS_T_MX);
	const struct dns_answer *b[DNS_MAX_RRS];
	size_t                   i, n;
	int                      r = M_NOMATCH;
	bool                     tempfail = false, wait = false;

	if (a == NULL)
		return q->oom ? M_TEMPERROR : M_PENDING;
	switch (a->status) {
	case DNS_OK:
		break;
	case DNS_TEMPFAIL:
		set_reason(q, "%s at %s",
		    a->why && *a->why ? a->why : "DNS error", name);
		return M_TEMPERROR;
	case DNS_BADNAME:
		return M_NOMATCH;
	default:
		return count_void(q, name) ? M_NOMATCH : M_PERMERROR;
	}
	n = a->n;
	if (n > q->par.max_mx || n > sizeof(b) / sizeof(b[0]) || a->truncated) {
		set_reason(
		    q, "more than %u MX names at %s", q->par.max_mx, name);
		return M_PERMERROR;
	}
	/* Start every address lookup, then collect them. */
	for (i = 0; i < n; i++) {
		b[i] = NULL;
		if (a->rr[i].data[0] == '\0')
			continue; /* null MX, RFC 7505 */
		if ((b[i] = answer_get(q, a->rr[i].data, addr_type(q))) == NULL)
			wait = true;
	}
	if (q->oom)
		return M_TEMPERROR;
	if (wait)
		return M_PENDING;
	for (i = 0; i < n; i++) {
		if (b[i] == NULL)
			continue;
		if (r == M_NOMATCH && answer_has_ip(b[i], &q->ip, c4, c6))
			r = M_MATCH;
		if (b[i]->status == DNS_NXDOMAIN || b[i]->status == DNS_NODATA)
			q->tr_noaddr++;
		if (b[i]->status == DNS_TEMPFAIL)
			tempfail = true;
	}
	if (r == M_NOMATCH && tempfail) {
		set_reason(q, "DNS error at an MX host of %s", name);
		return M_TEMPERROR;
	}
	return r;
}

/* RFC 7208 5.5 */
static int
eval_ptr(struct spf_query *q, const char *target)
{
	unsigned int i;

	ptr_validate(q);
	if (!q->ptr_done)
		return M_PENDING;
	if (q->ptr_status == DNS_NXDOMAIN || q->ptr_status == DNS_NODATA) {
		if (!count_void(q, "the PTR name"))
			return M_PERMERROR;
		return M_NOMATCH;
	}
	for (i = 0; i < q->nvalid; i++)
		if (name_under(q->valid[i], target))
			return M_MATCH;
	return M_NOMATCH;
}

static int
push_frame(struct spf_query *q, const char *name, char qual)
{
	struct spf_frame *f;
	enum spf_result   r;

	if (q->depth >= SPF_MAX_DEPTH) {
		set_reason(q, "include nesting too deep at %s", name);
		return M_PERMERROR;
	}
	f = &q->frames[q->depth];
	r = load_record(q, f, name);
	if (r == R_PENDING)
		return M_PENDING;
	q->frames[q->depth - 1].inc_qual = qual;
	q->depth++;
	if (r == SPF_PASS)
		return M_PUSH;
	if (r == SPF_TEMPERROR)
		return M_TEMPERROR;
	/* RFC 7208 5.2: include of none or permerror is permerror. */
	if (r == SPF_NONE)
		set_reason(q, "include:%s has no SPF record", name);
	return M_PERMERROR;
}

static int
eval_term(struct spf_query *q, struct spf_frame *f, const struct term *t)
{
	char name[SPF_MAX_DOMAIN + 2];
	char what[32];

	switch (t->kind) {
	case T_ALL:
		return M_MATCH;
	case T_IP4:
	case T_IP6: {
		struct ipaddr net;

		memset(&net, 0, sizeof(net));
		net.family = t->kind == T_IP4 ? AF_INET : AF_INET6;
		memcpy(net.a, t->net, t->kind == T_IP4 ? 4 : 16);
		if (q->ip.family != net.family)
			return M_NOMATCH;
		return ipaddr_match(
			   &q->ip, &net, t->kind == T_IP4 ? t->cidr4 : t->cidr6)
			   ? M_MATCH
			   : M_NOMATCH;
	}
	case T_MODIFIER:
	case T_REDIRECT:
	case T_EXP:
		return M_NOMATCH;
	default:
		break;
	}
	snprintf(what, sizeof(what), "%.*s", (int)(t->len < 24 ? t->len : 24),
	    t->text);
	/* RFC 7208 4.6.4: the PTR lookup of a %{p} counts as well. */
	if (t->spec && spec_uses_p(t->spec, t->speclen) && !count_term(q, what))
		return M_PERMERROR;
	if (target_name(q, f->domain, t->spec, t->speclen, name) < 0) {
		set_reason(q, "macro expansion failed in %s", what);
		return M_PERMERROR;
	}
	if (q->pending)
		return M_PENDING; /* %{p}: the PTR names are not in yet */
	if (q->par.trace != NULL)
		str_lcpy(q->tr_target, name, sizeof(q->tr_target));
	if (!count_term(q, what)) {
		if (t->kind == T_INCLUDE && on_stack(q, name))
			set_reason(q, "include loop at %s", name);
		return M_PERMERROR;
	}
	switch (t->kind) {
	case T_A:
		return eval_addr(
		    q, name, addr_type(q), t->cidr4, t->cidr6, false);
	case T_EXISTS:
		/* RFC 7208 5.7: always an A lookup. */
		return eval_addr(q, name, DNS_T_A, 32, 128, true);
	case T_MX:
		return eval_mx(q, name, t->cidr4, t->cidr6);
	case T_PTR:
		return eval_ptr(q, name);
	case T_INCLUDE:
		return push_frame(q, name, t->qual);
	default:
		return M_NOMATCH;
	}
}

/* RFC 7208 6.2: the explanation of a fail, from frame 0's exp=. Any
 * trouble means no explanation; a long one is cut to
 * SPF_MAX_EXPLANATION octets. Returns false while its lookup is pending. */
static bool
explain(struct spf_query *q)
{
	struct spf_frame        *f = &q->frames[0];
	char                     name[SPF_MAX_DOMAIN + 2];
	const struct dns_answer *a;
	struct spf_macro_vars    v;
	struct buf               b;
	size_t                   i;
	int                      rc;

	if (!f->has_exp || f->rec == NULL)
		return true;
	if (target_name(q, f->domain, f->rec + f->exp_off, f->exp_len, name) <
	    0)
		return true;
	if (q->pending)
		return false;
	if ((a = answer_get(q, name, DNS_T_TXT)) == NULL)
		return q->oom;
	if (a->status != DNS_OK || a->n != 1)
		return true;
	/* RFC 7208 6.2: the text is US-ASCII. */
	for (i = 0; i < a->rr[0].len; i++) {
		unsigned char c = (unsigned char)a->rr[0].data[i];

		if (c < 0x20 || c > 0x7e)
			return true;
	}
	buf_init(&b, SPF_MAX_EXPLANATION);
	vars_init(q, f->domain, &v);
	rc = spf_macro_expand(
	    a->rr[0].data, a->rr[0].len, SPF_MACRO_EXPLAIN, &v, &b);
	if (q->pending) {
		buf_free(&b); /* %{p}: the PTR names are not in yet */
		return false;
	}
	if (rc == 0) {
		/* A value can carry any byte (a local-part): keep the text
		 * printable. */
		for (i = 0; i < b.len; i++)
			if ((unsigned char)b.data[i] < 0x20 ||
			    (unsigned char)b.data[i] > 0x7e)
				b.data[i] = '?';
		q->explanation = buf_take(&b);
	}
	buf_free(&b);
	return true;
}

static bool
set_identity(struct spf_query *q, const char *sender, const char *helo)
{
	const char *at = sender ? strrchr(sender, '@') : NULL;

	/* RFC 7208 4.3: an empty local-part is "postmaster". */
	if (at == NULL) {
		q->local = strdup("postmaster");
		q->sender_domain = strdup(sender ? sender : "");
	} else {
		q->local = at == sender
			       ? strdup("postmaster")
			       : str_ndup(sender, (size_t)(at - sender));
		q->sender_domain = strdup(at + 1);
	}
	q->helo = helo ? strdup(helo) : NULL;
	if (q->local == NULL || q->sender_domain == NULL ||
	    (helo && q->helo == NULL))
		return false;
	q->sender = malloc(strlen(q->local) + strlen(q->sender_domain) + 2);
	if (q->sender == NULL)
		return false;
	sprintf(q->sender, "%s@%s", q->local, q->sender_domain);
	return true;
}

/* The terms of the frames, as far as the answers in hand allow: a result,
 * or R_PENDING with everything the pending term changed put back. */
static enum spf_result
run(struct spf_query *q)
{
	enum spf_result   r;
	struct spf_frame *f;
	const char       *tp;
	size_t            tn, pos;
	struct term       t;
	int               m, depth;
	unsigned int      terms, voids;

	for (;;) {
		f = &q->frames[q->depth - 1];
		/* What a term may change before it finds a lookup pending. */
		pos = f->pos;
		depth = q->depth;
		terms = q->dns_terms;
		voids = q->voids;
		q->pending = false;
		trace_reset(q);
		if (!next_term(f->rec, f->len, &f->pos, &tp, &tn)) {
			char        name[SPF_MAX_DOMAIN + 2];
			char        tr_dom[SPF_MAX_DOMAIN + 2], tr_text[320];
			struct term rt;

			/* RFC 7208 6.1: redirect only when nothing matched and
			 * there is no "all" anywhere in the record. */
			if (f->has_redirect && !f->has_all) {
				if (spec_uses_p(
					f->rec + f->redir_off, f->redir_len) &&
				    !count_term(q, "redirect"))
					return SPF_PERMERROR;
				if (target_name(q, f->domain,
					f->rec + f->redir_off, f->redir_len,
					name) < 0) {
					set_reason(q,
					    q->oom ? "out of memory"
						   : "macro expansion failed");
					return q->oom ? SPF_TEMPERROR
						      : SPF_PERMERROR;
				}
				if (q->pending)
					goto pending;
				memset(&rt, 0, sizeof(rt));
				rt.kind = T_REDIRECT;
				rt.qual = '+';
				rt.text = f->rec + f->redir_off - 9;
				rt.len = f->redir_len + 9; /* "redirect=" */
				if (q->par.trace != NULL)
					str_lcpy(q->tr_target, name,
					    sizeof(q->tr_target));
				if (!count_term(q, "redirect")) {
					if (str_domain_eq(name, f->domain))
						set_reason(q,
						    "redirect loop at %s",
						    name);
					trace_term(q, (unsigned int)depth - 1,
					    f->domain, &rt, M_PERMERROR);
					return SPF_PERMERROR;
				}
				/* The frame is reused: the trace keeps copies
				 * of its domain and term (cut to their
				 * buffers). */
				if (q->par.trace != NULL) {
					str_lcpy(
					    tr_dom, f->domain, sizeof(tr_dom));
					rt.len = (size_t)snprintf(tr_text,
					    sizeof(tr_text), "%.*s",
					    (int)rt.len, rt.text);
					if (rt.len >= sizeof(tr_text))
						rt.len = sizeof(tr_text) - 1;
					rt.text = tr_text;
				}
				r = load_record(q, f, name);
				if (r == R_PENDING)
					goto pending;
				trace_term(q, (unsigned int)depth - 1, tr_dom,
				    &rt,
				    r == SPF_PASS        ? M_NOMATCH
				    : r == SPF_TEMPERROR ? M_TEMPERROR
							 : M_PERMERROR);
				memo_clear(q);
				if (r == SPF_PASS)
					continue;
				if (r == SPF_NONE) {
					set_reason(q,
					    "redirect=%s has no SPF record",
					    name);
					r = SPF_PERMERROR;
				}
				return r;
			}
			set_reason(q, "no mechanism matched at %s", f->domain);
			r = SPF_NEUTRAL; /* RFC 7208 4.7 */
		} else {
			if (!term_parse(tp, tn, &t, &tp))
				return SPF_PERMERROR; /* checked already */
			m = eval_term(q, f, &t);
			if (q->oom) {
				set_reason(q, "out of memory");
				return SPF_TEMPERROR;
			}
			if (m == M_PENDING)
				goto pending;
			/* A redirect= is reported where it is followed. */
			if (t.kind != T_REDIRECT)
				trace_term(q, (unsigned int)depth - 1,
				    f->domain, &t, m);
			memo_clear(q);
			if (m == M_NOMATCH || m == M_PUSH)
				continue;
			if (m == M_TEMPERROR || m == M_PERMERROR)
				return m == M_TEMPERROR ? SPF_TEMPERROR
							: SPF_PERMERROR;
			r = qual_result(t.qual);
			set_reason(q, "matched %.*s at %s",
			    (int)(t.len < 64 ? t.len : 64), t.text, f->domain);
		}
		/* The frame is done with r: hand it to the include that
		 * pushed it, if any (RFC 7208 5.2). */
		for (;;) {
			if (q->depth == 1)
				return r;
			q->depth--;
			free(q->frames[q->depth].rec);
			q->frames[q->depth].rec = NULL;
			f = &q->frames[q->depth - 1];
			if (r != SPF_PASS)
				break; /* not a match: the record goes on */
			r = qual_result(f->inc_qual);
			set_reason(q, "matched include at %s", f->domain);
		}
	}
pending:
	f->pos = pos;
	q->depth = depth;
	q->dns_terms = terms;
	q->voids = voids;
	return R_PENDING;
}

static void
finish(struct spf_query *q, enum spf_result r)
{
	memo_clear(q);
	q->result = r;
	q->state = S_DONE;
}

void
spf_check_begin(struct spf_query *q, const struct ipaddr *ip,
    const char *domain, const char *sender, const char *helo)
{
	check_reset(q);
	q->ip = *ip;
	q->now = q->par.now ? q->par.now : time(NULL);
	deadline_in(&q->deadline, q->par.timeout);
	if (!set_identity(q, sender, helo)) {
		set_reason(q, "out of memory");
		finish(q, SPF_TEMPERROR);
		return;
	}
	q->depth = 1;
	if (str_lcpy(q->frames[0].domain, domain ? domain : "",
		sizeof(q->frames[0].domain)) >= sizeof(q->frames[0].domain)) {
		set_reason(q, "invalid domain");
		finish(q, SPF_NONE);
		return;
	}
	q->state = S_LOAD;
	(void)spf_check_step(q, NULL);
}

bool
spf_check_step(struct spf_query *q, enum spf_result *r_r)
{
	enum spf_result r;

	switch (q->state) {
	case S_IDLE:
		set_reason(q, "not checked");
		finish(q, SPF_NONE);
		break;
	case S_LOAD:
		q->pending = false;
		r = load_record(q, &q->frames[0], q->frames[0].domain);
		if (r == R_PENDING)
			break;
		memo_clear(q);
		if (r != SPF_PASS) {
			finish(q, r);
			break;
		}
		q->state = S_RUN;
		__attribute__((fallthrough));
	case S_RUN:
		if ((r = run(q)) == R_PENDING)
			break;
		memo_clear(q);
		if (r != SPF_FAIL) {
			finish(q, r);
			break;
		}
		q->result = r;
		q->state = S_EXPLAIN;
		__attribute__((fallthrough));
	case S_EXPLAIN:
		q->pending = false;
		if (explain(q))
			finish(q, SPF_FAIL);
		break;
	case S_DONE:
		break;
	}
	if (q->state != S_DONE && deadline_passed(&q->deadline)) {
		/* RFC 7208 4.6.4: past the elapsed limit, temperror; an
		 * explanation not in yet is simply left out (6.2). */
		if (q->state == S_EXPLAIN) {
			finish(q, SPF_FAIL);
		} else {
			set_reason(q, "SPF time limit of %g s at %s",
			    q->par.timeout, q->frames[q->depth - 1].domain);
			finish(q, SPF_TEMPERROR);
		}
	}
	if (q->state != S_DONE)
		return false;
	if (r_r != NULL)
		*r_r = q->result;
	return true;
}

enum spf_result
spf_check_stop(struct spf_query *q, const char *why)
{
	if (q->state == S_DONE)
		return q->result;
	if (q->state == S_EXPLAIN) {
		finish(q, SPF_FAIL);
		return SPF_FAIL;
	}
	set_reason(q, "%s at %s", why,
	    q->depth > 0 ? q->frames[q->depth - 1].domain : "?");
	finish(q, SPF_TEMPERROR);
	return SPF_TEMPERROR;
}

const struct timespec *
spf_check_deadline(const struct spf_query *q)
{
	return &q->deadline;
}

enum spf_result
spf_check_host(struct spf_query *q, const struct ipaddr *ip, const char *domain,
    const char *sender, const char *helo)
{
	enum spf_result r;

	spf_check_begin(q, ip, domain, sender, helo);
	while (!spf_check_step(q, &r)) {
		/* Nothing to wait for (no resolver) cannot be pending. */
		if (q->waiter == NULL)
			return spf_check_stop(q, "no resolver");
		(void)dns_waiter_wait(q->waiter, &q->deadline);
	}
	return r;
}
