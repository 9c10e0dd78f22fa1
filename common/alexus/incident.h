/* incident.h - what a human does to an incident: acknowledge it, resolve
 * it, add a note.  Shared by the operator API (ingest) and, later,
 * alexusctl, so both write the same rows.
 *
 * Each operation is one transaction under the tenant's row-level
 * security: lock the incident (FOR UPDATE), check its state, change it,
 * add an incident_events row whose stage names the operation and whose
 * output names the actor (provider 'human'), add the note (incident_notes,
 * 0020) for a note, append an audit row (actor = the person), COMMIT.
 * Only after the commit, the event is PUBLISHed on t:{tenant}:events in
 * the shape reason uses ({"type":"incident.stage", ..., "event_id": N}),
 * best effort: the live feed reads incident_events, so a lost PUBLISH
 * delays a dashboard until the next event, it loses nothing. */
#ifndef AX_INCIDENT_H
#define AX_INCIDENT_H

#include <stddef.h>

#include "alexus/err.h"
#include "alexus/hash.h"

struct ax_pg;
struct redisContext;

enum ax_incident_op {
	AX_INCIDENT_ACK,     /* open and not acknowledged: acknowledged_at/_by set */
	AX_INCIDENT_RESOLVE, /* open: status resolved, resolved_at now */
	AX_INCIDENT_NOTE,    /* any status: an incident_notes row */
};

#define AX_INCIDENT_NOTE_MAX 10000 /* bytes of a note's text */
#define AX_INCIDENT_ACTOR_MAX 160

struct ax_incident_result {
	char status[16];                    /* the incident's status afterwards */
	long long event_id;                 /* the incident_events row */
	char at[40];                        /* when (RFC 3339, UTC) */
	char note_id[AX_UUID_LEN];          /* AX_INCIDENT_NOTE only */
	char conflict[32];                  /* AX_EDUP: already_acknowledged, already_resolved */
	char by[AX_INCIDENT_ACTOR_MAX + 1]; /* AX_EDUP on ack: who acknowledged it */
	int published;                      /* the PUBLISH went out */
};

/* Stage name of op in incident_events: "acknowledged", "resolved", "note". */
const char *ax_incident_op_stage(enum ax_incident_op op);

/* Apply op to incident id of tenant as actor (the token's subject; at
 * most AX_INCIDENT_ACTOR_MAX bytes), text = the note (AX_INCIDENT_NOTE,
 * 1..AX_INCIDENT_NOTE_MAX bytes) or an optional comment (may be NULL),
 * trace carried into the rows.  redis may be NULL (nothing published).
 * Returns AX_OK with *out filled; AX_ENOTFOUND when the tenant has no such
 * incident (another tenant's id included: RLS hides it); AX_EDUP when the
 * incident's state forbids it (ack or resolve of a resolved incident, ack
 * of an acknowledged one: out->conflict says which; nothing changed);
 * AX_EINVAL for a bad argument (errbuf names it); AX_EIO when Postgres
 * failed (rolled back, errbuf). */
ax_err ax_incident_apply(struct ax_pg *pg, struct redisContext *redis, const char *tenant,
                         const char *id, enum ax_incident_op op, const char *actor,
                         const char *text, const char *trace, struct ax_incident_result *out,
                         char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* AX_INCIDENT_H */
