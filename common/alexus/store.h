/* store.h - batched writes of the incident tables, for one tenant.
 *
 * A unit of work that touches many rows (reason's batch of signals, a
 * bulk import, the store benchmark) collects them here and writes them in
 * one round trip: a libpq pipeline of at most one statement per kind of
 * change, each statement taking its rows as one JSON array
 * (jsonb_to_recordset), so a batch of 500 alerts costs the same eight
 * statements as a batch of one.  The writes run inside the caller's
 * tenant-scoped transaction (ax_pg_begin), so row-level security checks
 * every row; the caller commits.
 *
 * Order of the statements, chosen so every constraint holds within the
 * batch: incident updates (an incident resolved here frees its group for
 * a new one), incident inserts, alert updates, alert inserts, pipeline
 * runs, deploys, alert history, incident events, analyses, actions,
 * signal claims.
 *
 * Strings are copied when added; NULL strings are written as NULL.
 * Timestamps are RFC 3339 text. */
#ifndef AX_STORE_H
#define AX_STORE_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "alexus/err.h"
#include "alexus/pg.h"

struct ax_incident_row {
	const char *id;           /* UUID */
	const char *title;
	const char *status;       /* open | resolved */
	const char *severity;
	const char *category;     /* NULL: not classified */
	double confidence;
	int has_confidence;
	const char *stage;
	const char *group_key;
	const char *service;
	long alert_count;
	long firing_count;        /* its alerts now firing */
	const char *opened_at;    /* NULL: now() (inserts only) */
	const char *resolved_at;  /* NULL while open */
	const char *trace;
	int touched;              /* a signal touched it: last_signal_at = now() */
	const char *parent_id;    /* inserts only: the parent incident (0010), or NULL */
};

struct ax_alert_row {
	const char *id;
	const char *incident_id;
	const char *fingerprint;
	const char *name;
	const char *status;       /* firing | resolved */
	const char *severity;
	const char *summary;
	const char *service;
	const char *host;
	const char *namespace_;
	const cJSON *labels;      /* object; NULL = {} */
	const char *source;
	const char *starts_at;
	const char *ends_at;
	const char *last_signal;  /* UUID of the signal that changed it */
	const char *group_rule;   /* inserts only: the rule that attached it, or "opened" */
	const cJSON *group_match; /* inserts only: the values that matched; NULL = NULL */
	long flap_count;          /* times it fired again within the flap window (0 keeps it) */
};

struct ax_history_row {
	const char *alert_id;
	const char *from_status;  /* NULL: first sighting */
	const char *to_status;
	const char *signal_id;
	const char *trace;
};

struct ax_event_row {
	const char *incident_id;
	const char *signal_id;
	const char *stage;
	const char *input_digest;
	const cJSON *output;      /* NULL = {} */
	double duration_ms;
	const char *provider;     /* NULL = heuristic */
	int fallback;
	const char *trace;
	const char *run_id;       /* the pipeline run, NULL for none */
};

/* One diagnosis of an incident (analysis_runs). */
struct ax_analysis_row {
	const char *id;
	const char *incident_id;
	const char *run_id;           /* pipeline_runs.id, NULL for none */
	const char *provider;         /* "heuristic", "openai", "anthropic" */
	const char *model;            /* NULL for the heuristic */
	int fallback_used;
	const char *fallback_reason;  /* NULL unless fallback_used */
	long tokens_in, tokens_out;
	double cost_usd;
	double confidence;
	const cJSON *confidence_parts; /* object; NULL = {} */
	double duration_ms;
	const char *trace;
};

/* A pipeline run (the stages after classify, see reason/run.h). */
struct ax_run_row {
	const char *id;
	const char *signal_id;
	const char *incident_id;  /* NULL for a cmdb run */
	const char *kind;         /* incident | cmdb */
	const char *stage;        /* the last stage done */
	const cJSON *input;       /* the signal it started from */
	const char *trace;
	int lease_s;              /* > 0: leased to the writer for this long */
};

