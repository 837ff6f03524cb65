/*
 * test: a small harness for the C unit tests. A test program runs named
 * cases; a case passes when none of its assertions failed. Assertions are
 * non-fatal and print file:line with what differed; t_skip(reason) marks
 * a case that cannot run here. t_done() prints the closing line "N
 * passed, N failed[, N skipped]" and returns the exit status.
 *
 *	t_case("relaxed header canon");
 *	t_assert_str_eq(got, "a:b\r\n");
 *	return t_done();
 */
#ifndef AM_TEST_H
#define AM_TEST_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int         t_npassed, t_nfailed, t_nskipped;
static const char *t_name;
static bool        t_case_failed;

static void
t_end_case(void)
{
	if (t_name == NULL)
		return;
	if (t_case_failed) {
		t_nfailed++;
		printf("FAIL %s\n", t_name);
	} else {
		t_npassed++;
		printf("ok   %s\n", t_name);
	}
	t_name = NULL;
}

static inline void
t_case(const char *name)
{
	t_end_case();
	t_name = name;
	t_case_failed = false;
}

/* t_case() with a formatted name, for table rows ("record: %s"). The name
 * must outlive the case, until the next t_case() has printed it: two
 * buffers are used in turn. */
static inline void t_casef(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline void
t_casef(const char *fmt, ...)
{
	static char buf[2][320];
	static int  which;
	va_list     ap;

	which ^= 1;
	va_start(ap, fmt);
	vsnprintf(buf[which], sizeof(buf[which]), fmt, ap);
	va_end(ap);
	t_case(buf[which]);
}

static inline bool
t_check(bool ok, const char *file, int line, const char *what)
{
	if (!ok) {
		t_case_failed = true;
		printf("%s:%d: %s: failed: %s\n", file, line,
		    t_name ? t_name : "(no case)", what);
	}
	return ok;
}

static inline bool
t_check_str(const char *got, const char *want, const char *file, int line,
    const char *what)
{
	bool ok = (got == NULL && want == NULL) ||
		  (got != NULL && want != NULL && strcmp(got, want) == 0);

	if (!ok) {
		t_case_failed = true;
		printf("%s:%d: %s: %s\n  got:  \"%s\"\n  want: \"%s\"\n", file,
		    line, t_name ? t_name : "(no case)", what,
		    got ? got : "(null)", want ? want : "(null)");
	}
	return ok;
}

static inline bool
t_check_int(
    intmax_t got, intmax_t want, const char *file, int line, const char *what)
{
	if (got != want) {
		t_case_failed = true;
		printf("%s:%d: %s: %s: got %jd, want %jd\n", file, line,
		    t_name ? t_name : "(no case)", what, got, want);
	}
	return got == want;
}

/* The current case cannot run here; reason says why. It counts as
 * skipped, not passed. */
static inline void
t_skip(const char *reason)
{
	if (t_name == NULL)
		return;
	t_nskipped++;
	printf("skip %s (%s)\n", t_name, reason);
	t_name = NULL;
}

#define t_assert(c)           t_check((c), __FILE__, __LINE__, #c)
#define t_assert_str_eq(g, w) t_check_str((g), (w), __FILE__, __LINE__, #g)
#define t_assert_int_eq(g, w)                                                  \
	t_check_int((intmax_t)(g), (intmax_t)(w), __FILE__, __LINE__, #g)

static inline int
t_done(void)
{
	t_end_case();
	if (t_nskipped > 0)
		printf("%d passed, %d failed, %d skipped\n", t_npassed,
		    t_nfailed, t_nskipped);
	else
		printf("%d passed, %d failed\n", t_npassed, t_nfailed);
	return t_nfailed == 0 && t_npassed > 0 ? 0 : 1;
}

#endif /* AM_TEST_H */
