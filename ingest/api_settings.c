/* api_settings.c - the operator API's tenant administration (admin role):
 * settings, notification channels, credentials (see api.h).
 *
 * Settings.  tenant_settings (0003, 0010, 0017, 0019) is the one home of
 * the knobs reason and act read.  PUT takes any subset of its columns;
 * every value is checked here first (type, range, set) so a bad one is a
 * 400 naming the field, and what Postgres alone can judge (clarify <=
 * execute, the URL shape of http_action_allowlist, an escalation policy,
 * grouping rules) is its CHECK, whose constraint is mapped back to the
 * field.  Either way the transaction is rolled back: nothing changes.  A
 * tenant without a row reads the column defaults: GET inserts the default
 * row and rolls back, so the defaults come from the schema, not from a
 * copy here.
 *
 * Channels.  Created with their non-secret config (the CHECK of 0003
 * refuses secret-looking keys) and the name of a credential; "deleted" by
 * disabling them, as 0003 wants (alexus_app has no DELETE: deliveries keep
 * pointing at them).
 *
 * Credentials.  PUT seals the value with the tenant's key (common/cred.c,
 * the keyring act opens them with); the answer and the list carry the
 * name, key id and times only.  The request body holding the value is
 * wiped as soon as it was sealed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "alexus/cred.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"

#define ARRAY_MAX 100 /* entries of a list setting */
#define ITEM_MAX 253  /* bytes of one entry (a DNS name's length) */
#define SERVICE_MAX 200

enum ftype { F_UNIT, F_INT, F_ENUM, F_STRS, F_OBJECT, F_RULES };

static const char *const autonomy_set[] = {"off", "dry_run", "approval", "autonomous", NULL};
static const char *const blast_set[] = {"low", "medium", "high", NULL};

static const struct field {
	const char *name;
	enum ftype type;
	long min, max;          /* F_INT */
	const char *const *set; /* F_ENUM */
} FIELDS[] = {
    {"execute_threshold", F_UNIT, 0, 0, NULL},
    {"clarify_threshold", F_UNIT, 0, 0, NULL},
    {"autonomy", F_ENUM, 0, 0, autonomy_set},
    {"allowed_namespaces", F_STRS, 0, 0, NULL},
    {"autonomous_actions", F_STRS, 0, 0, NULL},
    {"replica_cap", F_INT, 0, 1000, NULL},
    {"grouping_window_s", F_INT, 1, 604800, NULL},
    {"flap_window_s", F_INT, 0, 86400, NULL},
    {"autonomous_max_blast", F_ENUM, 0, 0, blast_set},
    {"max_actions_per_hour", F_INT, 0, 100000, NULL},
    {"http_action_allowlist", F_STRS, 0, 0, NULL},
    {"escalation_policy", F_OBJECT, 0, 0, NULL},
    {"grouping_rules", F_RULES, 0, 0, NULL},
};
#define NFIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

static const char Q_ENSURE[] = "INSERT INTO tenant_settings (tenant_id) VALUES (app_tenant()) "
                               "ON CONFLICT (tenant_id) DO NOTHING";
static const char Q_SETTINGS[] = "SELECT (to_jsonb(s) - 'tenant_id')::text FROM tenant_settings s";
static const char Q_AUDIT[] = "SELECT audit_append($1, $2, $3, $4::jsonb, $5)";

#define CHANNEL_JSON                                                                               \
	"json_build_object('id', id, 'kind', kind, 'name', name, 'min_severity', "                 \
	"min_severity, 'service', service, 'config', config, 'credential', credential, "           \
	"'enabled', enabled, 'created_at', created_at, 'updated_at', updated_at)::text"
static const char Q_CHANNELS[] =
    "SELECT coalesce(json_agg(c ORDER BY c->>'name'), '[]')::text FROM "
    "(SELECT " CHANNEL_JSON "::json AS c FROM notification_channels) x";
static const char Q_CHANNEL_NEW[] =
    "INSERT INTO notification_channels (tenant_id, id, kind, name, min_severity, service, "
    "config, credential) VALUES (app_tenant(), $1, $2, $3, coalesce($4, 'warning'), $5, "
    "coalesce($6::jsonb, '{}'), $7) RETURNING " CHANNEL_JSON;
