#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "err.h"

int
am_err_set(struct am_err *err, const char *fmt, ...)
{
	va_list        ap;
	unsigned char *p;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* One line, printable: the text may quote attacker-controlled input. */
	for (p = (unsigned char *)err->msg; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
	return -1;
}
