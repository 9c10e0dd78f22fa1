/* json.h - small helpers over cJSON used across the tree. */
#ifndef AX_JSON_H
#define AX_JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* The deepest sender payload ingest accepts, and the depth a consumer
 * allows for a stream entry's data: a signal carries the payload (or one
 * event of it) in "raw", a few levels deeper than the sender wrote it, so
 * every payload ingest accepted must parse again downstream. */
#define AX_JSON_PAYLOAD_DEPTH 64
#define AX_JSON_ENTRY_DEPTH (AX_JSON_PAYLOAD_DEPTH + 8)

/* Parse at most len bytes (not NUL-terminated).  Refuses nesting deeper
 * than max_depth (0 = 64) so a hostile body cannot blow the stack in
 * cJSON's recursive parser.  NULL on any error. */
cJSON *ax_json_parse(const char *buf, size_t len, int max_depth);

/* Value of obj[key] if it is a non-empty string, else NULL. */
const char *ax_json_str(const cJSON *obj, const char *key);

/* RFC 6901 JSON pointer ("/a/0/b", "" = the whole doc).  NULL if absent. */
const cJSON *ax_json_ptr(const cJSON *doc, const char *ptr);

/* cJSON_PrintUnformatted that aborts on OOM; free() the result. */
char *ax_json_print(const cJSON *item);

/* Add key:value only when value is non-NULL (else adds null when
 * null_if_absent). */
void ax_json_add_str(cJSON *obj, const char *key, const char *value, int null_if_absent);

#endif /* AX_JSON_H */
