/* cloudwatch.c - AWS CloudWatch alarms delivered by an SNS HTTP(S)
 * subscription (FORMATS.md section 8).
 *
 * SNS wraps everything in an envelope {Type, MessageId, TopicArn, Message,
 * Timestamp, Signature...}; the alarm is a JSON document serialised into
 * the string "Message", so it is parsed a second time (ax_json_parse, same
 * depth cap as a body).  By envelope Type:
 *   SubscriptionConfirmation  no signal; out->subscribe_url = SubscribeURL,
 *                             which the server visits (after its own host
 *                             checks) to confirm the subscription
 *   UnsubscribeConfirmation   no signal; out->ignored.  It carries a
 *                             SubscribeURL too (to undo the unsubscribe),
 *                             which must NOT be visited
 *   Notification              one signal when Message is a CloudWatch alarm
 *                             (AlarmName + Trigger), else AX_EPROTO: an SNS
 *                             topic that publishes something else was
 *                             subscribed to the CloudWatch route
 * With raw message delivery SNS posts the bare alarm without an envelope;
 * that is accepted too.  The SNS signature is ingest/auth's business.
 *
 * Mapping (inside Message):
 *   name        AlarmName (required)
 *   status      NewStateValue: ALARM -> firing, OK -> resolved,
 *               INSUFFICIENT_DATA -> firing at severity info.  CloudWatch
 *               only notifies on INSUFFICIENT_DATA when the owner routed
 *               InsufficientDataActions to this topic, so it is wanted; it
 *               is a monitoring gap (the metric stopped arriving), not a
 *               recovery, so an open ALARM episode of the same alarm stays
 *               open rather than being resolved by missing data
 *   severity    none in CloudWatch: warning for ALARM and OK, info for
 *               INSUFFICIENT_DATA
 *   summary     AlarmDescription, else the SNS Subject
 *   description NewStateReason
 *   labels      alarm_name, alarm_arn, aws_account_id, aws_region (from the
 *               ARN: Region is a display name such as "EU (Ireland)"),
 *               alarm_state, metric_namespace, metric_name, then every
 *               dimension (Trigger.Dimensions[] {name,value}, or for
 *               metric-math alarms the dimensions of Trigger.Metrics[]
 *               MetricStat.Metric, first value of a name wins)
 *   service     dimension ServiceName | FunctionName | TargetGroup |
 *               LoadBalancer | ClusterName | TableName | QueueName |
 *               DBClusterIdentifier (the first present)
 *   host        dimension InstanceId | DBInstanceIdentifier |
 *               CacheClusterId | NodeName
 *   starts_at   StateChangeTime when firing; ends_at: StateChangeTime when
 *               resolved (the OK notification does not say when the alarm
 *               began).  "+0000" offsets go through ingest_time_str.
 *   source_ref  id = AlarmArn
 *   fingerprint over alarm_arn: one alarm is one thing, in any state.
 *               Without an ARN (very old payloads) over alarm_name +
 *               aws_account_id.
 *   raw         the SNS envelope as sent (Message still a string)
 *
 * Detection: header x-amz-sns-message-type, or a body whose Type is one of
 * the three SNS types and that has TopicArn, or a bare alarm (AlarmName +
 * Trigger + NewStateValue + AlarmArn) for raw delivery. */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "cloudwatch"

static const char *const sns_types[] = { "Notification", "SubscriptionConfirmation",
					 "UnsubscribeConfirmation", NULL };
static const char *const service_dims[] = { "ServiceName", "FunctionName", "TargetGroup",
					    "LoadBalancer", "ClusterName", "TableName",
					    "QueueName", "DBClusterIdentifier", NULL };
static const char *const host_dims[] = { "InstanceId", "DBInstanceIdentifier", "CacheClusterId",
					 "NodeName", NULL };
static const char *const ident_arn[] = { "alarm_arn", NULL };
static const char *const ident_name[] = { "alarm_name", "aws_account_id", NULL };

static int in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; s != NULL && list[i] != NULL; i++) {
		if (strcmp(s, list[i]) == 0)
			return 1;
	}
	return 0;
}

