/*
 * err: the one error convention for our own failures (OOM, I/O, bad config,
 * libunbound or OpenSSL trouble). A function that can fail returns int 0 or
 * -1 and fills the caller's struct am_err (NULL allowed) with one sanitized
 * line ready to log. Protocol outcomes (spf=fail, dkim=permerror) are never
 * errors: they are result values.
 */
#ifndef AM_ERR_H
#define AM_ERR_H

#define AM_ERR_MAX 512

struct am_err {
	char msg[AM_ERR_MAX];
};

/* Formats into err->msg (truncated, non-printable bytes replaced); returns
 * -1 so callers can write "return am_err_set(err, ...);". err may be NULL. */
int am_err_set(struct am_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* AM_ERR_H */