static const char Q_CHANNEL_OFF[] =
    "UPDATE notification_channels SET enabled = false, updated_at = now() WHERE id = $1 "
    "RETURNING " CHANNEL_JSON;
static const char Q_CRED_EXISTS[] = "SELECT 1 FROM tenant_credentials WHERE name = $1";

/* ------------------------------------------------------------ helpers */

static int audit(struct ax_pg *pg, struct ingest_api_call *c, const char *action,
                 const char *subject, cJSON *detail, char *err, size_t errlen)
{
	char *d;
	PGresult *r;

	cJSON_AddStringToObject(detail, "via", "api");
	d = ax_json_print(detail);
	{
		const char *p[5] = {c->by, action, subject, d, c->trace};

		r = ax_pg_exec(pg, err, errlen, Q_AUDIT, 5, p);
	}
	free(d);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* The body as a JSON object, or answered 400. */
static cJSON *body_object(struct ingest_api_call *c, const char *shape)
{
	cJSON *doc = c->input != NULL && c->input[0] != '\0'
	                 ? ax_json_parse(c->input, strlen(c->input), 16)
	                 : NULL;

	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		ingest_api_error(c, 400, "invalid_json", NULL, "the body must be a JSON object %s",
		                 shape);
		return NULL;
	}
	return doc;
}

static int in_set(const char *v, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(v, *set) == 0)
			return 1;
	return 0;
}

/* ------------------------------------------------------------ settings */

/* 0 when v is a valid value of f; else answered 400. */
static int check_field(struct ingest_api_call *c, const struct field *f, const cJSON *v)
{
	const cJSON *e;
	int n = 0;

	switch (f->type) {
	case F_UNIT:
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1)
			return 0;
		ingest_api_error(c, 400, "bad_request", f->name, "%s must be a number in [0, 1]",
		                 f->name);
		return -1;
	case F_INT:
		if (cJSON_IsNumber(v) && v->valuedouble == (double)(long)v->valuedouble &&
		    v->valuedouble >= (double)f->min && v->valuedouble <= (double)f->max)
			return 0;
		ingest_api_error(c, 400, "bad_request", f->name,
		                 "%s must be an integer in [%ld, %ld]", f->name, f->min, f->max);
		return -1;
	case F_ENUM:
		if (cJSON_IsString(v) && in_set(v->valuestring, f->set))
			return 0;
		ingest_api_error(c, 400, "bad_request", f->name,
		                 "%s: not one of the allowed values", f->name);
		return -1;
	case F_STRS:
		if (!cJSON_IsArray(v))
			break;
		cJSON_ArrayForEach(e, v)
		{
			if (!cJSON_IsString(e) || e->valuestring[0] == '\0' ||
			    strlen(e->valuestring) > ITEM_MAX || ++n > ARRAY_MAX)
				goto bad_list;
		}
		return 0;
	case F_OBJECT:
		if (cJSON_IsObject(v))
			return 0;
		ingest_api_error(c, 400, "bad_request", f->name, "%s must be an object", f->name);
		return -1;
	case F_RULES:
		if (cJSON_IsObject(v) || cJSON_IsArray(v) || cJSON_IsNull(v))
			return 0;
		ingest_api_error(c, 400, "bad_request", f->name,
		                 "%s must be an object, an array or null", f->name);
		return -1;
	}
bad_list:
	ingest_api_error(c, 400, "bad_request", f->name,
	                 "%s must be an array of at most %d non-empty strings of at most %d bytes",
	                 f->name, ARRAY_MAX, ITEM_MAX);
	return -1;
}

/* The field a tenant_settings CHECK speaks for. */
static const char *constraint_field(const char *con)
{
	static const char prefix[] = "tenant_settings_";
	size_t i;

	if (strcmp(con, "tenant_settings_check") == 0)
		return "clarify_threshold"; /* clarify_threshold <= execute_threshold */
	if (strcmp(con, "tenant_settings_http_allowlist_urls") == 0)
		return "http_action_allowlist";
	for (i = 0; i < NFIELDS; i++)
		if (strncmp(con, prefix, sizeof(prefix) - 1) == 0 &&
		    strncmp(con + sizeof(prefix) - 1, FIELDS[i].name, strlen(FIELDS[i].name)) == 0)
			return FIELDS[i].name;
	return NULL;
}

