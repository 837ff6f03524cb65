/*
 * authres: RFC 8601 Authentication-Results fields, composed and parsed.
 *
 * The composer builds the value of our field (what follows the colon):
 * " authserv-id; method=result (comment) ptype.property=value ...", or
 * " authserv-id; none" with no results (RFC 8601 2.2). Values that are not
 * RFC 2045 tokens, or addresses and domains as RFC 8601 2.2 pvalue allows
 * them bare, are written as quoted-strings; comments are escaped and
 * sanitized. Each result starts a new line; a result longer than
 * AUTHRES_LINE_MAX is folded between its properties (RFC 5322 2.1.1, 2.2.3).
 * Folds are "\n\t" (libmilter's smfi_insheader takes LF; the MTA writes
 * CRLF), or "\r\n\t" with AUTHRES_CRLF.
 *
 * The parser reads an existing field's value (RFC 8601 2.2): enough to
 * tell whether it claims our authserv-id (RFC 8601 5: such fields must be
 * removed) and to list its method=result pairs and properties. Comments
 * are skipped with a counter (at most AUTHRES_MAX_COMMENT_DEPTH deep),
 * never recursion; ";" inside quoted strings and comments is data.
 *
 * Limits: AUTHRES_MAX_RESULTS results, AUTHRES_MAX_PROPS properties each,
 * AUTHRES_MAX_COMMENT bytes of comment. Not thread-safe per object; no
 * global state.
 */
#ifndef AM_AUTHRES_H
#define AM_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

/* One field carries spf, dkim (one per signature), dmarc, arc, iprev...;
 * 32 results and 8 properties per result bound a parsed forgery while
 * leaving room for a message with many DKIM signatures. */
#define AUTHRES_MAX_RESULTS 32
#define AUTHRES_MAX_PROPS   8
/* Comments we write are human hints ("p=reject sp=none dis=reject");
 * attacker text inside them is cut at this many bytes. */
#define AUTHRES_MAX_COMMENT 256
/* RFC 5322 3.2.2 comments nest without limit; real fields nest none. */
#define AUTHRES_MAX_COMMENT_DEPTH 32
/* RFC 5322 2.1.1: lines SHOULD be at most 78 characters. */
#define AUTHRES_LINE_MAX 78
/* Longest authserv-id or value the parser keeps; longer is a syntax
 * error (a line is at most 998 characters, RFC 5322 2.1.1). */
#define AUTHRES_MAX_VALUE 998

#define AUTHRES_CRLF 0x1 /* authres_value_flags(): fold with CRLF TAB */

struct authres_prop {
	const char *ptype;    /* "smtp", "header", "body", "policy", ... */
	const char *property; /* "mailfrom", "from", "d", ... */
	const char *value;
};

struct authres; /* opaque: the field being composed */

/* A field for our authserv-id (written as a quoted-string when it is not
 * a token). Returns NULL only on OOM. */
struct authres *authres_new(const char *authserv_id);
void            authres_free(struct authres *); /* NULL ok */
/* Adds one result: method=result, an optional comment (reason, NULL for
 * none) and nprops properties. method, result, ptype and property must be
 * RFC 8601 2.2 Keywords (authres_keyword_valid()); values may be anything
 * and are quoted as needed. Returns 0, or -1 on a bad keyword, NULL
 * argument, more than AUTHRES_MAX_RESULTS results or AUTHRES_MAX_PROPS
 * properties, or OOM; the field is unchanged then. */
int authres_add(struct authres *, const char *method, const char *result,
    const char *reason, const struct authres_prop *, size_t nprops);
/* How many results were added. */
size_t authres_count(const struct authres *);
/* The field's value, starting with one space, folded with "\n\t", no final
 * line break. The caller frees it. NULL only on OOM. */
char *authres_value(const struct authres *);
/* As authres_value(); flags may hold AUTHRES_CRLF. */
char *authres_value_flags(const struct authres *, unsigned int flags);

/* True when s is an RFC 8601 2.2 Keyword (RFC 5321 Let-dig [Ldh-str]):
 * letters, digits and "-", neither first nor last a "-". */
bool authres_keyword_valid(const char *s);

/* True when the field value at [value, value + len) claims authserv_id,
 * compared case-insensitively, or may claim it. Leading CFWS is skipped;
 * the authserv-id is a token or a quoted-string. It fails closed: a field
 * whose authserv-id cannot be read (a leading comment that is unbalanced
 * or nested deeper than AUTHRES_MAX_COMMENT_DEPTH, an unterminated
 * quoted-string, no id, an id over AUTHRES_MAX_VALUE bytes, OOM) counts as
 * ours, so that no reader with other limits can find our id in a field we
 * kept. One whose authserv-id is ours counts as ours whatever follows it,
 * since it claims our name and must be removed. False only when an id was
 * read and it is another's. */
bool authres_is_ours(const char *value, size_t len, const char *authserv_id);

enum authres_status {
	AUTHRES_OK = 0,
	AUTHRES_ESYNTAX /* parsing stopped at error_pos */
};

struct authres_pprop { /* a parsed property; strings owned by the parse */
	char *ptype, *property, *value;
};

struct authres_presult {
	char                *method; /* as written; any "/version" dropped */
	char                *result;
	char                *reason; /* reason= value, or NULL */
	size_t               nprops;
	struct authres_pprop props[AUTHRES_MAX_PROPS];
};

struct authres_parsed {
	enum authres_status status;
	size_t              error_pos;      /* AUTHRES_ESYNTAX: offset */
	bool                truncated;      /* results or props past the limits
					       were read and dropped */
	char                  *authserv_id; /* NULL if it could not be read */
	unsigned long          version;     /* authres-version, 1 if absent */
	bool                   none;        /* "; none" */
	size_t                 nresults;
	struct authres_presult results[AUTHRES_MAX_RESULTS];
};

/* Parses a field's value (RFC 8601 2.2 authres-payload). On a syntax
 * error, status is AUTHRES_ESYNTAX and the results read before it are
 * kept. Returns NULL only on OOM; free with authres_parsed_free(). */
struct authres_parsed *authres_parse(const char *value, size_t len);
void authres_parsed_free(struct authres_parsed *); /* NULL ok */

#endif /* AM_AUTHRES_H */
