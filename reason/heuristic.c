/* heuristic.c - the heuristic investigation (see heuristic.h).
 *
 * Design.  An incident is a handful of alerts that arrived together; some
 * name a cause ("PersistentVolume is filling up"), most name symptoms of
 * it (5xx, crash loops, targets down).  An SRE reads them in that order:
 * find the alert that explains the others, then ask what changed, then
 * what fixed it last time.  The code does the same in three passes.
 *
 * 1. Rules.  Each alert becomes two word lists (reason_words, the
 *    tokenizer classify uses): its name, and everything else it says
 *    (summary, description, label and annotation values).  A rule is up to
 *    three groups of keywords; it matches an alert when every group has a
 *    keyword there, and scores more for a keyword in the name (the
 *    author's own word for what is wrong) than in the text, and less for
 *    weak words every kind of alert uses ("failed", "error").  Requiring
 *    groups, not single words, is what keeps "Disk IO queue is high" out
 *    of the queue rules and "Deployment ... expected number of replicas"
 *    out of the rollout rules.  An alert's rule is its best-scoring one,
 *    ties to the earlier (more specific) row; but the generic rules (error
 *    rate, target down, connection timeouts: how any failure looks from
 *    outside) yield to a specific rule that also matched the alert well,
 *    so "could not connect: connection refused ... port 5432" is the
 *    database and "CoreDNSDown" is DNS.
 *
 * 2. Layers.  Rules sit on three layers: causes (disk, memory, database,
 *    network, certificate), workload states (crash loop, CPU, rollout,
 *    pod readiness, queue consumers) and symptoms (error rate, latency,
 *    target down); noise (Watchdog, clock) sits below them all.  The root
 *    is the best rule of the highest layer any alert reached, so a storm
 *    of crash loops and 5xx around a full database volume is a disk
 *    incident, as the on-call would conclude.  Alerts with no rule fall
 *    back to the sender's kind (an exception tracker reports errors, an
 *    uptime monitor availability), then to reason_classify's categories.
 *
 * 3. Context.  A deploy of an affected workload within DEPLOY_WINDOW_S
 *    turns an application-level root (errors, latency, crash loop,
 *    memory, CPU, availability, queue) into a deploy regression; a similar
 *    past incident of the same category that an action resolved puts that
 *    action first; a CI of the neighbourhood named in an alert's text is
 *    named in the cause.
 *
 * Actions follow the root rule, but only with a target taken from the
 * labels (namespace, deployment derived from the pod name, node, PVC,
 * host and mount point...): a proposal act cannot aim is worse than none,
 * so without a target the first action is escalate (critical) or
 * notify_only.  An incident of info alerts only never gets a remediation.
 *
 * Everything is bounded: word lists are capped by reason_words, texts are
 * cut, at most MAX_ALERTS alerts are read (the first ones; an incident's
 * first alerts are the ones that opened it). */
#define _GNU_SOURCE /* strcasestr */
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "heuristic.h"
#include "classify.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define MAX_ALERTS 64
#define MAX_GROUPS 3
#define DEPLOY_WINDOW_S 3600   /* a deploy older than this is not a suspect */
#define SIMILAR_MIN 0.6        /* similarity below this is not evidence */
#define FIELD_MAX 256
#define SNIPPET_MAX 200

enum layer { L_NOISE = -1, L_SYMPTOM = 0, L_WORKLOAD = 1, L_CAUSE = 2 };

/* What the root rule proposes; each needs a target (see build_remedy). */
enum act_kind {
	A_NONE,       /* nothing to run: notify_only / escalate */
	A_MEM_LIMIT,  /* increase_memory_limit */
	A_RESTART,    /* rollout_restart */
	A_SCALE,      /* scale_deployment */
	A_ROLLBACK,   /* rollback_deployment */
	A_VOLUME,     /* expand_volume (PVC, managed volume), else cleanup_disk (host) */
	A_RESTART_POD,
	A_CORDON,
	A_RENEW,      /* renew_certificate: needs no target, the cert is the target */
};

/* Which name the cause text is about. */
enum subject { S_WORKLOAD, S_HOST, S_VOLUME, S_QUEUE, S_CERT, S_NODE, S_POD, S_DB };

struct rule {
	const char *id;
	const char *category;
	int layer;
	double strength;       /* base confidence */
	enum act_kind act;
	enum subject subj;
	const char *cause;     /* one %s: the subject */
	const char *const *need[MAX_GROUPS];
	int name_first;        /* group 0 must be found in the name */
	int generic;           /* how any failure looks from outside: yields to a
				* specific rule that matched the same alert */
};

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define DBW "database*", "db", "postgres*", "pg", "mysql*", "mariadb", "mongo*", "redis", \
	"sql", "rds", "aurora", "cassandra", "dynamodb", "memcache*"
#define CERTW "cert*", "tls", "ssl", "x509"

