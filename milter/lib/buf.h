/*
 * buf: a growable byte buffer with a ceiling. Growth uses overflow-checked
 * arithmetic; going past the ceiling returns -1 and leaves the buffer as it
 * was (never aborts). The data always has a spare NUL after len bytes, so
 * text can be handed to C string functions; a NUL inside is still data.
 * Not thread-safe; the owner frees with buf_free().
 */
#ifndef AM_BUF_H
#define AM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char  *data; /* NULL until the first append; NUL-terminated after */
	size_t len;
	size_t cap;
	size_t max; /* ceiling on len; 0 means BUF_DEFAULT_MAX */
};

#define BUF_DEFAULT_MAX (1024 * 1024)

/* Sets up an empty buffer whose length may not exceed max (0: default). */
void buf_init(struct buf *, size_t max);
/* Frees the data and leaves an empty buffer; the ceiling stays. */
void buf_free(struct buf *);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *);
/* Each returns 0, or -1 if the ceiling or memory would be exceeded. */
int buf_append(struct buf *, const void *, size_t);
int buf_append_str(struct buf *, const char *);
int buf_append_char(struct buf *, char);
int buf_printf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));
/* Hands the data (NUL-terminated, never NULL on success) to the caller, who
 * frees it with free(); the buffer is left empty. NULL only on OOM. */
char *buf_take(struct buf *);
/* The data as a C string; "" for an empty buffer. */
const char *buf_cstr(const struct buf *);

#endif /* AM_BUF_H */
