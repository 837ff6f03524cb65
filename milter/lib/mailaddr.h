/*
 * mailaddr: e-mail addresses as DMARC needs them. Three parsers:
 *
 *  - mailaddr_parse_list(): an RFC 5322 3.4 address-list, the value of a
 *    From field: display names (atoms, quoted strings, RFC 2047 encoded
 *    words, which are only atoms to us), nested comments, CFWS, angle
 *    addresses, group syntax, and the obsolete forms of RFC 5322 4.4
 *    (obs-phrase with ".", obs-local-part, obs-domain, obs-route,
 *    obs-addr-list with empty members). UTF-8 is accepted in atoms and
 *    quoted strings (RFC 6532 3.2). A display name that looks like an
 *    address never decides anything: the domain of an address is always
 *    the one of its real addr-spec, and anything ambiguous, such as
 *    "user@bank.com <evil@attacker.com>", is a syntax error.
 *  - mailaddr_parse_path(): an RFC 5321 4.1.2 Reverse-path or Forward-path
 *    as an MTA hands it to a milter ("<user@example.com>", "<>", a source
 *    route "<@a,@b:user@c>", or the bare mailbox).
 *  - mailaddr_domain_normalize(): the normal form of a domain used for all
 *    comparisons: lower case, one trailing dot removed, U-labels converted
 *    to A-labels by libidn2 (UTS #46 non-transitional), and then valid by
 *    mailaddr_domain_valid(). A domain that has no normal form (a domain
 *    literal, bytes that are not UTF-8, a label libidn2 refuses, a name
 *    that is not LDH) is unusable.
 *
 * Limits: MAILADDR_MAX addresses per field, comments nested at most
 * MAILADDR_MAX_COMMENT_DEPTH deep (counted, never recursed), domains of
 * MAILADDR_DOMAIN_MAX characters. Inputs are pointer and length; a NUL
 * byte is a syntax error, never an end. Results own their memory.
 * Thread-safe: no global state.
 */
#ifndef AM_MAILADDR_H
#define AM_MAILADDR_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5322 sets no limit on addresses in a From field. A message "from"
 * more than a few people is rare, and every From domain may cost a DMARC
 * tree walk (RFC 9989: up to 8 queries), so 32 bounds the work. */
#define MAILADDR_MAX 32
/* RFC 5322 3.2.2 nests comments without limit; Postfix's tok822 stops
 * at 100 levels. 32 is far beyond any real header. */
#define MAILADDR_MAX_COMMENT_DEPTH 32
/* RFC 1035 2.3.4: 255 octets in wire form, 253 characters in text form
 * without the trailing dot; RFC 1035 2.3.4: 63 octets per label. */
#define MAILADDR_DOMAIN_MAX 253
#define MAILADDR_LABEL_MAX  63
/* RFC 5321 4.5.3.1.1 allows 64 octets of local-part, but SRS and VERP
 * addresses exceed it; RFC 5321 4.5.3.1.4 bounds a command line at 512
 * octets, so no local-part in a path can be longer. */
#define MAILADDR_PATH_LOCAL_MAX 512

enum mailaddr_status {
	MAILADDR_OK = 0,
	MAILADDR_NULL,     /* path only: the null reverse-path "<>" */
	MAILADDR_ESYNTAX,  /* not valid; error_pos / where_r says where */
	MAILADDR_ETOOMANY, /* more than MAILADDR_MAX addresses */
};

struct mailaddr {
	char *local;       /* unquoted local-part: quotes and quoted-pairs
			      resolved, CFWS and folds removed */
	char *domain;      /* as written, CFWS removed ("[1.2.3.4]" for a
			      domain literal) */
	char *domain_norm; /* normal form, or NULL when unusable */
};

struct mailaddr_list {
	enum mailaddr_status status;
	size_t               error_pos; /* MAILADDR_ESYNTAX: offset in input */
	size_t               count;     /* 0 unless status is MAILADDR_OK */
	struct mailaddr      addr[MAILADDR_MAX];
};

struct mailaddr_path {
	char local[MAILADDR_PATH_LOCAL_MAX + 1];   /* unquoted */
	char domain[MAILADDR_DOMAIN_MAX + 1];      /* as written; "" if none */
	char domain_norm[MAILADDR_DOMAIN_MAX + 1]; /* "" when unusable */
	bool domain_ok;                            /* domain_norm is usable */
};

/* Parses an RFC 5322 address-list (a From field's value, without the
 * name and colon) at [p, p + n). Group members count as addresses; an
 * empty group or an empty field has none. On a syntax error or too many
 * addresses the status says so and count is 0, so no domain can be taken
 * from a field that did not parse. Returns NULL only on OOM; the caller
 * frees with mailaddr_list_free(). */
struct mailaddr_list *mailaddr_parse_list(const char *p, size_t n);
void                  mailaddr_list_free(struct mailaddr_list *); /* NULL ok */

/* Parses an RFC 5321 path as a milter receives it for MAIL FROM or RCPT
 * TO, angle brackets optional, nothing allowed after the ">". Returns
 * MAILADDR_OK (out filled), MAILADDR_NULL for "<>" (out has empty
 * strings), or MAILADDR_ESYNTAX (*where_r, if not NULL, gets the offset).
 * A mailbox without "@" (RCPT TO:<postmaster>) is MAILADDR_OK with an
 * empty, unusable domain. A local-part longer than MAILADDR_PATH_LOCAL_MAX
 * or a domain longer than MAILADDR_DOMAIN_MAX is a syntax error. */
enum mailaddr_status mailaddr_parse_path(
    const char *p, size_t n, struct mailaddr_path *out, size_t *where_r);

/* Writes the normal form of the domain at [p, p + n) (a HELO name, an
 * SPF or DKIM domain, a domain from an address) into out, which must
 * hold MAILADDR_DOMAIN_MAX + 1 bytes. Surrounding whitespace is ignored.
 * Returns true, or false (out is "") when the domain is unusable. */
bool mailaddr_domain_normalize(const char *p, size_t n, char *out);

/* True when [p, p + n) is syntactically a host name in LDH form (RFC 5321
 * 4.1.2 Domain, RFC 1035 2.3.4 lengths): labels of 1..63 letters, digits
 * and hyphens, neither starting nor ending with a hyphen, at most 253
 * characters in all, and one optional trailing dot. ASCII only: convert
 * U-labels first. */
bool mailaddr_domain_valid(const char *p, size_t n);

#endif /* AM_MAILADDR_H */
