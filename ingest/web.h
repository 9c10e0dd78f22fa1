/* web.h - the dashboard's static files (ingest/web/), built into ingest.
 *
 * They are compiled in rather than read from a folder at run time so an
 * ingest binary (or its container image) is the whole deployment: nothing
 * can be missing or out of date beside it. */
#ifndef INGEST_WEB_H
#define INGEST_WEB_H

#include <stddef.h>

struct ingest_asset {
	const char *path;           /* as requested: "/ui/", "/ui/app.js", ... */
	const char *content_type;
	const unsigned char *data, *end;   /* the bytes: end - data of them */
};

/* The asset served at path (query string excluded), or NULL. */
const struct ingest_asset *ingest_web_asset(const char *path);

/* The headers every dashboard answer carries besides Content-Type: no
 * caching of a stale page after an upgrade, and a content security policy
 * that allows only this origin (no inline script, no framing). */
#define INGEST_WEB_CSP                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " \
	"img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

#endif /* INGEST_WEB_H */
