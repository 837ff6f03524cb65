#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "tagval.h"

/* FWS inside a tag-list: WSP, or CRLF followed by WSP (RFC 5322 3.2.2);
 * a lone CR or LF is tolerated as part of a fold, as MTAs pass both. */
static bool
tagval_isfws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
tagval_isvalchar(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

static size_t
tagval_skip_fws(const char *p, size_t i, size_t n)
{
	while (i < n && tagval_isfws((unsigned char)p[i]))
		i++;
	return i;
}

int
tagval_parse(
    const char *p, size_t n, struct tagval *out, size_t max, size_t *where_r)
{
	size_t i = 0, count = 0, k, start, end;

	for (;;) {
		i = tagval_skip_fws(p, i, n);
		if (i == n)
			break;
		/* tag-name = ALPHA *ALNUMPUNC */
		start = i;
		if (!str_isalpha((unsigned char)p[i]))
			goto syntax;
		while (
		    i < n && (str_isalnum((unsigned char)p[i]) || p[i] == '_'))
			i++;
		end = i;
		i = tagval_skip_fws(p, i, n);
		if (i == n || p[i] != '=')
			goto syntax;
		i = tagval_skip_fws(p, i + 1, n);
		if (count == max) {
			if (where_r != NULL)
				*where_r = start;
			return TAGVAL_ETOOMANY;
		}
		out[count].tag = p + start;
		out[count].taglen = end - start;
		for (k = 0; k < count; k++)
			if (out[k].taglen == end - start &&
			    memcmp(out[k].tag, p + start, end - start) == 0) {
				if (where_r != NULL)
					*where_r = start;
				return TAGVAL_EDUP;
			}
		/* The value runs to ';' or the end; trailing FWS is not part
		 * of it, inner FWS is. */
		start = i;
		end = i;
		while (i < n && p[i] != ';') {
			if (tagval_isvalchar((unsigned char)p[i]))
				end = i + 1;
			else if (!tagval_isfws((unsigned char)p[i]))
				goto syntax;
			i++;
		}
		out[count].val = p + start;
		out[count].vallen = end - start;
		count++;
		if (i == n)
			break;
		i++; /* the ';' */
	}
	return (int)count;
syntax:
	if (where_r != NULL)
		*where_r = i;
	return TAGVAL_ESYNTAX;
}

const struct tagval *
tagval_get(const struct tagval *tv, size_t n, const char *tag)
{
	size_t i, len = strlen(tag);

	for (i = 0; i < n; i++)
		if (tv[i].taglen == len && memcmp(tv[i].tag, tag, len) == 0)
			return &tv[i];
	return NULL;
}

char *
tagval_dup_nows(const struct tagval *tv)
{
	char  *s = malloc(tv->vallen + 1);
	size_t i, j = 0;

	if (s == NULL)
		return NULL;
	for (i = 0; i < tv->vallen; i++)
		if (!tagval_isfws((unsigned char)tv->val[i]))
			s[j++] = tv->val[i];
	s[j] = '\0';
	return s;
}

char *
tagval_dup(const struct tagval *tv)
{
	return str_ndup(tv->val, tv->vallen);
}
