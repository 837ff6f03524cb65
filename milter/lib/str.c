#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "str.h"

bool
str_ieq(const char *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || str_tolower((unsigned char)p[i]) !=
					str_tolower((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

bool
str_casecmp_eq(const char *a, const char *b)
{
	return str_ieq(a, strlen(a), b);
}

char *
str_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		*p = (char)str_tolower((unsigned char)*p);
	return s;
}

bool
str_domain_eq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), i;

	if (na > 0 && a[na - 1] == '.')
		na--;
	if (nb > 0 && b[nb - 1] == '.')
		nb--;
	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (str_tolower((unsigned char)a[i]) !=
		    str_tolower((unsigned char)b[i]))
			return false;
	return true;
}

bool
str_domain_under(const char *name, const char *parent)
{
	size_t n = strlen(name), k = strlen(parent), i;

	if (k > 0 && parent[k - 1] == '.')
		k--;
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (k == 0 || n < k)
		return false;
	for (i = 0; i < k; i++)
		if (str_tolower((unsigned char)name[n - k + i]) !=
		    str_tolower((unsigned char)parent[i]))
			return false;
	return n == k || name[n - k - 1] == '.';
}

size_t
str_lcpy(char *dst, const char *src, size_t dstsize)
{
	size_t n = strlen(src);

	if (dstsize > 0) {
		size_t c = n < dstsize - 1 ? n : dstsize - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

char *
str_printable(char *dst, size_t dstsize, const char *p, size_t n)
{
	size_t i, room;
	bool   cut = false;

	if (dstsize == 0)
		return dst;
	room = dstsize - 1;
	if (n > room) {
		cut = room >= 3;
		n = cut ? room - 3 : room;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (cut) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
	return dst;
}

void
str_trim(const char **p, size_t *n)
{
	while (*n > 0 && str_isspace((unsigned char)**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && str_isspace((unsigned char)(*p)[*n - 1]))
		(*n)--;
}

char *
str_ndup(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}
