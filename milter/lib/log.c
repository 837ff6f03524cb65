#include "config.h"

#include <stdio.h>

#include "log.h"

_Atomic enum log_level log_max_level = LOG_L_INFO;
static log_sink_fn    *log_sink;
static void           *log_sink_arg;

void
log_set_sink(log_sink_fn *sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

void
log_set_level(enum log_level max_level)
{
	log_max_level = max_level;
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];

	if (level > log_max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_sink != NULL)
		log_sink(level, line, log_sink_arg);
	else
		fprintf(stderr, "authmilter: %s\n", line);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