/* Order is the tie-break: specific before general. */
static const struct rule rules[] = {
	{ "watchdog", "other", L_NOISE, 0.9, A_NONE, S_WORKLOAD,
	  "Monitoring heartbeat %s: the alerting pipeline is alive, nothing is wrong",
	  { W("watchdog", "heartbeat", "deadman*", "dead mans", "always firing", "inhibitor") } },
	{ "cert_expiry", "certificate", L_CAUSE, 0.85, A_RENEW, S_CERT,
	  "The TLS certificate of %s is expiring or has expired",
	  { W(CERTW), W("expir*", "renew*") } },
	{ "cert_invalid", "certificate", L_CAUSE, 0.7, A_RENEW, S_CERT,
	  "The TLS certificate of %s is invalid, untrusted or not ready",
	  { W(CERTW), W("invalid", "untrusted", "verify", "not ready", "unknown authority") } },
	/* Handshake errors are as often old or hostile clients as a bad
	 * certificate: worth a look, not a renewal. */
	{ "tls_handshake", "certificate", L_CAUSE, 0.55, A_NONE, S_CERT,
	  "TLS handshakes with %s are failing",
	  { W(CERTW), W("handshake*") } },
	{ "image_pull", "deployment", L_WORKLOAD, 0.85, A_ROLLBACK, S_WORKLOAD,
	  "The new image of %s cannot be pulled (bad tag, missing image or registry access)",
	  { W("image*"), W("pull*", "errimagepull", "not found", "manifest unknown") } },
	/* Kubernetes' waiting reasons for a pod spec that cannot start: a
	 * missing secret or config map, a bad image name, both made by a
	 * rollout. */
	{ "bad_pod_spec", "deployment", L_WORKLOAD, 0.75, A_ROLLBACK, S_WORKLOAD,
	  "The pod spec of %s cannot start (missing config or secret, bad image name)",
	  { W("create container config error", "createcontainerconfigerror",
	      "create container error", "invalid image name", "invalidimagename") } },
	{ "rollout_stuck", "deployment", L_WORKLOAD, 0.8, A_ROLLBACK, S_WORKLOAD,
	  "The rollout of %s failed or is not progressing",
	  { W("rollout*", "deploy*", "sync*", "upgrade*", "helm"),
	    W("stuck", "not progressing", "progress*", "deadline*", "degraded", "halted", "aborted",
	      "~fail*") } },
	{ "pvc_full", "disk", L_CAUSE, 0.85, A_VOLUME, S_VOLUME,
	  "Volume %s is running out of space",
	  { W("persistent volume", "persistentvolume*", "pvc", "volume*", "claim*"),
	    W("filling", "full", "free", "space", "capacity", "low") } },
	{ "inode_full", "disk", L_CAUSE, 0.8, A_VOLUME, S_HOST,
	  "Filesystem inodes are running out on %s",
	  { W("inode*"), W("filesystem*", "fs", "disk*", "volume*", "filling", "free", "left") } },
	{ "fs_full", "disk", L_CAUSE, 0.8, A_VOLUME, S_HOST,
	  "Disk space is running out on %s",
	  { W("filesystem*", "file system", "disk*", "fs", "storage", "ephemeral"),
	    /* metric names say usage as a share: storage_percent, disk.in_use,
	     * "Disk Used %" (the tokenizer drops the '%') */
	    W("space", "full", "filling", "fill", "free", "low", "used", "usage", "utiliz*",
	      "evict*", "capacity", "percent*", "pct", "in use") } },
	/* Storage vendors name their latency metrics by direction: CloudWatch
	 * ReadLatency/WriteLatency (RDS, EBS), Datadog system.io.r_await,
	 * Zabbix "Disk read/write request responses": a read or write latency
	 * is the storage's, whatever the instance is called. */
	{ "disk_io", "disk", L_CAUSE, 0.6, A_NONE, S_HOST,
	  "Disk IO saturation on %s",
	  { W("disk*", "io", "iops", "nvme*", "ebs", "fsync*", "wal", "read latency",
	      "write latency", "read iops", "write iops", "r await", "w await"),
	    W("saturat*", "queue*", "latenc*", "busy", "wait*", "await", "burst*", "throughput",
	      "duration*", "slow*", "respons*", "service time") } },
	{ "volume_attach", "disk", L_CAUSE, 0.65, A_NONE, S_VOLUME,
	  "A volume of %s cannot be attached or mounted",
	  { W("mount*", "attach*"), W("~fail*", "timeout*", "timed out", "~error*") } },
	{ "oom_killed", "memory", L_CAUSE, 0.85, A_MEM_LIMIT, S_WORKLOAD,
	  "%s is being OOM-killed: its memory limit is below what it uses",
	  { W("oom*", "out of memory"), W("kill*", "terminat*", "exit code 137") } },
	{ "memory_leak", "memory", L_CAUSE, 0.7, A_RESTART, S_WORKLOAD,
	  "Memory of %s keeps growing: a leak or heap exhaustion",
	  { W("memory", "mem", "heap", "rss", "working set", "jvm"),
	    W("leak*", "heap", "gc", "garbage", "growing", "grown", "grows", "increasing") } },
	{ "memory_high", "memory", L_CAUSE, 0.65, A_NONE, S_WORKLOAD,
	  "Memory pressure on %s",
	  { W("memory", "mem", "ram", "swap*", "rss", "oom*") } },
	/* A cache evicts keys when it is out of memory (ElastiCache and Redis
	 * evicted_keys / Evictions, Memcached evictions): the same memory
	 * problem in the cache's words.  Pod evictions carry no cache word. */
	{ "cache_evictions", "memory", L_CAUSE, 0.6, A_NONE, S_WORKLOAD,
	  "The cache %s evicts keys: it is out of memory",
	  { W("evict*"), W("cache*", "redis", "memcache*", "elasticache", "valkey", "key", "keys") }
	},
	/* The scheduler's words for a cluster out of room. */
	{ "insufficient_memory", "memory", L_WORKLOAD, 0.6, A_NONE, S_WORKLOAD,
	  "Pods of %s cannot be scheduled: insufficient memory in the cluster",
	  { W("insufficient"), W("memory", "mem") } },
	{ "insufficient_cpu", "cpu", L_WORKLOAD, 0.6, A_NONE, S_WORKLOAD,
	  "Pods of %s cannot be scheduled: insufficient CPU in the cluster",
	  { W("insufficient"), W("cpu*") } },
	{ "hpa_maxed", "cpu", L_WORKLOAD, 0.7, A_SCALE, S_WORKLOAD,
	  "The autoscaler of %s is pinned at its maximum replicas: demand exceeds capacity",
	  { W("hpa", "autoscal*", "horizontalpodautoscaler*"), W("max*", "limit", "capacity") } },
	/* Throttling means CPU only with a CPU word: Lambda, DynamoDB and API
	 * rate limits throttle too. */
	{ "cpu_throttling", "cpu", L_WORKLOAD, 0.7, A_SCALE, S_WORKLOAD,
	  "The CPU of %s is throttled: its CPU limit is below its demand",
	  { W("throttl*"), W("cpu*", "cfs") } },
	{ "cpu_high", "cpu", L_WORKLOAD, 0.7, A_SCALE, S_WORKLOAD,
	  "CPU saturation on %s",
	  { W("cpu*", "processor*", "load") } },
	{ "dns", "network", L_CAUSE, 0.7, A_NONE, S_WORKLOAD,
	  "DNS resolution is failing (%s)",
	  { W("dns", "coredns", "servfail", "nxdomain", "resolv*", "enotfound", "getaddrinfo",
	      "no such host", "eai again") } },
	/* The pod network itself: the CNI plugin cannot wire a pod sandbox or
	 * hand out an address (kubelet's FailedCreatePodSandBox, which the
	 * tokenizer splits into "pod sand box", NetworkPluginNotReady, IPAM).
	 * "sandbox" alone is an environment name too, hence "pod". */
	{ "pod_network", "network", L_CAUSE, 0.65, A_NONE, S_WORKLOAD,
	  "The pod network (CNI) cannot set up pods of %s",
	  { W("cni", "ipam", "pod sandbox", "pod sand box", "network plugin", "network not ready",
	      "networknotready") } },
	/* Ping loss or round-trip time is a network measure (Zabbix ICMP
	 * templates, blackbox icmp probes, Datadog network.ping); a host that
	 * does not answer ping at all stays a host_down. */
	{ "net_ping", "network", L_CAUSE, 0.6, A_NONE, S_HOST,
	  "Packet loss or round-trip time towards %s is high",
	  { W("icmp", "ping", "pings"), W("loss", "lost", "latenc*", "rtt", "response time", "jitter") } },
	{ "net_conn", "network", L_CAUSE, 0.65, A_NONE, S_WORKLOAD,
	  "Network connectivity problem towards %s: connections time out, are refused or reset",
	  /* "dropped" and "lost" are how APMs word it (Dynatrace "Connectivity
	   * problem ... connections dropped"). */
	  { W("connect*", "tcp", "udp", "socket*", "network*"),
	    W("timeout*", "timed out", "refused", "reset", "unreachable", "retrans*", "drop*",
	      "lost") }, 0, 1 },
	{ "net_iface", "network", L_CAUSE, 0.65, A_NONE, S_HOST,
	  "Network interface problem on %s",
	  { W("network*", "interface*", "eth*", "nic", "link", "packet*", "conntrack", "bond*"),
	    W("~error*", "errs", "drop*", "down", "loss", "limit", "flap*", "saturat*", "conntrack",
	      "retrans*", "discard*") } },
	/* A host that rebooted says "restarted" too, but with its uptime or a
	 * boot word (Zabbix "has been restarted (uptime < 10m)", node_boot_time,
	 * the kubelet's Rebooted event); a crash-looping container never does. */
	{ "host_reboot", "availability", L_WORKLOAD, 0.65, A_NONE, S_HOST,
	  "Host %s rebooted",
	  { W("reboot*", "restarted", "restart*"), W("reboot*", "uptime", "boot*") } },
	{ "crashloop", "crashloop", L_WORKLOAD, 0.75, A_NONE, S_WORKLOAD,
	  "The containers of %s are crash looping (restarting over and over)",
	  { W("crash*", "back off", "backoff", "restart*") } },
	{ "pod_not_ready", "availability", L_WORKLOAD, 0.7, A_RESTART_POD, S_POD,
	  "Pod %s is not ready",
	  { W("pod*", "container*"),
	    W("not ready", "non ready", "unready", "notready", "readiness", "unhealthy", "probe*")
	  } },
	{ "host_down", "availability", L_WORKLOAD, 0.75, A_CORDON, S_NODE,
	  "Host %s is down, not ready or unreachable",
	  { W("node*", "host*", "instance*", "server*", "agent*", "vm", "machine"),
	    W("down", "not ready", "notready", "unready", "unreachable", "unavailable",
	      "not available", "not reporting", "not responding") } },
	{ "replicas", "availability", L_WORKLOAD, 0.6, A_NONE, S_WORKLOAD,
	  "%s runs fewer ready replicas than desired",
	  { W("replica*"),
	    W("mismatch", "unavailable", "not matched", "expected", "not ready", "missing") } },
	{ "queue_dlq", "queue", L_WORKLOAD, 0.8, A_NONE, S_QUEUE,
	  "Messages are landing in the dead-letter queue %s",
	  { W("dlq", "dead letter*", "deadletter*") } },
	{ "queue_lag", "queue", L_WORKLOAD, 0.75, A_SCALE, S_QUEUE,
	  "The consumers of %s are falling behind: the lag/backlog grows",
	  /* Brokers' own metric words for a backlog: SQS messages visible,
	   * Service Bus ActiveMessages, Pub/Sub num_undelivered_messages,
	   * Kinesis IteratorAge, RabbitMQ messages_ready. */
	  { W("queue*", "kafka*", "rabbitmq", "sqs", "consumer*", "topic*", "nats", "pubsub",
	      "messages", "iterator*", "servicebus", "service bus",
	      "event hub*", "eventhub*", "kinesis"),
	    W("lag*", "backlog*", "behind", "filling", "age", "oldest", "too many", "unacked",
	      "undelivered", "visible", "active", "ready", "pending", "unprocessed", "depth") } },
	{ "db_down", "database", L_CAUSE, 0.8, A_NONE, S_DB,
	  "Database %s is down, failing over or not answering",
	  { W(DBW),
	    W("down", "unavailable", "unreachable", "refused", "not responding", "failover",
	      "failed over", "promoted", "timeout*", "timed out", "can connect") } },
	{ "db_capacity", "database", L_CAUSE, 0.65, A_NONE, S_DB,
	  "Database %s is throttled: it runs out of provisioned capacity",
	  { W(DBW), W("throttl*", "capacity") } },
	{ "db_conn", "database", L_CAUSE, 0.75, A_NONE, S_DB,
	  "Database %s is out of connections",
	  { W(DBW),
	    W("too many connections", "too many clients", "connections", "clients",
	      "connection pool", "max connections") } },
	{ "db_replication", "database", L_CAUSE, 0.75, A_NONE, S_DB,
	  "Replication lag on %s",
	  { W("replication", "replica"), W("lag*", "behind", "delay*") } },
	{ "db_slow", "database", L_CAUSE, 0.7, A_NONE, S_DB,
	  "Slow queries or lock contention on %s",
	  { W(DBW), W("slow*", "deadlock*", "lock*", "long running") } },
	{ "latency", "latency", L_SYMPTOM, 0.6, A_SCALE, S_WORKLOAD,
	  "Requests to %s are slow: latency above its objective",
	  { W("latenc*", "slow*", "p99", "p95", "p90", "p999", "duration*", "response time",
	      "apdex") } },
	{ "target_down", "availability", L_SYMPTOM, 0.65, A_NONE, S_WORKLOAD,
	  "%s is down or unreachable",
	  { W("down", "unreachable", "unavailable", "not available", "outage", "uptime",
	      "availability", "probe*", "absent", "missing", "disappeared", "status check*",
	      /* Datadog's and Nagios-style service checks: http.can_connect */
	      "can connect") }, 0, 1 },
	{ "security", "other", L_SYMPTOM, 0.6, A_NONE, S_WORKLOAD,
	  "A security signal on %s (failed logins or an intrusion attempt), not an outage",
	  { W("login*", "logon*", "brute*", "intrusion*", "malware", "vulnerab*", "cve*") } },
	{ "job_failed", "errors", L_SYMPTOM, 0.6, A_NONE, S_WORKLOAD,
	  "Job %s failed",
	  { W("job*", "cronjob*"), W("~fail*", "~error*", "backoff limit") }, 1 },
	{ "error_rate", "errors", L_SYMPTOM, 0.6, A_NONE, S_WORKLOAD,
	  "Elevated error rate or exceptions from %s",
	  { W("~error*", "5xx", "exception*", "~fail*", "panic*", "~500", "~502", "~503", "~504")
	  }, 0, 1 },
	{ "clock", "other", L_NOISE, 0.6, A_NONE, S_HOST,
	  "The clock is not synchronising on %s",
	  { W("clock*", "ntp", "chrony*", "time sync*") } },
};

