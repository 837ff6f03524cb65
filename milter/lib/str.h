/*
 * str: ASCII helpers that do not depend on the locale, and the sanitizer
 * for attacker text that goes into logs and header fields.
 */
#ifndef AM_STR_H
#define AM_STR_H

#include <stdbool.h>
#include <stddef.h>

/* ASCII-only classification and case folding, whatever the locale. */
static inline bool
str_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
static inline bool
str_iswsp(int c) /* RFC 5234 WSP */
{
	return c == ' ' || c == '\t';
}
static inline bool
str_isdigit(int c)
{
	return c >= '0' && c <= '9';
}
static inline bool
str_isalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool
str_isalnum(int c)
{
	return str_isalpha(c) || str_isdigit(c);
}
static inline int
str_tolower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}
/* The value of a hexadecimal digit, either case; -1 for any other c. */
static inline int
str_hexval(int c)
{
	if (str_isdigit(c))
		return c - '0';
	c = str_tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
/* The value of a base64 digit (RFC 4648 section 4); -1 for any other c
 * ('=' included). */
static inline int
str_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (str_isdigit(c))
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Case-insensitive (ASCII) comparison of a counted string with a C string:
 * true when they are equal. */
bool str_ieq(const char *p, size_t n, const char *s);
/* Case-insensitive (ASCII) equality of two C strings. */
bool str_casecmp_eq(const char *a, const char *b);
/* Lower-cases a C string in place (ASCII only); returns it. */
char *str_lower(char *s);
/* Domain names equal: case-insensitive, one trailing dot on either side
 * ignored. */
bool str_domain_eq(const char *a, const char *b);
/* name is parent or a name below it (str_domain_eq per label). */
bool str_domain_under(const char *name, const char *parent);
/* Copies src into dst (size dstsize), always NUL-terminated when dstsize >
 * 0; returns strlen(src), so a result >= dstsize means truncation. */
size_t str_lcpy(char *dst, const char *src, size_t dstsize);
/* Copies at most n bytes of p into dst for a log line or header comment:
 * bytes outside printable ASCII become '?', and the text is cut to fit
 * dstsize (with "..." when cut). Returns dst. */
char *str_printable(char *dst, size_t dstsize, const char *p, size_t n);
/* Trims RFC 5322 FWS/CR/LF from both ends of [*p, *p + *n). */
void str_trim(const char **p, size_t *n);
/* strndup that returns NULL only on OOM. */
char *str_ndup(const char *p, size_t n);

#endif /* AM_STR_H */
