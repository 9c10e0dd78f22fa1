/* boltpeer.h - a scripted Bolt server for tests, and the JSON notation of
 * PackStream values that its scripts and the PackStream vectors share.
 *
 * Notation (JSON): null, true, false, strings and arrays are themselves; a
 * whole number is an Integer and any other number a Float; an object is a
 * Dictionary in its key order, except a one-key object whose key starts
 * with '$':
 *   {"$int": "-9223372036854775808"}   an Integer beyond 2^53
 *   {"$float": 2 | "nan" | "inf" | "-inf" | "-0"}   a Float that looks whole
 *   {"$bytes": "00ff"}  {"$bytes_n": N}  Bytes (hex; or N bytes i & 0xff)
 *   {"$str": ["ab", N]}   "ab" repeated N times
 *   {"$utf8": "610062"}   a String given as its bytes in hex (NULs and all)
 *   {"$list": [V, N]}     a List of N copies of V
 *   {"$dict_n": N}        a Dictionary "k0": 0 ... "k<N-1>": N-1
 *   {"$struct": [TAG, [FIELDS...]]}   a Structure
 *   {"$any": 0}           (expectations only) matches any value
 *
 * Script (one connection, one step a line, '#' starts a comment):
 *   !: BOLT 5.4        the version to agree; the client must have offered
 *                      it (else a mismatch); "!: BOLT 0" refuses (0x00000000)
 *   C: RUN "RETURN 1" {} {}   expect this message; fields in notation.
 *                      No fields: fields not checked.  Dictionaries match
 *                      when every key given is present and matches (more
 *                      keys are allowed); lists and structures match whole.
 *   ?C: RESET          optional: if the next message is not this one, skip
 *                      it and the S: lines that follow it
 *   S: SUCCESS {...} / S: RECORD [...] / S: FAILURE {...} / S: IGNORED
 *   S: <NOOP>          a keep-alive (an empty chunk)
 *   S: <RAW> 00ff...   bytes as they are (a broken frame, say)
 *   S: <SLEEP> 200     milliseconds
 *   S: <CLOSE>         close the connection now (the script ends here)
 * After the last step the peer waits for the client to close; a message
 * that arrives then (other than GOODBYE) is a mismatch. */
#ifndef T_BOLTPEER_H
#define T_BOLTPEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alexus/packstream.h"

#define BOLTPEER_ANY_TAG 0x00   /* the encoded form of {"$any": 0}: an empty structure */

/* Append the notation j (or text) to b; -1 with err on a bad notation. */
int bp_encode_json(const cJSON *j, struct ax_ps_buf *b, char *err, size_t errlen);
int bp_encode_text(const char *json, struct ax_ps_buf *b, char *err, size_t errlen);
/* Does got match the expectation want (a decoded notation, see above)?
 * When not, why says where. */
bool bp_match(const struct ax_ps_value *want, const struct ax_ps_value *got, char *why,
	      size_t n);
/* Message names and tags: "RUN" <-> 0x10 ...; -1 / NULL when unknown. */
int bp_msg_tag(const char *name);
const char *bp_msg_name(uint8_t tag);

struct boltpeer;

/* Parse script and listen on 127.0.0.1 (a free port) on a thread of its
 * own, which serves one connection.  NULL with err on a bad script. */
struct boltpeer *bp_start(const char *script, char *err, size_t errlen);
struct boltpeer *bp_start_file(const char *path, char *err, size_t errlen);
/* The same over TLS, with this certificate (chain) and key (PEM files). */
struct boltpeer *bp_start_tls(const char *script, const char *cert_file, const char *key_file,
			      char *err, size_t errlen);
/* A whole file as a NUL-terminated string (free it); NULL with err. */
char *bp_read_file(const char *path, char *err, size_t errlen);
/* Another peer, with its own script, on first's port (its listening
 * socket shared): peers on one port accept one connection each, in the
 * order they were started, so a pool's second connection reaches the
 * second peer.  Finish each peer on its own. */
struct boltpeer *bp_start_also(const struct boltpeer *first, const char *script, char *err,
			       size_t errlen);
int bp_port(const struct boltpeer *p);
/* Wait up to timeout_ms for the connection to end, stop the peer and free
 * it.  0 when the whole script ran and nothing mismatched, else -1 with
 * the first problem in why. */
int bp_finish(struct boltpeer *p, int timeout_ms, char *why, size_t n);

#endif /* T_BOLTPEER_H */