#define NRULES ((int)(sizeof(rules) / sizeof(rules[0])))

/* The rules a sender implies when no keyword matched (and +2 when that
 * rule matched on its own): an exception tracker only ever reports
 * errors, an uptime monitor only reachability. */
static const struct {
	const char *source;
	const char *rule;
} source_rules[] = {
	{ "sentry", "error_rate" },      { "bugsnag", "error_rate" },
	{ "airbrake", "error_rate" },    { "rollbar", "error_rate" },
	{ "raygun", "error_rate" },      { "honeybadger", "error_rate" },
	{ "uptime-kuma", "target_down" }, { "pingdom", "target_down" },
	{ "uptimerobot", "target_down" }, { "betterstack", "target_down" },
	{ "checkly", "target_down" },    { "statuscake", "target_down" },
};

/* reason_classify's categories that are not this file's map onto ours. */
static const struct {
	const char *classify;
	const char *rule;
} classify_rules[] = {
	{ "certificate", "cert_expiry" }, { "database", "db_slow" },  { "queue", "queue_lag" },
	{ "deployment", "rollout_stuck" }, { "disk", "fs_full" },     { "memory", "memory_high" },
	{ "cpu", "cpu_high" },            { "network", "net_conn" },  { "latency", "latency" },
	{ "errors", "error_rate" },       { "availability", "target_down" },
};

/* What one alert says, and where it points. */
struct alert {
	const struct ax_signal *s;
	struct reason_words *name, *text;
	int rule;             /* index into rules, -1 none */
	int score;
	int fallback;         /* 1 when rule came from the source or classify */
	int second_score;     /* best score of a rule of another category */
	char terms[160];      /* matched keywords of rule, for the evidence */
	/* targets */
	char ns[FIELD_MAX], deployment[FIELD_MAX], pod[FIELD_MAX], node[FIELD_MAX];
	char host[FIELD_MAX], mount[FIELD_MAX], pvc[FIELD_MAX], volume[FIELD_MAX];
	char cert[FIELD_MAX], domain[FIELD_MAX], queue[FIELD_MAX], consumer[FIELD_MAX];
	char service[FIELD_MAX];
	char wkind[16];       /* "" for a Deployment, else StatefulSet / DaemonSet */
	long replicas;        /* current replicas from the labels, -1 unknown */
};

struct suspect {
	const char *service;
	const char *ns;
	const char *version;
	const char *previous;
	const char *signal_name; /* a deploy signal in the incident, else NULL */
	long age_s;              /* -1 when the deploy arrived as a signal */
};

/* ---- small string helpers ---------------------------------------------- */

static void copy(char *dst, const char *src)
{
	snprintf(dst, FIELD_MAX, "%s", src != NULL ? src : "");
}

static const char *label(const struct ax_signal *s, const char *key)
{
	return ax_json_str(s->labels, key);
}

/* First non-empty label of keys (NULL-terminated). */
static const char *label_any(const struct ax_signal *s, const char *const *keys)
{
	for (; *keys != NULL; keys++) {
		const char *v = label(s, *keys);
		if (v != NULL)
			return v;
	}
	return NULL;
}

/* host:port or scheme://host[:port]/path -> host */
static void host_of(char *dst, const char *v)
{
	const char *p = v, *e;

	copy(dst, "");
	if (v == NULL)
		return;
	if ((e = strstr(p, "://")) != NULL)
		p = e + 3;
	e = p + strcspn(p, ":/");
	snprintf(dst, FIELD_MAX, "%.*s", (int)(e - p), p);
}

static int is_hashlike(const char *s, size_t n, size_t min, size_t max)
{
	size_t i;
	int digit = 0;

	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
		digit |= s[i] >= '0' && s[i] <= '9';
	}
	return digit;
}

/* The Deployment of a pod: Kubernetes names a Deployment's pods
 * <deployment>-<pod-template-hash>-<5 random>, the hash 6 to 10 characters
 * of its safe alphabet.  With the hash known (the pod-template-hash label)
 * the cut is exact; without it a trailing pair of hash-like segments
 * (lower-case alphanumerics with a digit, so "checkout-api" is never cut)
 * is the best evidence there is.  Anything else (StatefulSet "db-0",
 * DaemonSet "node-exporter-7xk2p") is not a Deployment's pod: "". */
static void deployment_of_pod(char *dst, const char *pod, const char *hash)
{
	const char *last, *prev;
	size_t n;

	copy(dst, "");
	if (pod == NULL)
		return;
	n = strlen(pod);
	if (hash != NULL && hash[0] != '\0') {
		char mid[FIELD_MAX + 2];
		const char *at;

		snprintf(mid, sizeof(mid), "-%s-", hash);
		at = strstr(pod, mid);
		if (at != NULL && at > pod) {
			snprintf(dst, FIELD_MAX, "%.*s", (int)(at - pod), pod);
			return;
		}
	}
	last = strrchr(pod, '-');
	if (last == NULL || last == pod ||
	    !is_hashlike(last + 1, n - (size_t)(last + 1 - pod), 5, 5))
		return;
	for (prev = last - 1; prev > pod && *prev != '-'; prev--)
		;
	if (prev <= pod || !is_hashlike(prev + 1, (size_t)(last - prev - 1), 6, 10))
		return;
	snprintf(dst, FIELD_MAX, "%.*s", (int)(prev - pod), pod);
}

/* "checkout-api (prod)" -> "checkout-api": New Relic and others suffix the
 * environment to the entity name. */
static void norm_service(char *dst, const char *v)
{
	size_t n;

	copy(dst, v);
	n = strcspn(dst, "(");
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

/* Services that are the exporter or platform component that measured the
 * alert, not the workload it is about (the Alertmanager driver takes
 * labels.service | job, which is often the exporter's). */
static int is_exporter(const char *svc)
{
	static const char *const names[] = { "kube-state-metrics", "kubelet", "node-exporter",
					     "node", "blackbox", "cert-manager", "apiserver",
					     "kubernetes", "prometheus", NULL };
	int i;

	if (svc == NULL || svc[0] == '\0' || strstr(svc, "exporter") != NULL)
		return 1;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(svc, names[i]) == 0)
			return 1;
	}
	return 0;
}

/* ---- per alert ----------------------------------------------------------- */

