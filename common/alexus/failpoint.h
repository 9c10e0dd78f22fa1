/* failpoint.h - named crash points for failure tests.
 *
 * ax_failpoint("reason.after_commit") kills the process with SIGKILL when
 * the comma-separated list in ALEXUS_FAILPOINTS names that point, and does
 * nothing otherwise (one getenv per process, then a string compare).  The
 * integration tests use it to stop a daemon at an exact step -- between a
 * commit and an acknowledgement, say -- and prove that a restart loses and
 * duplicates nothing.  Never set ALEXUS_FAILPOINTS in production. */
#ifndef AX_FAILPOINT_H
#define AX_FAILPOINT_H

void ax_failpoint(const char *name);

/* 1 for the first N calls of a process when the list names "name*N", 0
 * otherwise: a failure the caller injects (an error path, not a crash),
 * so a test can prove a retry.  Thread-safe. */
int ax_failpoint_fail(const char *name);

#endif /* AX_FAILPOINT_H */
