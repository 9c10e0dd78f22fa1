/* web.c - the dashboard's files inside the ingest binary (see web.h).
 *
 * The assembler's .incbin copies each file into .rodata at build time, so
 * no generator (xxd, ld -b binary) is needed and the bytes are exactly
 * the file's.  Paths are relative to the top of the tree, where make runs;
 * the Makefile makes web.o depend on the files, since the compiler's
 * dependency list cannot see an .incbin. */
#include <string.h>

#include "web.h"

#define INCBIN(sym, file)                                               \
	__asm__(".pushsection .rodata\n"                                \
		".balign 16\n" #sym ":\n"                               \
		".incbin \"" file "\"\n" #sym "_end:\n"                  \
		".byte 0\n"                                             \
		".popsection\n");                                       \
	extern const unsigned char sym[], sym##_end[]

INCBIN(web_index_html, "ingest/web/index.html");
INCBIN(web_app_js, "ingest/web/app.js");
INCBIN(web_app_css, "ingest/web/app.css");
INCBIN(web_favicon_svg, "ingest/web/favicon.svg");

/* Addresses are constants, so the table is fixed at link time and the
 * ingest threads only read it. */
static const struct ingest_asset assets[] = {
	{ "/ui/", "text/html; charset=utf-8", web_index_html, web_index_html_end },
	{ "/ui/app.js", "text/javascript; charset=utf-8", web_app_js, web_app_js_end },
	{ "/ui/app.css", "text/css; charset=utf-8", web_app_css, web_app_css_end },
	{ "/ui/favicon.svg", "image/svg+xml", web_favicon_svg, web_favicon_svg_end },
};

const struct ingest_asset *ingest_web_asset(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (strcmp(assets[i].path, path) == 0)
			return &assets[i];
	return NULL;
}