static int is_bare_alarm(const cJSON *doc)
{
	return ax_json_str(doc, "AlarmName") != NULL && ax_json_str(doc, "NewStateValue") != NULL &&
	       ax_json_str(doc, "AlarmArn") != NULL &&
	       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "Trigger"));
}

static int cw_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	if (ingest_header(in, "x-amz-sns-message-type") != NULL)
		return 1;
	if (!cJSON_IsObject(doc))
		return 0;
	if (in_list(ax_json_str(doc, "Type"), sns_types) && ax_json_str(doc, "TopicArn") != NULL)
		return 1;
	return is_bare_alarm(doc);
}

/* The region of an ARN "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x"
 * (the fourth field), copied; NULL if the ARN has no such field. */
static char *arn_region(const char *arn)
{
	const char *p = arn, *end;
	int i;

	for (i = 0; i < 3; i++) {
		p = strchr(p, ':');
		if (p == NULL)
			return NULL;
		p++;
	}
	end = strchr(p, ':');
	if (end == NULL || end == p)
		return NULL;
	return ax_xstrndup(p, (size_t)(end - p));
}

/* Dimensions, metric name and namespace of the alarm's trigger. */
static void add_metric_labels(cJSON *labels, const cJSON *trigger)
{
	const cJSON *metrics, *m;

	ax_json_add_str(labels, "metric_namespace", ax_json_str(trigger, "Namespace"), 0);
	ax_json_add_str(labels, "metric_name", ax_json_str(trigger, "MetricName"), 0);
	ingest_copy_tags(labels, cJSON_GetObjectItemCaseSensitive(trigger, "Dimensions"));
	/* Metric math: the inputs are Metrics[].MetricStat.Metric. */
	metrics = cJSON_GetObjectItemCaseSensitive(trigger, "Metrics");
	if (!cJSON_IsArray(metrics))
		return;
	cJSON_ArrayForEach(m, metrics) {
		const cJSON *metric = ax_json_ptr(m, "/MetricStat/Metric");

		if (!cJSON_IsObject(metric))
			continue;
		if (cJSON_GetObjectItemCaseSensitive(labels, "metric_namespace") == NULL)
			ax_json_add_str(labels, "metric_namespace",
					ax_json_str(metric, "Namespace"), 0);
		if (cJSON_GetObjectItemCaseSensitive(labels, "metric_name") == NULL)
			ax_json_add_str(labels, "metric_name", ax_json_str(metric, "MetricName"),
					0);
		ingest_copy_tags(labels, cJSON_GetObjectItemCaseSensitive(metric, "Dimensions"));
	}
}

