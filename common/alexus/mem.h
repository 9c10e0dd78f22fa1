/* mem.h - allocation that aborts on out-of-memory.
 *
 * A daemon that cannot allocate is restarted by its supervisor; every
 * network-facing size is bounded elsewhere, so OOM means a bug or a host
 * in trouble, not an input to handle. */
#ifndef AX_MEM_H
#define AX_MEM_H

#include <stddef.h>

void *ax_xmalloc(size_t n);
void *ax_xcalloc(size_t nmemb, size_t n);
void *ax_xrealloc(void *p, size_t n);
char *ax_xstrdup(const char *s);             /* NULL in, NULL out */
char *ax_xstrndup(const char *s, size_t n);
char *ax_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* AX_MEM_H */
