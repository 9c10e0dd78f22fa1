/* template.h - "{{a.b.c}}" substitution over a cJSON document.
 *
 * The whole language: "{{" path "}}" is replaced by the value at path in
 * doc; everything else is copied byte for byte.  path is dot-separated
 * object keys, a segment of digits on an array is an index
 * ("alerts.0.labels.pod"); spaces just inside the braces are ignored
 * ("{{ incident.title }}").  Values: a string as-is, a number as cJSON
 * prints it (3, 0.5), true/false, null and missing as "", an object or
 * array as compact JSON.  A "{{" without a closing "}}" on the rest of the
 * template is copied literally.  No sections, loops, partials or escapes:
 * templates come from tenant settings and must stay dumb. */
#ifndef AX_TEMPLATE_H
#define AX_TEMPLATE_H

#include <cjson/cJSON.h>

/* Render tmpl over doc (doc may be NULL: every path is missing).  With
 * json_escape, each substituted value is escaped for use inside a JSON
 * string literal ("\"", "\\", control characters; the template's own
 * text is never touched), so {"text":"{{incident.title}}"} stays valid
 * JSON whatever the title holds.  Returns a malloc'd NUL-terminated
 * string the caller frees; NULL only when tmpl is NULL.  Aborts on OOM. */
char *ax_template_render(const char *tmpl, const cJSON *doc, int json_escape);

#endif /* AX_TEMPLATE_H */