static void read_targets(struct alert *a)
{
	const struct ax_signal *s = a->s;
	const char *v, *job;
	const char *kind = label(s, "involved_kind");

	copy(a->ns, s->namespace_);
	if (a->ns[0] == '\0')
		copy(a->ns, label_any(s, W("namespace", "kube_namespace", "exported_namespace",
					    "k8s.namespace.name", "namespace_name")));
	norm_service(a->service, s->service);

	v = label_any(s, W("pod", "pod_name", "kube_pod_name", "k8s.pod.name"));
	if (v == NULL && kind != NULL && strcmp(kind, "Pod") == 0)
		v = label(s, "involved_name");
	copy(a->pod, v);

	v = label_any(s, W("deployment", "kube_deployment", "k8s.deployment.name",
			   "deployment_name"));
	copy(a->deployment, v);
	if (a->deployment[0] == '\0' && a->pod[0] != '\0')
		deployment_of_pod(a->deployment, a->pod, label(s, "pod-template-hash"));
	if (a->deployment[0] == '\0' && (v = label(s, "replicaset")) != NULL) {
		char fake[FIELD_MAX + 8];

		/* a ReplicaSet is its Deployment's name and hash: give it a pod
		 * suffix and cut as for a pod */
		snprintf(fake, sizeof(fake), "%s-00000", v);
		deployment_of_pod(a->deployment, fake, NULL);
	}
	if (a->deployment[0] == '\0' && (v = label(s, "horizontalpodautoscaler")) != NULL)
		copy(a->deployment, v);    /* an HPA is named after its target by convention */
	if (a->deployment[0] == '\0' && (v = label(s, "statefulset")) != NULL) {
		copy(a->deployment, v);
		snprintf(a->wkind, sizeof(a->wkind), "StatefulSet");
	}
	if (a->deployment[0] == '\0' && (v = label(s, "daemonset")) != NULL) {
		copy(a->deployment, v);
		snprintf(a->wkind, sizeof(a->wkind), "DaemonSet");
	}
	if (a->deployment[0] == '\0' && (v = label(s, "ServiceName")) != NULL &&
	    label(s, "ClusterName") != NULL) {
		copy(a->deployment, v);    /* ECS: a service in a cluster */
		if (a->ns[0] == '\0')
			copy(a->ns, label(s, "ClusterName"));
	}
	/* The service is the workload when the alert is about the scrape
	 * target itself (job == service, or no job) and is not an exporter. */
	job = label(s, "job");
	if (a->deployment[0] == '\0' && a->ns[0] != '\0' && !is_exporter(a->service) &&
	    (job == NULL || strcmp(job, a->service) == 0))
		copy(a->deployment, a->service);

	v = label_any(s, W("node", "kubernetes_node", "k8s.node.name", "nodename"));
	if (v == NULL && kind != NULL && strcmp(kind, "Node") == 0)
		v = label(s, "involved_name");
	copy(a->node, v);

	host_of(a->host, s->host);
	if (a->host[0] == '\0')
		host_of(a->host, label_any(s, W("instance", "host", "hostname", "host_name")));
	copy(a->mount, label_any(s, W("mountpoint", "filesystem", "mount", "mount_point", "path")));
	copy(a->pvc, label_any(s, W("persistentvolumeclaim", "pvc", "claim_name")));
	/* managed volumes: AWS RDS and EBS, GCP Cloud SQL */
	copy(a->volume, label_any(s, W("DBInstanceIdentifier", "VolumeId", "volume_id", "volume",
				       "database_id")));

	v = label_any(s, W("certificate", "cert", "secret_name", "certificate_name"));
	if (v == NULL && s->name != NULL && strncmp(s->name, "CertManager", 11) == 0)
		v = label(s, "name");      /* cert-manager's metrics name the Certificate so */
	copy(a->cert, v);
	v = label_any(s, W("domain", "cn", "server_name", "sni"));
	if (v == NULL && (v = label(s, "instance")) != NULL && strncmp(v, "https://", 8) != 0)
		v = NULL;
	if (v == NULL && (v = s->host) != NULL && strchr(v, '.') == NULL)
		v = NULL;
	host_of(a->domain, v);

	copy(a->consumer, label_any(s, W("consumergroup", "consumer_group")));
	copy(a->queue, label_any(s, W("queue", "QueueName", "topic", "queue_name", "stream")));
	if (a->queue[0] == '\0')
		copy(a->queue, a->consumer);

	v = label_any(s, W("replicas", "spec_replicas", "current_replicas", "desired_replicas"));
	a->replicas = v != NULL ? strtol(v, NULL, 10) : -1;
	if (a->replicas < 1 || a->replicas > 100000)
		a->replicas = -1;    /* not a count anyone runs: unknown */
}

/* Label keys whose value names the metric or check measured (see
 * read_words). */
static const char *const measure_keys[] = { "metric_name", "MetricName", "metricName", "metric",
					    "metric_type", "check", "check_name", "condition",
					    "condition_name", NULL };

static int is_measure_key(const char *key)
{
	int k;

	for (k = 0; measure_keys[k] != NULL; k++) {
		if (strcmp(key, measure_keys[k]) == 0)
			return 1;
	}
	return 0;
}

static void read_words(struct alert *a)
{
	const struct ax_signal *s = a->s;
	const cJSON *l;
	int k;

	a->name = ax_xcalloc(1, sizeof(*a->name));
	a->text = ax_xcalloc(1, sizeof(*a->text));
	reason_words_add(a->name, s->name);
	/* The metric or check an alert measures says what is wrong as exactly
	 * as its name, and often better: vendor alarms are named freely
	 * ("orders-db alarm 3") while metric_name says FreeableMemory.  So the
	 * labels that name the measure (CloudWatch metric_name, GCP
	 * metric_type, Azure metricName, profiles' metric and check, New
	 * Relic and GCP conditions) weigh as the name. */
	for (k = 0; measure_keys[k] != NULL; k++)
		reason_words_add(a->name, label(s, measure_keys[k]));
	reason_words_add(a->text, s->summary);
	reason_words_add(a->text, s->description);
	cJSON_ArrayForEach(l, s->labels) {
		if (cJSON_IsString(l) && strcmp(l->string, "alertname") != 0 &&
		    !is_measure_key(l->string))
			reason_words_add(a->text, l->valuestring);
	}
	cJSON_ArrayForEach(l, s->annotations) {
		if (cJSON_IsString(l))
			reason_words_add(a->text, l->valuestring);
	}
}

/* Score of rule r on a, 0 when a group has no keyword; the keywords found
 * go to terms when it is not NULL.  A keyword weighs 6 in the name and 2
 * in the text; a weak one ('~': words every kind of alert uses, such as
 * "failed" and "error") 4 and 1. */
static int rule_score(const struct rule *r, const struct alert *a, int *name_hit, char *terms,
		      size_t tlen)
{
	int g, k, score = 0;
	size_t used = 0;

	if (terms != NULL && tlen > 0)
		terms[0] = '\0';
	for (g = 0; g < MAX_GROUPS && r->need[g] != NULL; g++) {
		int hit = 0;

		for (k = 0; r->need[g][k] != NULL; k++) {
			const char *kw = r->need[g][k];
			int weak = kw[0] == '~';
			int w;

			kw += weak;
			w = reason_words_has(a->name, kw) ? (weak ? 4 : 6) :
			    (g == 0 && r->name_first) ? 0 :
			    reason_words_has(a->text, kw) ? (weak ? 1 : 2) : 0;
			if (name_hit != NULL && w >= 4)
				*name_hit = 1;
			if (w == 0)
				continue;
			hit = 1;
			score += w;
			if (terms != NULL && used < tlen) {
				int m = snprintf(terms + used, tlen - used, "%s%s",
				                 used ? ", " : "", kw);
				used += m > 0 ? (size_t)m : 0;
			}
		}
		if (!hit)
			return 0;
	}
	return score;
}

static int rule_index(const char *id)
{
	int i;

	for (i = 0; i < NRULES; i++) {
		if (strcmp(rules[i].id, id) == 0)
			return i;
	}
	return -1;
}

static const char *source_rule(const char *source)
{
	size_t i;

	for (i = 0; source != NULL && i < sizeof(source_rules) / sizeof(source_rules[0]); i++) {
		if (strcasecmp(source, source_rules[i].source) == 0)
			return source_rules[i].rule;
	}
	return NULL;
}

static void match_alert(struct alert *a)
{
	const char *implied = source_rule(a->s->source);
	int i, best = -1, best_score = 0, sc[NRULES], in_name[NRULES];

	for (i = 0; i < NRULES; i++) {
		in_name[i] = 0;
		sc[i] = rule_score(&rules[i], a, &in_name[i], NULL, 0);
		if (sc[i] > 0 && implied != NULL && strcmp(rules[i].id, implied) == 0)
			sc[i] += 2;
		if (sc[i] > best_score) {
			best = i;
			best_score = sc[i];
		}
	}
	/* A generic rule yields to a specific one on the same alert that has
	 * half its score and a keyword in the name, or its whole score:
	 * "connection refused" to Postgres is the database, "CoreDNSDown" is
	 * DNS.  A specific word deep in a description is not enough. */
	if (best >= 0 && rules[best].generic) {
		int alt = -1;

		for (i = 0; i < NRULES; i++) {
			if (sc[i] > 0 && !rules[i].generic && rules[i].layer >= rules[best].layer &&
			    ((in_name[i] && 2 * sc[i] >= best_score) || sc[i] >= best_score) &&
			    (alt < 0 || sc[i] > sc[alt]))
				alt = i;
		}
		if (alt >= 0) {
			best = alt;
			best_score = sc[alt];
		}
	}
	a->rule = best;
	a->score = best_score;
	a->second_score = 0;
	if (best >= 0) {
		for (i = 0; i < NRULES; i++) {
			if (strcmp(rules[i].category, rules[best].category) != 0 &&
			    sc[i] > a->second_score)
				a->second_score = sc[i];
		}
		rule_score(&rules[best], a, NULL, a->terms, sizeof(a->terms));
		return;
	}
	/* Nothing matched: the sender's kind, then classify's keywords. */
	a->fallback = 1;
	if (implied != NULL) {
		a->rule = rule_index(implied);
		snprintf(a->terms, sizeof(a->terms), "source %s", a->s->source);
	} else {
		struct reason_class c;
		size_t k;

		reason_classify(a->s->name, a->s->summary, a->s->labels, a->s->service,
				a->s->severity, &c);
		for (k = 0; k < sizeof(classify_rules) / sizeof(classify_rules[0]); k++) {
			if (strcmp(c.category, classify_rules[k].classify) == 0) {
				a->rule = rule_index(classify_rules[k].rule);
				snprintf(a->terms, sizeof(a->terms), "classify %s", c.category);
			}
		}
	}
	a->score = a->rule >= 0 ? 1 : 0;
}

