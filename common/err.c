/* err.c - status code descriptions and the errbuf formatter (see err.h).
 *
 * The table is indexed by the enum value; codes are append-only, so an
 * unknown value (a newer peer, a corrupted int) gets a fixed fallback
 * string instead of reading past the table. */
#include <stdarg.h>
#include <stdio.h>

#include "alexus/err.h"

static const char *const err_names[] = {
	[AX_OK] = "ok",
	[AX_ENOMEM] = "out of memory",
	[AX_ETOOBIG] = "input too large",
	[AX_ETIMEDOUT] = "timed out",
	[AX_EPROTO] = "malformed input",
	[AX_EIO] = "i/o or server error",
	[AX_EAGAIN] = "try again",
	[AX_EINVAL] = "invalid argument",
	[AX_ENOTFOUND] = "not found",
	[AX_EAUTH] = "not authorised",
	[AX_EDUP] = "already done",
};

const char *ax_strerror(ax_err e)
{
	if ((unsigned)e < sizeof(err_names) / sizeof(err_names[0]) && err_names[e] != NULL)
		return err_names[e];
	return "unknown error";
}

int ax_errfmt(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
