/*
 * log: the log sink. Library code formats lines through here; where they
 * go is the program's choice: stderr by default, syslog in the daemon
 * (which installs its own sink, so nothing in milter/lib calls syslog).
 * Levels follow syslog's numbers. Thread-safe as long as the sink is.
 */
#ifndef AM_LOG_H
#define AM_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_L_ERR = 3,     /* our own failure */
	LOG_L_WARNING = 4, /* bad input we handled */
	LOG_L_NOTICE = 5,
	LOG_L_INFO = 6, /* the per-message summary */
	LOG_L_DEBUG = 7 /* internals */
};

typedef void log_sink_fn(enum log_level, const char *line, void *arg);

/* Sends lines to sink (NULL: stderr, "authmilter: " prefixed) and keeps
 * only those at level max_level or more important. Call before threads. */
void log_set_sink(log_sink_fn *sink, void *arg);
void log_set_level(enum log_level max_level);
/* Atomic: a reload sets it while connection threads log. */
extern _Atomic enum log_level log_max_level;

void log_msg(enum log_level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level, const char *fmt, va_list)
    __attribute__((format(printf, 2, 0)));

/* Debug lines cost nothing unless enabled: the level is tested first. */
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_max_level >= LOG_L_DEBUG)                              \
			log_msg(LOG_L_DEBUG, __VA_ARGS__);                     \
	} while (0)

#endif /* AM_LOG_H */