/* ---- output helpers ------------------------------------------------------ */

static void evidence(struct reason_analysis *out, const char *fmt, ...) AX_PRINTF(2, 3);
static void evidence(struct reason_analysis *out, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int i;

	if (out->nevidence >= REASON_MAX_EVIDENCE)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (i = 0; i < out->nevidence; i++) {
		if (strcmp(out->evidence[i], buf) == 0)
			return;    /* a storm repeats itself */
	}
	out->evidence[out->nevidence++] = ax_xstrdup(buf);
}

static struct reason_action *add_action(struct reason_analysis *out, const char *type,
					const char *fmt, ...) AX_PRINTF(3, 4);
static struct reason_action *add_action(struct reason_analysis *out, const char *type,
					const char *fmt, ...)
{
	struct reason_action *ac;
	char buf[512];
	va_list ap;

	if (out->nactions >= REASON_MAX_ACTIONS)
		return NULL;
	ac = &out->actions[out->nactions++];
	ac->type = type;
	ac->params = cJSON_CreateObject();
	if (ac->params == NULL)
		abort();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ac->reason = ax_xstrdup(buf);
	return ac;
}

static void param(struct reason_action *ac, const char *key, const char *v)
{
	if (ac != NULL && v != NULL && v[0] != '\0')
		cJSON_AddStringToObject(ac->params, key, v);
}

/* The first sentence-ish of s, at most SNIPPET_MAX bytes, cut at a space. */
static void snippet(char *dst, size_t dlen, const char *s)
{
	size_t n;

	dst[0] = '\0';
	if (s == NULL)
		return;
	n = strcspn(s, "\r\n");
	if (n > SNIPPET_MAX) {
		n = SNIPPET_MAX;
		while (n > SNIPPET_MAX / 2 && s[n] != ' ')
			n--;
	}
	snprintf(dst, dlen, "%.*s", (int)n, s);
}

/* ---- the investigation --------------------------------------------------- */

struct inv {
	const struct reason_context *ctx;
	struct alert *al;
	int n;                 /* alerts considered */
	int root;              /* index of the alert that carries the root rule */
	int rule;              /* root rule */
	enum ax_severity maxsev;
	int all_info;
	int suspect_ok;
	struct suspect sus;
	char subject[FIELD_MAX];
};

static const char *subject_of(const struct alert *a, enum subject subj, char *buf)
{
	const char *c[4] = { NULL, NULL, NULL, NULL };
	int i;

	switch (subj) {
	case S_HOST:
		if (a->host[0] != '\0' && a->mount[0] != '\0') {
			snprintf(buf, FIELD_MAX, "%.120s %.120s", a->host, a->mount);
			return buf;
		}
		c[0] = a->host, c[1] = a->node, c[2] = a->service;
		break;
	case S_VOLUME:
		c[0] = a->pvc, c[1] = a->volume, c[2] = a->host, c[3] = a->service;
		break;
	case S_QUEUE:
		c[0] = a->consumer, c[1] = a->queue, c[2] = a->service;
		break;
	case S_CERT:
		c[0] = a->cert, c[1] = a->domain, c[2] = a->service, c[3] = a->host;
		break;
	case S_NODE:
		c[0] = a->node, c[1] = a->host, c[2] = a->service;
		break;
	case S_POD:
		c[0] = a->pod, c[1] = a->deployment, c[2] = a->service;
		break;
	case S_DB:
		c[0] = a->service, c[1] = a->host, c[2] = a->volume;
		break;
	case S_WORKLOAD:
		c[0] = a->deployment, c[1] = a->service[0] != '\0' && !is_exporter(a->service) ?
			a->service : NULL, c[2] = a->host, c[3] = a->node;
		break;
	}
	for (i = 0; i < 4; i++) {
		if (c[i] != NULL && c[i][0] != '\0')
			return c[i];
	}
	return a->s->name != NULL ? a->s->name : "the service";
}

/* svc (normalised) is the workload a is about: its Deployment, or its
 * service unless that is the exporter that measured it (a deploy of
 * kube-state-metrics explains nothing about the pods it reports on). */
static int same_workload(const char *svc, const struct alert *a)
{
	return strcmp(svc, a->deployment) == 0 ||
	       (strcmp(svc, a->service) == 0 && !is_exporter(a->service));
}

/* A deploy (context or signal) of a workload the firing alerts are about. */
static int find_suspect(struct inv *v, const struct ax_signal *alerts, int n)
{
	const struct reason_context *ctx = v->ctx;
	int i, j, best = -1;
	long best_age = DEPLOY_WINDOW_S + 1;

	for (j = 0; ctx != NULL && j < ctx->ndeploys; j++) {
		const struct reason_deploy *d = &ctx->deploys[j];
		char svc[FIELD_MAX];

		if (d->service == NULL || d->age_s < 0 || d->age_s > DEPLOY_WINDOW_S)
			continue;
		norm_service(svc, d->service);
		for (i = 0; i < v->n; i++) {
			const struct alert *a = &v->al[i];

			if (!same_workload(svc, a))
				continue;
			if (d->namespace_ != NULL && a->ns[0] != '\0' &&
			    strcmp(d->namespace_, a->ns))
				continue;
			if (d->age_s < best_age) {
				best = j;
				best_age = d->age_s;
				v->sus.service = d->service;
				v->sus.ns = d->namespace_ != NULL ? d->namespace_ : a->ns;
				v->sus.version = d->version;
				v->sus.previous = d->previous_version;
				v->sus.signal_name = NULL;
				v->sus.age_s = d->age_s;
			}
		}
	}
	if (best >= 0)
		return 1;
	for (j = 0; j < n && j < MAX_ALERTS; j++) {
		const struct ax_signal *s = &alerts[j];
		char svc[FIELD_MAX];

		if (s->kind != AX_KIND_DEPLOY || s->service == NULL)
			continue;
		norm_service(svc, s->service);
		for (i = 0; i < v->n; i++) {
			const struct alert *a = &v->al[i];

			if (!same_workload(svc, a))
				continue;
			v->sus.service = s->service;
			v->sus.ns = s->namespace_ != NULL ? s->namespace_ : a->ns;
			v->sus.version = label(s, "version");
			v->sus.previous = label(s, "previous_version");
			v->sus.signal_name = s->name;
			v->sus.age_s = -1;
			return 1;
		}
	}
	return 0;
}

/* Categories a deploy can explain: what the application itself does. */
static int app_level(const char *category)
{
	static const char *const app[] = { "errors", "latency", "crashloop", "memory", "cpu",
					   "availability", "queue", "deployment", NULL };
	int i;

	for (i = 0; app[i] != NULL; i++) {
		if (strcmp(category, app[i]) == 0)
			return 1;
	}
	return 0;
}

/* Pods of deployment seen across the incident's alerts. */
static int pods_seen(const struct inv *v, const char *deployment)
{
	const char *seen[MAX_ALERTS];
	int i, j, n = 0;

	for (i = 0; i < v->n; i++) {
		const struct alert *a = &v->al[i];

		if (a->pod[0] == '\0' || strcmp(a->deployment, deployment) != 0)
			continue;
		for (j = 0; j < n && strcmp(seen[j], a->pod) != 0; j++)
			;
		if (j == n)
			seen[n++] = a->pod;
	}
	return n;
}

/* The first alert (root first) with a non-empty field at offset off. */
static const char *field(const struct inv *v, size_t off, int same_category)
{
	int i, k;

	for (k = -1; k < v->n; k++) {
		const struct alert *a;
		const char *f;

		i = k < 0 ? v->root : k;
		a = &v->al[i];
		if (k >= 0 && (i == v->root || (same_category && (a->rule < 0 ||
		    strcmp(rules[a->rule].category, rules[v->rule].category) != 0))))
			continue;
		f = (const char *)a + off;
		if (f[0] != '\0')
			return f;
	}
	return NULL;
}

#define FIELD(v, name) field((v), offsetof(struct alert, name), 1)

/* The workload kind of dep when it is not a Deployment, else NULL. */
static const char *wkind_of(const struct inv *v, const char *dep)
{
	int i;

	for (i = 0; dep != NULL && i < v->n; i++) {
		if (v->al[i].wkind[0] != '\0' && strcmp(v->al[i].deployment, dep) == 0)
			return v->al[i].wkind;
	}
	return NULL;
}

/* Append the remediation of kind to out if its target is known; 1 if so.
 * The param "deployment" names the workload; "kind" is added when it is a
 * StatefulSet or DaemonSet. */