static void settings_answer(struct ax_pg *pg, struct ingest_api_call *c, int commit)
{
	char err[512];
	PGresult *r = ax_pg_exec(pg, err, sizeof(err), Q_SETTINGS, 0, NULL);

	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		ingest_api_unavailable(pg, c, err);
		return;
	}
	free(c->body);
	c->body = ax_xstrdup(PQgetvalue(r, 0, 0));
	c->status = 200;
	PQclear(r);
	if (!commit) {
		ax_pg_rollback(pg);
	} else if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		ingest_api_unavailable(pg, c, err);
	}
}

static void settings_put(struct ax_pg *pg, struct ingest_api_call *c)
{
	const char *params[NFIELDS];
	char sql[4096], err[512], *texts[NFIELDS];
	const struct field *f;
	cJSON *doc, *it, *detail, *names;
	size_t off, i, np = 0;
	PGresult *r;

	doc = body_object(c, "of tenant_settings columns");
	if (doc == NULL)
		return;
	cJSON_ArrayForEach(it, doc)
	{
		for (f = NULL, i = 0; i < NFIELDS; i++)
			if (strcmp(it->string, FIELDS[i].name) == 0)
				f = &FIELDS[i];
		if (f == NULL) {
			ingest_api_error(c, 400, "bad_request", it->string,
			                 "unknown setting \"%.64s\"", it->string);
			cJSON_Delete(doc);
			return;
		}
		if (check_field(c, f, it) != 0) {
			cJSON_Delete(doc);
			return;
		}
	}
	off = (size_t)snprintf(sql, sizeof(sql), "UPDATE tenant_settings SET updated_at = now()");
	names = cJSON_CreateArray();
	for (i = 0; i < NFIELDS; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, FIELDS[i].name);
		const char *expr;

		if (v == NULL)
			continue;
		texts[np] = cJSON_IsString(v) ? ax_xstrdup(v->valuestring) : ax_json_print(v);
		params[np] = cJSON_IsNull(v) ? NULL : texts[np];
		/* Each value is a bind parameter; only column names (from
		 * FIELDS) and casts enter the text. */
		switch (FIELDS[i].type) {
		case F_UNIT:
			expr = "::numeric";
			break;
		case F_INT:
			expr = "::integer";
			break;
		case F_ENUM:
			expr = "::text";
			break;
		case F_STRS:
			expr = "::jsonb";
			break;
		default:
			expr = "::jsonb";
			break;
		}
		if (FIELDS[i].type == F_STRS)
			off += (size_t)snprintf(
			    sql + off, sizeof(sql) - off,
			    ", %s = ARRAY(SELECT jsonb_array_elements_text($%zu%s))",
			    FIELDS[i].name, np + 1, expr);
		else
			off += (size_t)snprintf(sql + off, sizeof(sql) - off, ", %s = $%zu%s",
			                        FIELDS[i].name, np + 1, expr);
		cJSON_AddItemToArray(names, cJSON_CreateString(FIELDS[i].name));
		np++;
	}
	cJSON_Delete(doc);
	if (ingest_api_begin(pg, c) != 0)
		goto out;
	r = ax_pg_exec(pg, err, sizeof(err), Q_ENSURE, 0, NULL);
	if (r == NULL) {
		ingest_api_unavailable(pg, c, err);
		goto out;
	}
	PQclear(r);
	r = ax_pg_exec(pg, err, sizeof(err), sql, (int)np, params);
	if (r == NULL) {
		const char *field = constraint_field(ax_pg_constraint(pg));

		if (strcmp(ax_pg_sqlstate(pg), "23514") == 0) {
			ax_pg_rollback(pg);
			ingest_api_error(c, 400, "bad_request", field,
			                 "%s: the value is not valid (%s); nothing was changed",
			                 field != NULL ? field : "settings", ax_pg_constraint(pg));
		} else {
			ingest_api_unavailable(pg, c, err);
		}
		goto out;
	}
	PQclear(r);
	detail = cJSON_CreateObject();
	cJSON_AddItemToObject(detail, "fields", names);
	names = NULL;
	if (audit(pg, c, "settings.updated", "tenant_settings", detail, err, sizeof(err)) != 0) {
		cJSON_Delete(detail);
		ingest_api_unavailable(pg, c, err);
		goto out;
	}
	cJSON_Delete(detail);
	settings_answer(pg, c, 1);
	ax_log(AX_LOG_INFO, c->trace, c->tenant, "settings updated by %s (%zu field(s))", c->by,
	       np);
