/* ctl_incident_op.c - `alexusctl incidents ack|resolve|note ID`: what an
 * operator does to an incident, from a terminal.
 *
 * Design: the same function as the operator API (common/incident.c,
 * ax_incident_apply), so both write the same rows: one transaction under
 * the tenant's row-level security through the application role, an
 * incident_events row naming the actor, an audit row, and a PUBLISH on the
 * tenant's channel after the commit (best effort: without Redis the
 * change is still made and the live feed finds it in incident_events). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ctl.h"
#include "ctl_why.h"
#include "alexus/hash.h"
#include "alexus/incident.h"
#include "alexus/keys.h"
#include "alexus/stream.h"

#define OP_USAGE "incidents ack|resolve ID --tenant NAME [--by WHO] [--comment TEXT]\n" \
	"       alexusctl incidents note ID --tenant NAME --text TEXT [--by WHO]"

int ctl_incident_op(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "by", required_argument, NULL, 'b' },
		{ "comment", required_argument, NULL, 'c' },
		{ "text", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *by = NULL, *comment = NULL, *text = NULL, *id;
	char actor[AX_INCIDENT_ACTOR_MAX + 1], trace[AX_TRACE_LEN], err[512];
	struct ax_incident_result out;
	enum ax_incident_op op;
	redisContext *r;
	struct ax_pg *pg;
	ax_err rc;
	int opt;

	if (strcmp(argv[0], "ack") == 0)
		op = AX_INCIDENT_ACK;
	else if (strcmp(argv[0], "resolve") == 0)
		op = AX_INCIDENT_RESOLVE;
	else
		op = AX_INCIDENT_NOTE;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			tenant = optarg;
			break;
		case 'b':
			by = optarg;
			break;
		case 'c':
			comment = optarg;
			break;
		case 'x':
			text = optarg;
			break;
		default:
			return ctl_usage(OP_USAGE, "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return ctl_usage(OP_USAGE, "one incident id is needed");
	id = argv[optind];
	if (tenant == NULL)
		return ctl_usage(OP_USAGE, "--tenant is required");
	if (!ax_tenant_valid(tenant))
		return ctl_fail("invalid tenant id '%s'", tenant);
	if (!ax_uuid_valid(id))
		return ctl_fail("'%s' is not an incident id", id);
	if (op == AX_INCIDENT_NOTE && (text == NULL || text[0] == '\0'))
		return ctl_usage(OP_USAGE, "note needs --text");
	if (op != AX_INCIDENT_NOTE && text != NULL)
		return ctl_usage(OP_USAGE, "--text is for note; use --comment");
	if (op == AX_INCIDENT_NOTE && comment != NULL)
		return ctl_usage(OP_USAGE, "note takes --text, not --comment");
	/* Who did it, as the audit row and the timeline will say. */
	if (by == NULL) {
		const char *user = getenv("USER");

		snprintf(actor, sizeof(actor), "alexusctl:%s", user != NULL && *user ? user : "?");
	} else if (strlen(by) > AX_INCIDENT_ACTOR_MAX) {
		return ctl_fail("--by is longer than %d bytes", AX_INCIDENT_ACTOR_MAX);
	} else {
		snprintf(actor, sizeof(actor), "%s", by);
	}

	pg = ctl_pg_open(c->cfg.database_url, "application");
	if (pg == NULL)
		return CTL_FAIL;
	r = ax_redis_connect(c->cfg.redis_url, c->cfg.redis_timeout_ms, err, sizeof(err));
	if (r == NULL)
		fprintf(stderr, "alexusctl: warning: %s: the change is made but not published\n",
			err);
	ax_trace_new(trace);
	memset(&out, 0, sizeof(out));
	rc = ax_incident_apply(pg, r, tenant, id, op, actor,
			       op == AX_INCIDENT_NOTE ? text : comment, trace, &out, err,
			       sizeof(err));
	if (r != NULL)
		redisFree(r);
	ax_pg_free(pg);
	switch (rc) {
	case AX_OK:
		printf("%s %s: %s by %s at %s (event %lld)%s\n", ax_incident_op_stage(op), id,
		       out.status, actor, out.at, out.event_id,
		       out.published || op == AX_INCIDENT_NOTE ? "" : " (not published)");
		return 0;
	case AX_ENOTFOUND:
		return ctl_fail("tenant %s has no incident %s", tenant, id);
	case AX_EDUP:
		if (out.by[0] != '\0')
			return ctl_fail("incident %s: %s (by %s); nothing changed", id, out.conflict,
					out.by);
		return ctl_fail("incident %s: %s; nothing changed", id, out.conflict);
	default:
		return ctl_fail("incidents %s: %s", argv[0], err);
	}
}