static int build_remedy(struct inv *v, enum act_kind kind, struct reason_analysis *out)
{
	const char *ns = FIELD(v, ns), *dep = FIELD(v, deployment);
	struct reason_action *ac;

	switch (kind) {
	case A_NONE:
		return 0;
	case A_MEM_LIMIT:
	case A_RESTART:
		if (ns == NULL || dep == NULL)
			return 0;
		if (kind == A_MEM_LIMIT)
			ac = add_action(out, "increase_memory_limit",
					"raise the memory limit of %s/%s above its working set",
					ns, dep);
		else
			ac = add_action(out, "rollout_restart",
					"rolling restart of %s/%s: new pods, one at a time, while "
					"the cause is found", ns, dep);
		param(ac, "namespace", ns);
		param(ac, "deployment", dep);
		param(ac, "kind", wkind_of(v, dep));
		return 1;
	case A_SCALE: {
		long cur = -1, want;
		int seen, i;

		/* A queue's alert is measured on the broker; what scales is the
		 * consumer, named by its consumer group (when there is one). */
		if (rules[v->rule].subj == S_QUEUE)
			dep = FIELD(v, consumer);
		if (ns == NULL || dep == NULL || (wkind_of(v, dep) != NULL &&
		    strcmp(wkind_of(v, dep), "DaemonSet") == 0))
			return 0;    /* a DaemonSet runs one pod per node */
		for (i = 0; i < v->n && cur < 0; i++)
			cur = v->al[i].replicas;
		seen = pods_seen(v, dep);
		want = cur > 0 ? cur + (cur + 1) / 2 : seen > 1 ? seen + (seen + 1) / 2 : 2;
		if (cur > 0)
			ac = add_action(out, "scale_deployment",
					"scale %s/%s out by half: %ld replicas now", ns, dep, cur);
		else
			ac = add_action(out, "scale_deployment",
					"scale %s/%s out; the current count is not in the alerts "
					"(%d of its pods are), so %ld is a floor: act re-reads the "
					"count and applies the tenant's replica cap", ns, dep, seen,
					want);
		param(ac, "namespace", ns);
		param(ac, "deployment", dep);
		param(ac, "kind", wkind_of(v, dep));
		if (ac != NULL)
			cJSON_AddNumberToObject(ac->params, "replicas", (double)want);
		return 1;
	}
	case A_ROLLBACK:
		if (ns == NULL || dep == NULL)
			return 0;
		ac = add_action(out, "rollback_deployment",
				"roll %s/%s back to its previous revision", ns, dep);
		param(ac, "namespace", ns);
		param(ac, "deployment", dep);
		param(ac, "kind", wkind_of(v, dep));
		return 1;
	case A_VOLUME: {
		const char *pvc = FIELD(v, pvc), *vol = FIELD(v, volume), *host = FIELD(v, host);

		if (pvc != NULL && ns != NULL) {
			ac = add_action(out, "expand_volume", "expand PersistentVolumeClaim %s/%s",
					ns, pvc);
			param(ac, "namespace", ns);
			param(ac, "persistentvolumeclaim", pvc);
			return 1;
		}
		if (vol != NULL) {
			ac = add_action(out, "expand_volume", "grow the storage of %s", vol);
			param(ac, "volume", vol);
			return 1;
		}
		if (host != NULL) {
			const char *mnt = FIELD(v, mount);

			ac = add_action(out, "cleanup_disk",
			                "free space on %s%s%s (logs, images, temporary files)",
			                host, mnt != NULL ? " " : "", mnt != NULL ? mnt : "");
			param(ac, "host", host);
			param(ac, "mountpoint", mnt);
			return 1;
		}
		return 0;
	}
	case A_RESTART_POD: {
		const char *pod = FIELD(v, pod);

		if (ns == NULL || pod == NULL)
			return 0;
		ac = add_action(out, "restart_pod",
		                "delete pod %s/%s so its controller replaces it", ns, pod);
		param(ac, "namespace", ns);
		param(ac, "pod", pod);
		return 1;
	}
	case A_CORDON: {
		const char *node = FIELD(v, node);

		if (node == NULL)
			return 0;
		ac = add_action(out, "cordon_node",
				"cordon %s so no new pods land on it, then drain it", node);
		param(ac, "node", node);
		return 1;
	}
	case A_RENEW: {
		const char *cert = FIELD(v, cert), *dom = FIELD(v, domain);

		ac = add_action(out, "renew_certificate", "renew the certificate of %s",
				cert != NULL ? cert : dom != NULL ? dom : v->subject);
		if (cert != NULL)
			param(ac, "namespace", ns);
		param(ac, "certificate", cert);
		param(ac, "domain", dom);
		return 1;
	}
	}
	return 0;
}

static const struct {
	const char *type;
	enum act_kind kind;
} action_kinds[] = {
	{ "increase_memory_limit", A_MEM_LIMIT }, { "rollout_restart", A_RESTART },
	{ "scale_deployment", A_SCALE },          { "rollback_deployment", A_ROLLBACK },
	{ "expand_volume", A_VOLUME },            { "cleanup_disk", A_VOLUME },
	{ "restart_pod", A_RESTART_POD },         { "cordon_node", A_CORDON },
	{ "renew_certificate", A_RENEW },
};

static void human_action(struct inv *v, struct reason_analysis *out, int first)
{
	const char *svc = NULL, *team = NULL;
	struct reason_action *ac;
	int k;

	/* Owners are found by service and team, root alert first. */
	for (k = v->root >= 0 ? -1 : 0; k < v->n; k++) {
		const struct alert *a = &v->al[k < 0 ? v->root : k];

		if (svc == NULL && !is_exporter(a->service))
			svc = a->service;
		if (team == NULL)
			team = label(a->s, "team");
	}
	if (svc == NULL)
		svc = v->subject;
	if (v->maxsev == AX_SEV_CRITICAL)
		ac = add_action(out, "escalate", first ?
				"critical and nothing to run safely: page on-call for %s" :
				"critical: page on-call for %s while the remediation is "
				"reviewed", svc);
	else
		ac = add_action(out, "notify_only", first ?
				"nothing to run safely: tell the owners of %s" :
				"tell the owners of %s", svc);
	param(ac, "service", svc);
	param(ac, "team", team);
}

static void lift_reason(struct reason_action *ac, const struct reason_similar *sim)
{
	char *r = ax_xasprintf("%s; it resolved the similar incident \"%.120s\" (similarity "
			       "%.2f)", ac->reason, sim->title ? sim->title : "?", sim->score);

	free(ac->reason);
	ac->reason = r;
}

/* Move actions[i] to the front, keeping the others' order. */
static void to_front(struct reason_analysis *out, int i)
{
	struct reason_action t = out->actions[i];

	memmove(&out->actions[1], &out->actions[0], (size_t)i * sizeof(t));
	out->actions[0] = t;
}

static double round2(double x)
{
	return floor(x * 100.0 + 0.5) / 100.0;
}

static void choose_root(struct inv *v, struct reason_analysis *out)
{
	int i, best = -1, best_layer = -2, best_total = 0;
	int total[NRULES];

	memset(total, 0, sizeof(total));
	for (i = 0; i < v->n; i++) {
		if (v->al[i].rule >= 0)
			total[v->al[i].rule] += v->al[i].score;
	}
	for (i = 0; i < v->n; i++) {
		const struct alert *a = &v->al[i];
		int layer;

		if (a->rule < 0)
			continue;
		layer = rules[a->rule].layer;
		if (layer > best_layer || (layer == best_layer && (total[a->rule] > best_total ||
		    (total[a->rule] == best_total && a->score > v->al[best].score)))) {
			best = i;
			best_layer = layer;
			best_total = total[a->rule];
		}
	}
	v->root = best;
	v->rule = best >= 0 ? v->al[best].rule : -1;

	/* Ambiguity: on the root alert itself, and among the other causes. */
	if (best >= 0) {
		const struct alert *r = &v->al[best];
		const char *seen[NRULES];
		int nseen = 0, j;

		if (r->second_score > 0 && r->second_score >= r->score - 2)
			out->parts.ambiguity -= 0.1;
		for (i = 0; i < v->n; i++) {
			const struct alert *a = &v->al[i];
			const char *cat;

			if (a->rule < 0 || rules[a->rule].layer != best_layer)
				continue;
			cat = rules[a->rule].category;
			if (strcmp(cat, rules[v->rule].category) == 0)
				continue;
			for (j = 0; j < nseen && strcmp(seen[j], cat) != 0; j++)
				;
			if (j == nseen)
				seen[nseen++] = cat;
		}
		out->parts.ambiguity -= 0.05 * (nseen < 2 ? nseen : 2);
		if (out->parts.ambiguity < -0.2)
			out->parts.ambiguity = -0.2;
	}
}

static void investigate(struct inv *v, const struct ax_signal *alerts, int n,
			struct reason_analysis *out)
{
	const struct reason_context *ctx = v->ctx;
	const struct rule *r;
	const struct alert *root;
	char snip[3 * SNIPPET_MAX + 40], dsnip[SNIPPET_MAX + 8], ci_note[160] = "";
	int i, j, agree = 0, regression = 0, have_remedy, lifted = 0;