out:
	cJSON_Delete(names);
	for (i = 0; i < np; i++)
		free(texts[i]);
}

/* ------------------------------------------------------------ channels */

static void channel_create(struct ax_pg *pg, struct ingest_api_call *c)
{
	static const char *const kinds[] = {"slack",    "teams",   "pagerduty", "email",
	                                    "telegram", "webhook", NULL};
	static const char *const sevs[] = {"critical", "high", "warning", "info", NULL};
	static const char *const known[] = {
	    "kind", "name", "min_severity", "service", "config", "credential", NULL};
	const char *kind, *name, *sev, *service, *cred;
	const cJSON *config, *it;
	char id[AX_UUID_LEN], err[512], *config_text = NULL;
	cJSON *doc, *detail;
	PGresult *r;

	doc = body_object(c, "{\"kind\", \"name\", \"min_severity\", \"service\", \"config\", "
	                     "\"credential\"}");
	if (doc == NULL)
		return;
	cJSON_ArrayForEach(it, doc)
	{
		if (!in_set(it->string, known)) {
			ingest_api_error(c, 400, "bad_request", it->string,
			                 "unknown field \"%.64s\"", it->string);
			goto out;
		}
	}
	kind = ax_json_str(doc, "kind");
	name = ax_json_str(doc, "name");
	sev = ax_json_str(doc, "min_severity");
	service = ax_json_str(doc, "service");
	cred = ax_json_str(doc, "credential");
	config = cJSON_GetObjectItemCaseSensitive(doc, "config");
	if (kind == NULL || !in_set(kind, kinds)) {
		ingest_api_error(
		    c, 400, "bad_request", "kind",
		    "kind must be slack, teams, pagerduty, email, telegram or webhook");
		goto out;
	}
	if (name == NULL || !ax_cred_name_valid(name)) {
		ingest_api_error(
		    c, 400, "bad_request", "name",
		    "name must be 1..63 of A-Z a-z 0-9 . _ - starting with a letter or "
		    "digit");
		goto out;
	}
	if ((cJSON_GetObjectItemCaseSensitive(doc, "min_severity") != NULL &&
	     (sev == NULL || !in_set(sev, sevs)))) {
		ingest_api_error(c, 400, "bad_request", "min_severity",
		                 "min_severity must be critical, high, warning or info");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(doc, "service") != NULL &&
	    (service == NULL || service[0] == '\0' || strlen(service) > SERVICE_MAX)) {
		ingest_api_error(c, 400, "bad_request", "service", "service must be 1..%d bytes",
		                 SERVICE_MAX);
		goto out;
	}
	if (config != NULL && !cJSON_IsObject(config)) {
		ingest_api_error(c, 400, "bad_request", "config", "config must be an object");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(doc, "credential") != NULL &&
	    (cred == NULL || !ax_cred_name_valid(cred))) {
		ingest_api_error(c, 400, "bad_request", "credential",
		                 "credential must be the name of a stored credential");
		goto out;
	}
	if (config != NULL)
		config_text = ax_json_print(config);
	if (ingest_api_begin(pg, c) != 0)
		goto out;
	if (cred != NULL) {
		const char *p[1] = {cred};

		r = ax_pg_exec(pg, err, sizeof(err), Q_CRED_EXISTS, 1, p);
		if (r == NULL) {
			ingest_api_unavailable(pg, c, err);
			goto out;
		}
		if (PQntuples(r) == 0) {
			PQclear(r);
			ax_pg_rollback(pg);
			ingest_api_error(c, 400, "bad_request", "credential",
			                 "no credential named %s (PUT /v1/credentials/%s first)",
			                 cred, cred);
			goto out;
		}
		PQclear(r);
	}
	ax_uuid7(id);
	{
		const char *p[7] = {id, kind, name, sev, service, config_text, cred};

		r = ax_pg_exec(pg, err, sizeof(err), Q_CHANNEL_NEW, 7, p);
	}
	if (r == NULL) {
		if (strcmp(ax_pg_sqlstate(pg), "23505") == 0) {
			ax_pg_rollback(pg);
			ingest_api_error(c, 409, "conflict", "name", "a channel named %s exists",
			                 name);
		} else if (strcmp(ax_pg_sqlstate(pg), "23514") == 0) {
			ax_pg_rollback(pg);
			ingest_api_error(c, 400, "bad_request", "config",
			                 "config must hold no secret (secret, token, password, "
			                 "api_key, webhook_url, routing_key...): store it as a "
			                 "credential and name it in \"credential\"");
		} else {
			ingest_api_unavailable(pg, c, err);
		}
		goto out;
	}
	free(c->body);
	c->body = ax_xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	detail = cJSON_CreateObject();
	cJSON_AddStringToObject(detail, "kind", kind);
	cJSON_AddStringToObject(detail, "name", name);
	{
		char subject[64];

		snprintf(subject, sizeof(subject), "channel:%s", id);
		if (audit(pg, c, "channel.created", subject, detail, err, sizeof(err)) != 0 ||
		    ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
			cJSON_Delete(detail);
			ingest_api_unavailable(pg, c, err);
			goto out;
		}
	}
	cJSON_Delete(detail);
	c->status = 201;
out:
	free(config_text);
	cJSON_Delete(doc);
}

