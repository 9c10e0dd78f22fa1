/* k8s.h - the Kubernetes action adapter: four remediations over the API
 * server's REST API (libcurl), nothing else.
 *
 *   restart_pod       DELETE /api/v1/namespaces/{namespace}/pods/{pod}
 *   rollout_restart   PATCH  /apis/apps/v1/namespaces/{namespace}/{deployments|statefulsets|
 *                            daemonsets}/{deployment}   (strategic merge patch of
 *                            spec.template.metadata.annotations
 *                            ["kubectl.kubernetes.io/restartedAt"], as `kubectl rollout
 *                            restart` sends it)
 *   scale_deployment  PATCH  .../{deployments|statefulsets}/{deployment}/scale
 *                            {"spec":{"replicas":n}} (merge patch)
 *   cordon_node       PATCH  /api/v1/nodes/{node} {"spec":{"unschedulable":true}}
 *                            (strategic merge patch, as `kubectl cordon`)
 *
 * params are the remediate payload's (proto/remediate.schema.json, as
 * reason/heuristic.c names them): "namespace", "deployment", "pod",
 * "node", "replicas" (a number, or a string of digits, 0..100000) and the
 * optional "kind" ("Deployment" (default), "StatefulSet", "DaemonSet").
 * Namespaces must be DNS-1123 labels, other names DNS-1123 subdomains, so
 * nothing in params can reach the URL's path or query.  The replica cap,
 * the namespace allowlist and approvals are the policy engine's; this
 * adapter only executes.
 *
 * Where the cluster is (act_k8s_open, first match wins):
 *   1. ALEXUS_KUBECONFIG (cfg->kubeconfig): its current-context's cluster
 *      (server, certificate-authority[-data], insecure-skip-tls-verify,
 *      honoured only with a warning in the log) and user (token,
 *      tokenFile, client-certificate[-data], client-key[-data]).  Relative
 *      file names are relative to the kubeconfig's directory.  exec and
 *      auth-provider plugins and basic auth are refused.  ALEXUS_K8S_API,
 *      when set, replaces the cluster's server.
 *   2. ALEXUS_K8S_API alone: that server, with the service-account token
 *      and CA below when the directory has them (else no credentials and
 *      the system CA store, e.g. `kubectl proxy` on http://127.0.0.1:8001).
 *   3. In cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 *      with the service account's token and ca.crt.
 * The service-account directory is /var/run/secrets/kubernetes.io/
 * serviceaccount unless the environment variable ALEXUS_K8S_SA_DIR names
 * another one (read only here, for tests and unusual mounts).  Token
 * files (in-cluster or a kubeconfig's tokenFile) are re-read whenever they
 * change: projected service-account tokens rotate (hourly by default).
 * Dry run is the API server's own: ?dryRun=All, validated and admitted,
 * never persisted.  PATCH requests also carry ?fieldManager=alexus so the
 * object's managedFields name who changed it.
 *
 * Thread-safe: one struct act_k8s per process, act_k8s_run from any
 * thread (the token cache has a lock).  Each run is one blocking request
 * of at most cfg->k8s_timeout_ms; nothing is retried here. */
#ifndef ACT_K8S_H
#define ACT_K8S_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/config.h"
#include "alexus/err.h"
#include "target.h"

struct act_k8s;

/* Find and load the cluster's address and credentials.  AX_ENOTFOUND: no
 * cluster configured (no kubeconfig, no ALEXUS_K8S_API, not in a cluster
 * with a service-account token); AX_EINVAL: a kubeconfig or credential
 * that cannot be used (errbuf says which field); AX_EIO: a file could not
 * be read.  *k is NULL on any error. */
ax_err act_k8s_open(struct act_k8s **k, const struct ax_config *cfg, char *errbuf,
		    size_t errlen) AX_MUSTCHECK;
void act_k8s_close(struct act_k8s *k);   /* NULL-safe */

/* 1 for restart_pod, rollout_restart, scale_deployment, cordon_node. */
int act_k8s_supports(const char *action);

/* Run action with params (the remediate payload's params object).
 *
 * AX_EINVAL, nothing sent: the action is not supported, or params lack
 * what it needs, or a name is not a valid DNS-1123 name, or replicas is
 * not a count; out->error and summary say which.  Otherwise AX_OK with out
 * filled: ok (2xx), http_status (0 when no answer), retryable (429, 5xx,
 * a timeout or a connection failure; 0 for any other answer and for a
 * TLS verification failure), retry_after_s, error (the API's
 * Status.message, else "HTTP n" or the transport error; "" when ok) and
 * host (the API server's host).  summary (may be NULL) gets one line for
 * humans, e.g. "deployment shop/api: rollout restarted (dry run)".
 * idempotency_key is not sent anywhere (may be NULL): the API has no such
 * header, and claiming the key once is the caller's job. */
ax_err act_k8s_run(struct act_k8s *k, const char *action, const cJSON *params, int dry_run,
		   const char *idempotency_key, struct act_outcome *out, char *summary,
		   size_t summary_len) AX_MUSTCHECK;

/* The API server this adapter talks to ("https://10.0.0.1:443"), for
 * the startup log line. */
const char *act_k8s_server(const struct act_k8s *k);

#endif /* ACT_K8S_H */