	choose_root(v, out);
	if (v->root < 0) {
		const char *nm = v->al[0].s->name != NULL ? v->al[0].s->name : "unnamed";

		out->category = "other";
		out->rule = "none";
		out->parts.base = 0.3;
		copy(v->subject, v->al[0].service[0] ? v->al[0].service : nm);
		out->summary = ax_xasprintf("other: %d alert%s, no rule matched (%.120s)", v->n,
					    v->n == 1 ? "" : "s", nm);
		snippet(snip, sizeof(snip), v->al[0].s->summary ? v->al[0].s->summary :
					     v->al[0].s->name);
		out->probable_cause = ax_xasprintf("Unknown: no rule matched. %s", snip);
		human_action(v, out, 1);
		return;
	}
	root = &v->al[v->root];
	r = &rules[v->rule];
	out->category = r->category;
	out->rule = r->id;
	out->parts.base = root->fallback ? 0.45 : r->strength;
	{
		char buf[FIELD_MAX];

		copy(v->subject, subject_of(root, r->subj, buf));
	}
	for (i = 0; i < v->n; i++) {
		const struct alert *a = &v->al[i];

		if (a->rule < 0)
			continue;
		if (i != v->root && strcmp(rules[a->rule].category, r->category) == 0)
			agree++;
		/* the root always, the others while room is left for the context */
		if (i == v->root || out->nevidence < REASON_MAX_EVIDENCE - 4)
			evidence(out, "%s: %s %s (%s)", a->s->name ? a->s->name : "?",
				 i == v->root ? "root" : rules[a->rule].layer < r->layer ?
				 "symptom" : "also", rules[a->rule].id, a->terms);
	}
	out->parts.corroboration = 0.05 * (agree < 2 ? agree : 2);

	/* The CI neighbourhood named in the alerts' own words; a database
	 * named by the root alert is what a database rule is about (the alert
	 * itself may come from the application that failed to reach it). */
	for (j = 0; ctx != NULL && j < ctx->nci && ci_note[0] == '\0'; j++) {
		const char *ci = ctx->ci[j];

		if (ci == NULL || strlen(ci) < 3)
			continue;
		for (i = 0; i < v->n; i++) {
			const struct ax_signal *s = v->al[i].s;

			if ((s->name && strcasestr(s->name, ci)) ||
			    (s->summary && strcasestr(s->summary, ci)) ||
			    (s->description && strcasestr(s->description, ci))) {
				snprintf(ci_note, sizeof(ci_note),
				         "; it involves %.100s from the CI "
				         "neighbourhood",
				         ci);
				evidence(out, "%s names CI %s", s->name ? s->name : "an alert", ci);
				out->parts.ci = 0.05;
				if (i == v->root && r->subj == S_DB)
					copy(v->subject, ci);
				break;
			}
		}
	}

	/* What changed: a deploy of an affected workload. */
	v->suspect_ok = app_level(r->category) && find_suspect(v, alerts, n);
	if (v->suspect_ok) {
		double fresh =
		    v->sus.age_s < 0 ? 1.0 : 1.0 - (double)v->sus.age_s / DEPLOY_WINDOW_S;

		regression = 1;
		out->category = "deployment";
		out->rule = strcmp(r->category, "deployment") == 0 ? r->id : "deploy_regression";
		if (strcmp(r->category, "deployment") != 0)
			out->parts.base = 0.7;
		out->parts.deploy = 0.05 + 0.15 * fresh;
		if (v->sus.signal_name != NULL)
			evidence(out, "deploy signal in the incident: %s", v->sus.signal_name);
		else
			evidence(out, "deploy of %s %s %ld min before", v->sus.service,
				 v->sus.version ? v->sus.version : "(version unknown)",
				 v->sus.age_s / 60);
	}

	/* The cause, in words: the rule's phrase, then the root alert's name,
	 * summary and description, each only when it adds something (a Sentry
	 * summary is the exception's message without its type). */
	{
		const char *nm = root->s->name, *sm = root->s->summary;
		char nsnip[SNIPPET_MAX + 8], ssnip[SNIPPET_MAX + 8];
		int with_name = nm != NULL && (sm == NULL || strstr(sm, nm) == NULL);

		snippet(nsnip, sizeof(nsnip), with_name ? nm : NULL);
		snippet(ssnip, sizeof(ssnip), with_name && sm != NULL && strstr(nm, sm) != NULL ?
			NULL : sm);
		snippet(dsnip, sizeof(dsnip), root->s->description);
		if (strstr(ssnip, dsnip) != NULL)
			dsnip[0] = '\0';
		snprintf(snip, sizeof(snip), "%s%s%s%s%s%s", nsnip,
		         nsnip[0] && ssnip[0] ? ": " : "", ssnip, dsnip[0] ? " (" : "", dsnip,
		         dsnip[0] ? ")" : "");
	}
	{
		char phrase[512];
		/* r->cause is a constant of this file with exactly one %s */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(phrase, sizeof(phrase), r->cause, v->subject);
#pragma GCC diagnostic pop
		if (regression && strcmp(r->category, "deployment") != 0) {
			char when[64];

			if (v->sus.age_s >= 0)
				snprintf(when, sizeof(when), "%ld min before the alerts",
					 v->sus.age_s / 60);
			else
				snprintf(when, sizeof(when), "in the same incident");
			if (v->sus.signal_name != NULL && v->sus.version == NULL)
				out->probable_cause = ax_xasprintf(
				    "Deploy regression: \"%.200s\" (%s) is the likely cause. %s. "
				    "Evidence: %s%s",
				    v->sus.signal_name, when, phrase, snip, ci_note);
			else
				out->probable_cause = ax_xasprintf(
				    "Deploy regression: the deploy of %.120s %.80s (%s) is the "
				    "likely cause%s%.80s. %s. Evidence: %s%s",
				    v->sus.service,
				    v->sus.version ? v->sus.version : "(version unknown)", when,
				    v->sus.previous ? "; previous version " : "",
				    v->sus.previous ? v->sus.previous : "", phrase, snip, ci_note);
		} else {
			out->probable_cause =
			    ax_xasprintf("%s. Evidence: %s%s", phrase, snip, ci_note);
		}
	}

	/* Proposed actions. */
	if (v->all_info) {
		have_remedy = 0;
		out->parts.severity = -0.1;
		evidence(out, "every firing alert is info: nothing is run for it");
	} else if (regression) {
		struct reason_action *ac;
		const char *ns = v->sus.ns && v->sus.ns[0] ? v->sus.ns : FIELD(v, ns);
		char dep[FIELD_MAX];

		/* The deploy record is the target: what was deployed is what
		 * rolls back, even where no alert names its namespace (the
		 * deploy system knows where it deployed). */
		norm_service(dep, v->sus.service);
		have_remedy = 1;
		ac = add_action(out, "rollback_deployment",
				"roll %s%s%s back%s%s: it was deployed just before the symptoms%s",
				ns ? ns : "", ns ? "/" : "", dep, v->sus.previous ? " to " : "",
				v->sus.previous ? v->sus.previous : "",
				ns ? "" : " (no alert names its namespace)");
		param(ac, "namespace", ns);
		param(ac, "deployment", dep);
		param(ac, "to_revision", v->sus.previous);
	} else {
		have_remedy = build_remedy(v, r->act, out);
	}
	human_action(v, out, !have_remedy);

	/* What fixed it last time. */
	for (j = 0; ctx != NULL && j < ctx->nsimilar; j++) {
		const struct reason_similar *sim = &ctx->similar[j];
		size_t k;

		if (sim->score < SIMILAR_MIN)
			continue;
		if (sim->category != NULL && strcmp(sim->category, out->category) != 0) {
			evidence(out, "similar incident \"%s\" (%.2f) was %s, not %s",
				 sim->title ? sim->title : "?", sim->score, sim->category,
				 out->category);
			continue;
		}
		evidence(out, "similar incident \"%s\" (%.2f) resolved by %s",
			 sim->title ? sim->title : "?", sim->score,
			 sim->resolution ? sim->resolution : "nothing recorded");
		out->parts.similar += 0.1 * sim->score;
		if (lifted || sim->resolution == NULL || v->all_info)
			continue;
		for (i = 0; i < out->nactions; i++) {
			if (strcmp(out->actions[i].type, sim->resolution) == 0)
				break;
		}
		if (i < out->nactions) {
			if (i > 0)
				to_front(out, i);
			lifted = 1;
			lift_reason(&out->actions[0], sim);
			continue;
		}
		for (k = 0; k < sizeof(action_kinds) / sizeof(action_kinds[0]); k++) {
			int before = out->nactions;

			if (strcmp(action_kinds[k].type, sim->resolution) != 0)
				continue;
			if (out->nactions == REASON_MAX_ACTIONS) {
				/* make room: the human action is always last */
				struct reason_action *last = &out->actions[--out->nactions];
				cJSON_Delete(last->params);
				free(last->reason);
				memset(last, 0, sizeof(*last));
				before = out->nactions;
			}
			/* A sibling (cleanup_disk for expand_volume) stays, not first. */
			if (build_remedy(v, action_kinds[k].kind, out) &&
			    strcmp(out->actions[before].type, sim->resolution) == 0) {
				to_front(out, before);
				lifted = 1;
				lift_reason(&out->actions[0], sim);
			}
			break;
		}
	}
	if (out->parts.similar > 0.15)
		out->parts.similar = 0.15;

	{
		char names[160] = "";
		size_t used = 0;
		int shown = 0;

		for (i = 0; i < v->n && shown < 3; i++) {
			const char *nm = v->al[i].s->name ? v->al[i].s->name : "?";

			for (j = 0; j < i; j++) {
				if (v->al[j].s->name && strcmp(v->al[j].s->name, nm) == 0)
					break;
			}
			if (j < i)
				continue;
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%.60s",
						 shown ? ", " : "", nm);
			if (used >= sizeof(names))
				break;
			shown++;
		}
		out->summary = ax_xasprintf("%s on %s: %d firing alert%s (%s)%s", out->category,
					    v->subject, v->n, v->n == 1 ? "" : "s", names,
					    regression ? ", right after a deploy" : "");
	}
}

