/* bolt_peer.c - the scripted Bolt peer of tests/lib/boltpeer.c as a
 * program, for clients in other languages (tests/e2e/bolt_peer.sh runs
 * Neo4j's official JavaScript driver against it).
 *
 *   bolt_peer [--tls CERT KEY] SCRIPT [TIMEOUT_MS]
 *
 * Prints the port it listens on (127.0.0.1) on the first line of stdout,
 * serves one connection with the script, and exits 0 when the whole
 * script ran with nothing mismatched, 1 otherwise (the reason on stderr),
 * 2 on a bad script.  TIMEOUT_MS (default 20000) bounds the wait for the
 * client to connect and to finish.  BOLTPEER_TRACE=1 logs every message
 * the client sent to stderr.  --tls serves TLS with that certificate and key
 * (PEM files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boltpeer.h"

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL;
	struct boltpeer *p;
	char err[512], *text;
	int timeout;

	if (argc > 3 && strcmp(argv[1], "--tls") == 0) {
		cert = argv[2];
		key = argv[3];
		argv += 3;
		argc -= 3;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: bolt_peer [--tls CERT KEY] SCRIPT [TIMEOUT_MS]\n");
		return 2;
	}
	timeout = argc > 2 ? atoi(argv[2]) : 20000;
	text = bp_read_file(argv[1], err, sizeof(err));
	p = text ? bp_start_tls(text, cert, key, err, sizeof(err)) : NULL;
	free(text);
	if (!p) {
		fprintf(stderr, "bolt_peer: %s\n", err);
		return 2;
	}
	printf("%d\n", bp_port(p));
	fflush(stdout);
	if (bp_finish(p, timeout, err, sizeof(err))) {
		fprintf(stderr, "bolt_peer: %s: MISMATCH: %s\n", argv[1], err);
		return 1;
	}
	fprintf(stderr, "bolt_peer: %s: script completed\n", argv[1]);
	return 0;
}
