#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "str.h"

/* The public record plus the memory it points into. */
struct hdr_entry {
	struct hdr_field f;
	char            *mem;
};

struct hdr_list {
	struct hdr_entry *e;
	size_t            n;
	size_t            cap;
	size_t            bytes;
};

struct hdr_list *
hdr_list_new(void)
{
	return calloc(1, sizeof(struct hdr_list));
}

void
hdr_list_reset(struct hdr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->e[i].mem);
	l->n = 0;
	l->bytes = 0;
}

void
hdr_list_free(struct hdr_list *l)
{
	if (l == NULL)
		return;
	hdr_list_reset(l);
	free(l->e);
	free(l);
}

static bool
hdr_valid_name(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > HDR_MAX_NAME)
		return false;
	/* RFC 5322 3.6.8: ftext = %d33-57 / %d59-126 */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

int
hdr_list_add(struct hdr_list *l, const char *name, size_t namelen,
    const char *value, size_t vallen)
{
	struct hdr_field *fld;
	size_t            i, extra = 0, len, o;
	char             *raw;
	size_t            trimmed = namelen;

	/* Obsolete syntax (RFC 5322 4.5.8) allows WSP before the colon; the
	 * raw bytes keep it, the name does not. */
	while (trimmed > 0 && str_iswsp((unsigned char)name[trimmed - 1]))
		trimmed--;
	if (!hdr_valid_name(name, trimmed) || l->n == HDR_MAX_FIELDS)
		return -1;
	/* Each bare CR or LF grows by one byte when made a CRLF pair. */
	for (i = 0; i < vallen; i++) {
		if (value[i] == '\r' && i + 1 < vallen && value[i + 1] == '\n')
			i++;
		else if (value[i] == '\r' || value[i] == '\n')
			extra++;
	}
	if (vallen > HDR_MAX_BYTES || extra > HDR_MAX_BYTES ||
	    namelen + 1 + vallen + extra > HDR_MAX_BYTES - l->bytes)
		return -1;
	len = namelen + 1 + vallen + extra;
	if (l->n == l->cap) {
		size_t            cap = l->cap ? l->cap * 2 : 32;
		struct hdr_entry *ne = realloc(l->e, cap * sizeof(*ne));
		if (ne == NULL)
			return -2;
		l->e = ne;
		l->cap = cap;
	}
	if ((raw = malloc(len + 1)) == NULL)
		return -2;
	memcpy(raw, name, namelen);
	raw[namelen] = ':';
	o = namelen + 1;
	for (i = 0; i < vallen; i++) {
		if (value[i] == '\r' && i + 1 < vallen &&
		    value[i + 1] == '\n') {
			raw[o++] = '\r';
			raw[o++] = '\n';
			i++;
		} else if (value[i] == '\r' || value[i] == '\n') {
			raw[o++] = '\r';
			raw[o++] = '\n';
		} else
			raw[o++] = value[i];
	}
	raw[o] = '\0';
	l->e[l->n].mem = raw;
	fld = &l->e[l->n++].f;
	fld->raw = raw;
	fld->rawlen = len;
	fld->name = raw;
	fld->namelen = trimmed;
	fld->value = raw + namelen + 1;
	fld->vallen = len - namelen - 1;
	l->bytes += len;
	return 0;
}

int
hdr_list_add_raw(struct hdr_list *l, const char *raw, size_t len)
{
	const char *colon = memchr(raw, ':', len);

	if (colon == NULL)
		return -1;
	return hdr_list_add(l, raw, (size_t)(colon - raw), colon + 1,
	    len - (size_t)(colon + 1 - raw));
}

size_t
hdr_list_count(const struct hdr_list *l)
{
	return l->n;
}

const struct hdr_field *
hdr_list_get(const struct hdr_list *l, size_t i)
{
	return i < l->n ? &l->e[i].f : NULL;
}

bool
hdr_name_is(const struct hdr_field *f, const char *name)
{
	return str_ieq(f->name, f->namelen, name);
}

size_t
hdr_list_count_name(const struct hdr_list *l, const char *name)
{
	size_t i, c = 0;

	for (i = 0; i < l->n; i++)
		if (hdr_name_is(&l->e[i].f, name))
			c++;
	return c;
}