static void channel_delete(struct ax_pg *pg, struct ingest_api_call *c)
{
	const char *p[1] = {c->id};
	char err[512], subject[64];
	cJSON *detail;
	PGresult *r;

	if (!ax_uuid_valid(c->id)) {
		ingest_api_error(c, 404, "not_found", NULL, "no channel %.64s", c->id);
		return;
	}
	if (ingest_api_begin(pg, c) != 0)
		return;
	r = ax_pg_exec(pg, err, sizeof(err), Q_CHANNEL_OFF, 1, p);
	if (r == NULL) {
		ingest_api_unavailable(pg, c, err);
		return;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		ax_pg_rollback(pg);
		ingest_api_error(c, 404, "not_found", NULL, "no channel %s", c->id);
		return;
	}
	free(c->body);
	c->body = ax_xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	detail = cJSON_CreateObject();
	snprintf(subject, sizeof(subject), "channel:%s", c->id);
	if (audit(pg, c, "channel.disabled", subject, detail, err, sizeof(err)) != 0 ||
	    ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		cJSON_Delete(detail);
		ingest_api_unavailable(pg, c, err);
		return;
	}
	cJSON_Delete(detail);
	c->status = 200;
}

/* --------------------------------------------------------- credentials */

static void credentials_list(struct ax_pg *pg, struct ingest_api_call *c)
{
	struct ax_cred_info *list = NULL;
	char err[512];
	size_t n = 0, i;
	cJSON *out, *items;

	if (ingest_api_begin(pg, c) != 0)
		return;
	if (ax_cred_list(pg, c->tenant, &list, &n, err, sizeof(err)) != AX_OK) {
		ingest_api_unavailable(pg, c, err);
		return;
	}
	ax_pg_rollback(pg);
	out = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(out, "items");
	if (out == NULL || items == NULL)
		abort();
	for (i = 0; i < n; i++) {
		cJSON *it = cJSON_CreateObject();

		if (it == NULL || !cJSON_AddItemToArray(items, it))
			abort();
		cJSON_AddStringToObject(it, "name", list[i].name);
		cJSON_AddNumberToObject(it, "key_id", list[i].key_id);
		cJSON_AddStringToObject(it, "created_at", list[i].created_at);
		cJSON_AddStringToObject(it, "updated_at", list[i].updated_at);
	}
	free(list);
	ingest_api_json(c, 200, out);
	cJSON_Delete(out);
}

/* The value reaches ax_cred_put and nothing else: not the log, not the
 * answer, not the audit row; the body and the parsed copy are wiped. */