static ax_err cw_alarm(const cJSON *envelope, const cJSON *alarm, struct ingest_batch *out,
		       char *errbuf, size_t errlen)
{
	const char *name, *state, *arn;
	const cJSON *trigger;
	struct ax_signal *s;
	char *region, *when;

	name = ax_json_str(alarm, "AlarmName");
	trigger = cJSON_GetObjectItemCaseSensitive(alarm, "Trigger");
	if (name == NULL || !cJSON_IsObject(trigger)) {
		ax_errfmt(errbuf, errlen,
			  "SNS Notification \"Message\" has no %s: not a CloudWatch alarm",
			  name == NULL ? "AlarmName" : "Trigger object");
		return AX_EPROTO;
	}
	state = ax_json_str(alarm, "NewStateValue");
	if (state == NULL || (strcmp(state, "ALARM") != 0 && strcmp(state, "OK") != 0 &&
			      strcmp(state, "INSUFFICIENT_DATA") != 0)) {
		ax_errfmt(errbuf, errlen,
			  "CloudWatch alarm NewStateValue must be ALARM, OK or INSUFFICIENT_DATA");
		return AX_EPROTO;
	}
	arn = ax_json_str(alarm, "AlarmArn");

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = strcmp(state, "OK") == 0 ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	s->severity = strcmp(state, "INSUFFICIENT_DATA") == 0 ? AX_SEV_INFO : AX_SEV_WARNING;
	s->name = ax_xstrdup(name);
	s->summary = ingest_dup_str(alarm, "AlarmDescription");
	if (s->summary == NULL)
		s->summary = ingest_dup_str(envelope, "Subject");
	s->description = ingest_dup_str(alarm, "NewStateReason");

	ax_json_add_str(s->labels, "alarm_name", name, 0);
	ax_json_add_str(s->labels, "alarm_arn", arn, 0);
	ax_json_add_str(s->labels, "aws_account_id", ax_json_str(alarm, "AWSAccountId"), 0);
	region = arn != NULL ? arn_region(arn) : NULL;
	ax_json_add_str(s->labels, "aws_region", region, 0);
	free(region);
	ax_json_add_str(s->labels, "alarm_state", state, 0);
	add_metric_labels(s->labels, trigger);
	s->service = ax_xstrdup(ingest_first_str(s->labels, service_dims));
	s->host = ax_xstrdup(ingest_first_str(s->labels, host_dims));

	when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(alarm, "StateChangeTime"));
	if (s->status == AX_STATUS_RESOLVED)
		s->ends_at = when;
	else
		s->starts_at = when;
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(arn);
	ax_signal_fingerprint(s, arn != NULL ? ident_arn : ident_name);
	s->raw = cJSON_Duplicate(envelope, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

static ax_err cw_notification(const cJSON *doc, struct ingest_batch *out, char *errbuf,
			      size_t errlen)
{
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "Message");
	cJSON *alarm;
	ax_err rc;

	if (!cJSON_IsString(msg) || msg->valuestring == NULL) {
		ax_errfmt(errbuf, errlen, "SNS Notification has no \"Message\" string");
		return AX_EPROTO;
	}
	alarm = ax_json_parse(msg->valuestring, strlen(msg->valuestring), 0);
	if (!cJSON_IsObject(alarm)) {
		cJSON_Delete(alarm);
		ax_errfmt(errbuf, errlen,
			  "SNS Notification \"Message\" is not a JSON object: not a CloudWatch "
			  "alarm (AlarmName, Trigger)");
		return AX_EPROTO;
	}
	rc = cw_alarm(doc, alarm, out, errbuf, errlen);
	cJSON_Delete(alarm);
	return rc;
}

static ax_err cw_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const char *type, *htype, *url;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	type = ax_json_str(doc, "Type");
	htype = ingest_header(in, "x-amz-sns-message-type");
	if (type == NULL) {
		if (is_bare_alarm(doc))  /* raw message delivery */
			return cw_alarm(doc, doc, out, errbuf, errlen);
		ax_errfmt(errbuf, errlen, "SNS message has no \"Type\"");
		return AX_EPROTO;
	}
	/* The body is what SNS signs; a header that disagrees with it means
	 * something between SNS and us rewrote one of them. */
	if (htype != NULL && strcmp(htype, type) != 0) {
		ax_errfmt(errbuf, errlen,
			  "x-amz-sns-message-type header \"%.40s\" disagrees with body "
			  "Type \"%.40s\"", htype, type);
		return AX_EPROTO;
	}
	if (strcmp(type, "SubscriptionConfirmation") == 0) {
		url = ax_json_str(doc, "SubscribeURL");
		if (url == NULL) {
			ax_errfmt(errbuf, errlen,
				  "SNS SubscriptionConfirmation has no \"SubscribeURL\"");
			return AX_EPROTO;
		}
		out->subscribe_url = ax_xstrdup(url);
		return AX_OK;
	}
	if (strcmp(type, "UnsubscribeConfirmation") == 0) {
		out->ignored = "SNS UnsubscribeConfirmation";
		return AX_OK;
	}
	if (strcmp(type, "Notification") == 0)
		return cw_notification(doc, out, errbuf, errlen);
	ax_errfmt(errbuf, errlen, "unknown SNS message Type \"%.40s\"", type);
	return AX_EPROTO;
}

const struct ingest_driver ingest_driver_cloudwatch = {
	.name = SOURCE,
	.title = "AWS CloudWatch (SNS)",
	.detect = cw_detect,
	.normalize = cw_normalize,
};