void reason_investigate(const struct ax_signal *alerts, int n, const struct reason_context *ctx,
			struct reason_analysis *out)
{
	struct inv v;
	int i, firing = 0;
	double conf;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	v.ctx = ctx;
	v.root = -1;
	v.rule = -1;
	if (n > MAX_ALERTS)
		n = MAX_ALERTS;
	if (n <= 0 || alerts == NULL) {
		out->category = "other";
		out->rule = "none";
		out->summary = ax_xstrdup("no alerts");
		out->probable_cause = ax_xstrdup("Unknown: the incident has no alerts");
		out->parts.base = 0.3;
		out->confidence = 0.3;
		add_action(out, "notify_only", "nothing to investigate");
		return;
	}

	for (i = 0; i < n; i++)
		firing += alerts[i].status == AX_STATUS_FIRING && alerts[i].kind == AX_KIND_ALERT;
	v.al = ax_xcalloc((size_t)n, sizeof(*v.al));
	v.maxsev = AX_SEV_INFO;
	v.all_info = 1;
	for (i = 0; i < n; i++) {
		const struct ax_signal *s = &alerts[i];
		struct alert *a;

		if (s->kind != AX_KIND_ALERT && s->kind != AX_KIND_CHECK)
			continue;
		if (firing > 0 && s->status != AX_STATUS_FIRING)
			continue;
		a = &v.al[v.n++];
		a->s = s;
		read_words(a);
		read_targets(a);
		match_alert(a);
		if (s->severity < v.maxsev)
			v.maxsev = s->severity;
		if (s->severity != AX_SEV_INFO)
			v.all_info = 0;
	}
	if (v.n == 0) {
		/* only deploys and changes: nothing is wrong yet */
		out->category = "other";
		out->rule = "none";
		out->summary = ax_xasprintf("%d change signal%s, no alert", n, n == 1 ? "" : "s");
		out->probable_cause = ax_xstrdup("Unknown: the incident holds no alert");
		out->parts.base = 0.3;
		add_action(out, "notify_only", "no alert to act on");
	} else {
		investigate(&v, alerts, n, out);
	}
	for (i = 0; i < v.n; i++) {
		free(v.al[i].name);
		free(v.al[i].text);
	}
	free(v.al);

	conf = out->parts.base + out->parts.corroboration + out->parts.deploy +
	       out->parts.similar + out->parts.ci + out->parts.ambiguity + out->parts.severity;
	if (conf < 0.05)
		conf = 0.05;
	if (conf > 0.99)
		conf = 0.99;
	out->confidence = round2(conf);
}

void reason_analysis_release(struct reason_analysis *a)
{
	int i;

	if (a == NULL)
		return;
	free(a->summary);
	free(a->probable_cause);
	for (i = 0; i < a->nactions; i++) {
		cJSON_Delete(a->actions[i].params);
		free(a->actions[i].reason);
	}
	for (i = 0; i < a->nevidence; i++)
		free(a->evidence[i]);
	memset(a, 0, sizeof(*a));
}

static cJSON *xobj(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_AddObjectToObject(parent, key);

	if (o == NULL)
		abort();
	return o;
}

cJSON *reason_analysis_json(const struct reason_analysis *a)
{
	cJSON *o = cJSON_CreateObject(), *parts, *acts, *ev;
	int i;

	if (o == NULL)
		abort();
	ax_json_add_str(o, "category", a->category, 1);
	ax_json_add_str(o, "rule", a->rule, 1);
	ax_json_add_str(o, "summary", a->summary, 1);
	ax_json_add_str(o, "probable_cause", a->probable_cause, 1);
	cJSON_AddNumberToObject(o, "confidence", a->confidence);
	parts = xobj(o, "confidence_parts");
	cJSON_AddNumberToObject(parts, "base", round2(a->parts.base));
	cJSON_AddNumberToObject(parts, "corroboration", round2(a->parts.corroboration));
	cJSON_AddNumberToObject(parts, "deploy", round2(a->parts.deploy));
	cJSON_AddNumberToObject(parts, "similar", round2(a->parts.similar));
	cJSON_AddNumberToObject(parts, "ci", round2(a->parts.ci));
	cJSON_AddNumberToObject(parts, "ambiguity", round2(a->parts.ambiguity));
	cJSON_AddNumberToObject(parts, "severity", round2(a->parts.severity));
	acts = cJSON_AddArrayToObject(o, "actions");
	ev = cJSON_AddArrayToObject(o, "evidence");
	if (acts == NULL || ev == NULL)
		abort();
	for (i = 0; i < a->nactions; i++) {
		cJSON *ac = cJSON_CreateObject();

		if (ac == NULL)
			abort();
		cJSON_AddStringToObject(ac, "type", a->actions[i].type);
		cJSON_AddItemToObject(ac, "params", cJSON_Duplicate(a->actions[i].params, 1));
		ax_json_add_str(ac, "reason", a->actions[i].reason, 1);
		cJSON_AddItemToArray(acts, ac);
	}
	for (i = 0; i < a->nevidence; i++)
		cJSON_AddItemToArray(ev, cJSON_CreateString(a->evidence[i]));
	return o;
}

/* ---- context from JSON --------------------------------------------------- */

ax_err reason_context_from_json(const cJSON *j, struct reason_context *ctx, char *errbuf,
				size_t errlen)
{
	const cJSON *arr, *it;
	int i;

	memset(ctx, 0, sizeof(*ctx));
	if (j == NULL || cJSON_IsNull(j))
		return AX_OK;
	if (!cJSON_IsObject(j)) {
		ax_errfmt(errbuf, errlen, "context: not an object");
		return AX_EPROTO;
	}
	arr = cJSON_GetObjectItemCaseSensitive(j, "deploys");
	if (arr != NULL) {
		struct reason_deploy *d;

		if (!cJSON_IsArray(arr))
			goto bad_deploys;
		d = ax_xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*d));
		ctx->deploys = d;
		i = 0;
		cJSON_ArrayForEach(it, arr) {
			const cJSON *age = cJSON_GetObjectItemCaseSensitive(it, "age_s");

			d[i].service = ax_json_str(it, "service");
			d[i].namespace_ = ax_json_str(it, "namespace");
			d[i].version = ax_json_str(it, "version");
			d[i].previous_version = ax_json_str(it, "previous_version");
			if (d[i].service == NULL || !cJSON_IsNumber(age) || age->valuedouble < 0) {
				ax_errfmt(errbuf, errlen, "context.deploys[%d]: needs service and "
					  "age_s >= 0", i);
				reason_context_release(ctx);
				return AX_EPROTO;
			}
			d[i].age_s = (long)age->valuedouble;
			i++;
		}
		ctx->ndeploys = i;
	}
	arr = cJSON_GetObjectItemCaseSensitive(j, "similar");
	if (arr != NULL) {
		struct reason_similar *s;

		if (!cJSON_IsArray(arr)) {
			ax_errfmt(errbuf, errlen, "context.similar: not an array");
			reason_context_release(ctx);
			return AX_EPROTO;
		}
		s = ax_xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*s));
		ctx->similar = s;
		i = 0;
		cJSON_ArrayForEach(it, arr) {
			const cJSON *score = cJSON_GetObjectItemCaseSensitive(it, "score");

			if (!cJSON_IsNumber(score) || score->valuedouble < 0 ||
			    score->valuedouble > 1) {
				ax_errfmt(errbuf, errlen,
				          "context.similar[%d]: needs score in [0, 1]", i);
				reason_context_release(ctx);
				return AX_EPROTO;
			}
			s[i].title = ax_json_str(it, "title");
			s[i].category = ax_json_str(it, "category");
			s[i].resolution = ax_json_str(it, "resolution");
			s[i].score = score->valuedouble;
			i++;
		}
		ctx->nsimilar = i;
	}
	arr = cJSON_GetObjectItemCaseSensitive(j, "ci");
	if (arr != NULL) {
		const char **ci;

		if (!cJSON_IsArray(arr)) {
			ax_errfmt(errbuf, errlen, "context.ci: not an array");
			reason_context_release(ctx);
			return AX_EPROTO;
		}
		ci = ax_xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*ci));
		ctx->ci = ci;
		i = 0;
		cJSON_ArrayForEach(it, arr) {
			if (!cJSON_IsString(it)) {
				ax_errfmt(errbuf, errlen, "context.ci[%d]: not a string", i);
				reason_context_release(ctx);
				return AX_EPROTO;
			}
			ci[i++] = it->valuestring;
		}
		ctx->nci = i;
	}
	return AX_OK;

bad_deploys:
	ax_errfmt(errbuf, errlen, "context.deploys: not an array");
	reason_context_release(ctx);
	return AX_EPROTO;
}

void reason_context_release(struct reason_context *ctx)
{
	if (ctx == NULL)
		return;
	free((void *)ctx->deploys);
	free((void *)ctx->similar);
	free((void *)ctx->ci);
	memset(ctx, 0, sizeof(*ctx));
}