static void credential_put(struct ax_pg *pg, struct ingest_api_call *c)
{
	const cJSON *v;
	cJSON *doc, *detail, *out;
	unsigned int key_id = 0;
	char err[512], subject[96];
	ax_err rc;

	if (!ax_cred_name_valid(c->name)) {
		ingest_api_error(c, 400, "bad_request", "name",
		                 "a credential name is 1..63 of A-Z a-z 0-9 . _ - starting with a "
		                 "letter or digit");
		return;
	}
	if (c->keyring == NULL) {
		ingest_api_error(c, 503, "unavailable", NULL,
		                 "credentials cannot be stored: ALEXUS_MASTER_KEY is not set");
		return;
	}
	doc = body_object(c, "{\"value\": \"...\"}");
	if (c->input != NULL)
		ax_cred_wipe(c->input, strlen(c->input));
	if (doc == NULL)
		return;
	v = cJSON_GetObjectItemCaseSensitive(doc, "value");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strlen(v->valuestring) > AX_CRED_VALUE_MAX) {
		ingest_api_error(c, 400, "bad_request", "value",
		                 "value must be a string of 1..%d bytes", (int)AX_CRED_VALUE_MAX);
		goto out;
	}
	if (ingest_api_begin(pg, c) != 0)
		goto out;
	rc = ax_cred_put(pg, c->keyring, c->tenant, c->name, (const unsigned char *)v->valuestring,
	                 strlen(v->valuestring), &key_id, err, sizeof(err));
	if (rc != AX_OK) {
		ingest_api_unavailable(pg, c, err);
		goto out;
	}
	detail = cJSON_CreateObject();
	cJSON_AddStringToObject(detail, "name", c->name);
	cJSON_AddNumberToObject(detail, "key_id", key_id);
	snprintf(subject, sizeof(subject), "credential:%s", c->name);
	if (audit(pg, c, "credential.set", subject, detail, err, sizeof(err)) != 0 ||
	    ax_pg_commit(pg, err, sizeof(err)) != AX_OK) {
		cJSON_Delete(detail);
		ingest_api_unavailable(pg, c, err);
		goto out;
	}
	cJSON_Delete(detail);
	out = cJSON_CreateObject();
	cJSON_AddStringToObject(out, "name", c->name);
	cJSON_AddNumberToObject(out, "key_id", key_id);
	cJSON_AddBoolToObject(out, "stored", 1);
	ingest_api_json(c, 200, out);
	cJSON_Delete(out);
	ax_log(AX_LOG_INFO, c->trace, c->tenant, "credential %s set by %s (key id %u)", c->name,
	       c->by, key_id);
out:
	if (cJSON_IsString(v))
		ax_cred_wipe(v->valuestring, strlen(v->valuestring));
	cJSON_Delete(doc);
}

void ingest_api_settings(struct ax_pg *pg, struct ingest_api_call *c)
{
	char err[512];
	PGresult *r;

	switch (c->kind) {
	case INGEST_API_SETTINGS_GET:
		if (ingest_api_begin(pg, c) != 0)
			return;
		/* The row, or the schema's defaults (inserted, then rolled back). */
		r = ax_pg_exec(pg, err, sizeof(err), Q_ENSURE, 0, NULL);
		if (r == NULL) {
			ingest_api_unavailable(pg, c, err);
			return;
		}
		PQclear(r);
		settings_answer(pg, c, 0);
		break;
	case INGEST_API_SETTINGS_PUT:
		settings_put(pg, c);
		break;
	case INGEST_API_CHANNELS:
		if (ingest_api_begin(pg, c) != 0)
			return;
		r = ax_pg_exec(pg, err, sizeof(err), Q_CHANNELS, 0, NULL);
		if (r == NULL) {
			ingest_api_unavailable(pg, c, err);
			return;
		}
		ax_pg_rollback(pg);
		free(c->body);
		{
			size_t len = strlen(PQgetvalue(r, 0, 0)) + 16;

			c->body = ax_xmalloc(len);
			snprintf(c->body, len, "{\"items\":%s}", PQgetvalue(r, 0, 0));
		}
		c->status = 200;
		PQclear(r);
		break;
	case INGEST_API_CHANNEL_CREATE:
		channel_create(pg, c);
		break;
	case INGEST_API_CHANNEL_DELETE:
		channel_delete(pg, c);
		break;
	case INGEST_API_CREDENTIALS:
		credentials_list(pg, c);
		break;
	case INGEST_API_CREDENTIAL_PUT:
		credential_put(pg, c);
		break;
	default:
		ingest_api_error(c, 500, "internal", NULL, "not a settings call");
		break;
	}
}
