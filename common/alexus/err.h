/* err.h - status codes shared by every module of libalexus.
 *
 * Every fallible library call returns an ax_err and, where a human needs
 * detail, fills a caller-supplied buffer.  The library never logs; the
 * daemon decides what to say. */
#ifndef AX_ERR_H
#define AX_ERR_H

#include <stddef.h>

typedef enum {
	AX_OK = 0,
	AX_ENOMEM = 1,
	AX_ETOOBIG = 2,    /* input exceeded a configured limit */
	AX_ETIMEDOUT = 3,
	AX_EPROTO = 4,     /* peer or input is malformed */
	AX_EIO = 5,        /* system or server failure; detail in errbuf */
	AX_EAGAIN = 6,     /* not ready now, try again */
	AX_EINVAL = 7,     /* caller passed something invalid */
	AX_ENOTFOUND = 8,
	AX_EAUTH = 9,      /* authentication or authorisation refused */
	AX_EDUP = 10,      /* already done (idempotency hit) */
	/* Append only: numbers appear in logs and metrics. */
} ax_err;

#define AX_MUSTCHECK __attribute__((warn_unused_result))
#define AX_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Constant, static description of e. */
const char *ax_strerror(ax_err e);

/* snprintf into errbuf when errbuf is not NULL; always returns -1 so that
 * "return ax_errfmt(...)" reads naturally in int-returning helpers. */
int ax_errfmt(char *errbuf, size_t errlen, const char *fmt, ...) AX_PRINTF(3, 4);

#endif /* AX_ERR_H */