/* A deploy or change signal (deploys, 0009). */
struct ax_deploy_row {
	const char *id;
	const char *signal_id;
	const char *kind;         /* deploy | change */
	const char *name;
	const char *status;
	const char *service, *namespace_, *host;
	const char *version;      /* NULL when the sender names none */
	const cJSON *labels;
	const char *source;
	const cJSON *source_ref;  /* NULL = NULL */
	const char *at;           /* NULL = now() */
};

struct ax_action_row {
	const char *id;
	const char *incident_id;
	const char *signal_id;
	const char *type;
	const char *payload;      /* JSON text */
	const char *trace;
};

struct ax_store_batch;

struct ax_store_batch *ax_store_batch_new(void);
void ax_store_batch_free(struct ax_store_batch *b);     /* NULL-safe */
/* Forget every row (the batch can be filled again). */
void ax_store_batch_clear(struct ax_store_batch *b);
/* Rows waiting, of every kind. */
size_t ax_store_batch_rows(const struct ax_store_batch *b);

/* An incident this batch opens.  Opening one whose group already has an
 * open incident (another writer got there first) is not an error of the
 * statement: ax_store_write reports it as AX_EDUP. */
void ax_store_incident_insert(struct ax_store_batch *b, const struct ax_incident_row *r);
/* New values for an existing incident: status, severity, category,
 * confidence, stage, alert_count, resolved_at (updated_at = now(); and
 * last_signal_at = now() when touched). */
void ax_store_incident_update(struct ax_store_batch *b, const struct ax_incident_row *r);
void ax_store_alert_insert(struct ax_store_batch *b, const struct ax_alert_row *r);
/* New values for an existing alert: status, severity, summary (NULL keeps
 * it), ends_at, last_signal, flap_count (updated_at = now()). */
void ax_store_alert_update(struct ax_store_batch *b, const struct ax_alert_row *r);
void ax_store_run(struct ax_store_batch *b, const struct ax_run_row *r);
/* A deploy row; a second row of the same signal is ignored. */
void ax_store_deploy(struct ax_store_batch *b, const struct ax_deploy_row *r);
void ax_store_history(struct ax_store_batch *b, const struct ax_history_row *r);
void ax_store_event(struct ax_store_batch *b, const struct ax_event_row *r);
void ax_store_analysis(struct ax_store_batch *b, const struct ax_analysis_row *r);
/* A pending action (the outbox row; status 'pending'). */
void ax_store_action(struct ax_store_batch *b, const struct ax_action_row *r);
/* Claim a signal as processed (signals_seen), with the incident it
 * touched (NULL for none).  A signal another writer claimed first makes
 * ax_store_write answer AX_EDUP. */
void ax_store_signal_seen(struct ax_store_batch *b, const char *signal_id,
			  const char *incident_id);

/* Write every row of b for tenant (the transaction's tenant) in one
 * pipeline.  AX_OK: all written.  AX_EDUP: a concurrent writer got there
 * first -- an incident insert met an already open incident of its group,
 * or a signal was already claimed: nothing is usable, roll back and redo
 * the unit of work.  AX_EIO: a statement
 * failed (errbuf, ax_pg_sqlstate); roll back.  The batch is left as it
 * was either way. */
ax_err ax_store_write(struct ax_pg *pg, const char *tenant, struct ax_store_batch *b,
		      char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Retention of signals_seen (migration 0014's signals_prune): delete at
 * most max_rows claims older than older_s seconds (at least 3600) of
 * tenant, or of every tenant when tenant is NULL; *deleted (may be NULL)
 * gets how many.  Runs as its own statement outside any tenant's
 * transaction, as any role with EXECUTE on it (alexus_app).  Call again
 * while *deleted == max_rows.  AX_EINVAL: a bad argument (errbuf);
 * AX_EIO: the statement failed. */
ax_err ax_store_prune_signals(struct ax_pg *pg, const char *tenant, long older_s,
			      long max_rows, long *deleted, char *errbuf, size_t errlen)
	AX_MUSTCHECK;

#endif /* AX_STORE_H */
