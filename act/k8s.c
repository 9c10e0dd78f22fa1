/* k8s.c - the Kubernetes action adapter (see k8s.h).
 *
 * Design: no client library.  The four actions are four requests whose
 * exact shape is known (the ones kubectl sends), and Debian packages no C
 * Kubernetes client; libcurl with the TLS options of common/httpc does the
 * transport, libyaml reads the kubeconfig, libsodium decodes its base64.
 *
 * The kubeconfig is read once, at open, into a cJSON tree (every scalar a
 * string) so the lookups below are plain object walks; the file is capped
 * at 1 MiB and the tree at a few thousand nodes, which also defuses YAML
 * alias bombs (the loader resolves aliases; converting an alias-expanded
 * tree stops at the node budget).  Inline certificates (*-data) stay in
 * memory and go to libcurl as blobs.
 *
 * Bearer tokens read from a file (in-cluster service account, kubeconfig
 * tokenFile) are cached with the file's identity (device, inode, size,
 * mtime) and re-read when stat(2) shows another: kubelet rotates
 * projected tokens by swapping a symlink, which stat follows.
 *
 * Names from params are checked against the Kubernetes DNS-1123 patterns
 * (the API server's own, from apimachinery validation) with POSIX regex,
 * so a name can never carry '/', '?', '%' or '..' into the request line.
 *
 * Outcomes: the API server's non-2xx answers carry a Status object whose
 * message is what an operator needs ("pods \"x\" not found"); that goes
 * into act_outcome.error.  429 and 5xx are worth retrying, 4xx are not. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <sodium.h>
#include <yaml.h>

#include "k8s.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/log.h"
#include "alexus/mem.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBECONFIG_MAX (1024 * 1024)
#define CRED_FILE_MAX (256 * 1024)
#define YAML_NODES_MAX 20000
#define YAML_DEPTH_MAX 32
#define REPLICAS_MAX 100000
#define SERVER_MAX 1024   /* the request URL adds at most ~600 bytes of path */

/* The API server's own patterns (k8s.io/apimachinery/pkg/util/validation). */
#define DNS1123_LABEL "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_SUBDOMAIN "^" DNS1123_LABEL "(\\." DNS1123_LABEL ")*$"

struct act_k8s {
	char *server;             /* scheme://host[:port][/prefix], no trailing '/' */
	char host[256];
	int timeout_ms;
	/* TLS: owned copies behind tls's pointers */
	struct ax_httpc_tls tls;
	char *ca_file, *ca_pem, *cert_file, *cert_pem, *key_file, *key_pem;
	/* credentials: a fixed token, or a file re-read when it changes */
	char *token;
	char *token_file;
	pthread_mutex_t mu;       /* guards the token file cache below */
	char *file_token;
	struct stat file_st;
	regex_t re_label, re_subdomain;
};

/* ---- small file helpers ----------------------------------------------- */

/* Read at most max bytes of path into a NUL-terminated buffer.  AX_OK,
 * AX_ENOTFOUND (no such file), AX_ETOOBIG or AX_EIO. */
static ax_err read_file(const char *path, size_t max, char **out, size_t *len, char *errbuf,
			size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (f == NULL) {
		ax_errfmt(errbuf, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? AX_ENOTFOUND : AX_EIO;
	}
	buf = ax_xmalloc(max + 1);
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		ax_errfmt(errbuf, errlen, "%s: read error", path);
		fclose(f);
		free(buf);
		return AX_EIO;
	}
	fclose(f);
	if (n > max) {
		ax_errfmt(errbuf, errlen, "%s: larger than %zu bytes", path, max);
		free(buf);
		return AX_ETOOBIG;
	}
	buf[n] = '\0';
	*out = buf;
	if (len != NULL)
		*len = n;
	return AX_OK;
}

/* A bearer token from file contents: surrounding whitespace trimmed, and
 * nothing that could break the header line.  NULL if unusable. */
static char *clean_token(const char *s)
{
	const char *e;
	size_t n, i;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	n = (size_t)(e - s);
	if (n == 0)
		return NULL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] == 0x7f)
			return NULL;
	return ax_xstrndup(s, n);
}

/* path itself when absolute or base is NULL, else dir(base)/path. */
static char *resolve_path(const char *base, const char *path)
{
	const char *slash;

	if (path[0] == '/' || base == NULL || (slash = strrchr(base, '/')) == NULL)
		return ax_xstrdup(path);
	return ax_xasprintf("%.*s/%s", (int)(slash - base), base, path);
}

/* ---- kubeconfig: YAML into cJSON --------------------------------------- */

static cJSON *yaml_node_json(yaml_document_t *doc, yaml_node_t *node, int depth, int *budget)
{
	cJSON *j, *v;

	if (node == NULL || depth > YAML_DEPTH_MAX || --*budget < 0)
		return NULL;
	switch (node->type) {
	case YAML_SCALAR_NODE:
		j = cJSON_CreateString((const char *)node->data.scalar.value);
		if (j == NULL)
			abort();
		return j;
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		j = cJSON_CreateArray();
		if (j == NULL)
			abort();
		for (it = node->data.sequence.items.start; it < node->data.sequence.items.top;
		     it++) {
			v = yaml_node_json(doc, yaml_document_get_node(doc, *it), depth + 1, budget);
			if (v == NULL)
				goto fail;
			cJSON_AddItemToArray(j, v);
		}
		return j;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *pr;

		j = cJSON_CreateObject();
		if (j == NULL)
			abort();
		for (pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(doc, pr->key);

			if (k == NULL || k->type != YAML_SCALAR_NODE)
				goto fail;
			v = yaml_node_json(doc, yaml_document_get_node(doc, pr->value), depth + 1,
					   budget);
			if (v == NULL)
				goto fail;
			cJSON_AddItemToObject(j, (const char *)k->data.scalar.value, v);
		}
		return j;
	}
	default:
		return NULL;
	}
fail:
	cJSON_Delete(j);
	return NULL;
}

static cJSON *yaml_load(const char *buf, size_t len, const char *name, char *errbuf,
			size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *root;
	cJSON *j = NULL;
	int budget = YAML_NODES_MAX;

	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		ax_errfmt(errbuf, errlen, "%s: YAML error at line %zu: %s", name,
			  p.problem_mark.line + 1, p.problem != NULL ? p.problem : "?");
		yaml_parser_delete(&p);
		return NULL;
	}
	root = yaml_document_get_root_node(&doc);
	if (root != NULL)
		j = yaml_node_json(&doc, root, 0, &budget);
	if (j == NULL)
		ax_errfmt(errbuf, errlen, "%s: %s", name,
			  root == NULL ? "empty document" :
			  budget < 0 ? "too many nodes" : "unsupported YAML structure");
	else if (!cJSON_IsObject(j)) {
		ax_errfmt(errbuf, errlen, "%s: not a mapping at the top", name);
		cJSON_Delete(j);
		j = NULL;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return j;
}

/* The "inner" object of the entry of list (clusters, users, contexts)
 * whose name is name: {"name": name, inner: {...}}. */
static const cJSON *named(const cJSON *cfg, const char *list, const char *inner,
			  const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, list)) {
		const char *n = ax_json_str(e, "name");

		if (n != NULL && strcmp(n, name) == 0) {
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, inner);

			return cJSON_IsObject(o) ? o : NULL;
		}
	}
	return NULL;
}

/* Decode base64 field key of obj into a malloc'd PEM (NUL-terminated). */
static ax_err b64_field(const cJSON *obj, const char *key, char **out, char *errbuf,
			size_t errlen)
{
	const char *s = ax_json_str(obj, key);
	size_t n, got = 0;
	char *bin;

	*out = NULL;
	if (s == NULL)
		return AX_OK;
	n = strlen(s);
	bin = ax_xmalloc(n + 1);
	if (sodium_base642bin((unsigned char *)bin, n, s, n, " \t\r\n", &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || got == 0) {
		free(bin);
		ax_errfmt(errbuf, errlen, "kubeconfig: %s is not base64", key);
		return AX_EINVAL;
	}
	bin[got] = '\0';
	*out = bin;
	return AX_OK;
}

static int yaml_true(const char *s)
{
	return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
			     strcmp(s, "TRUE") == 0);
}

static ax_err load_kubeconfig(struct act_k8s *k, const char *path, char *errbuf, size_t errlen)
{
	const cJSON *ctx, *cluster, *user;
	const char *cur, *cname, *uname, *v;
	char *buf;
	size_t len;
	cJSON *cfg;
	ax_err rc;

	rc = read_file(path, KUBECONFIG_MAX, &buf, &len, errbuf, errlen);
	if (rc != AX_OK)
		return rc == AX_ENOTFOUND ? AX_EIO : rc;   /* configured but missing */
	cfg = yaml_load(buf, len, "kubeconfig", errbuf, errlen);
	sodium_memzero(buf, len);   /* tokens and keys */
	free(buf);
	if (cfg == NULL)
		return AX_EINVAL;
	rc = AX_EINVAL;
	cur = ax_json_str(cfg, "current-context");
	if (cur == NULL) {
		ax_errfmt(errbuf, errlen, "kubeconfig: no current-context");
		goto out;
	}
	ctx = named(cfg, "contexts", "context", cur);
	if (ctx == NULL) {
		ax_errfmt(errbuf, errlen, "kubeconfig: context \"%s\" not found", cur);
		goto out;
	}
	cname = ax_json_str(ctx, "cluster");
	uname = ax_json_str(ctx, "user");
	cluster = cname != NULL ? named(cfg, "clusters", "cluster", cname) : NULL;
	if (cluster == NULL) {
		ax_errfmt(errbuf, errlen, "kubeconfig: cluster of context \"%s\" not found", cur);
		goto out;
	}
	user = uname != NULL ? named(cfg, "users", "user", uname) : NULL;
	if (uname != NULL && user == NULL) {
		ax_errfmt(errbuf, errlen, "kubeconfig: user \"%s\" not found", uname);
		goto out;
	}

	if ((v = ax_json_str(cluster, "server")) == NULL) {
		ax_errfmt(errbuf, errlen, "kubeconfig: cluster \"%s\" has no server", cname);
		goto out;
	}
	k->server = ax_xstrdup(v);
	if ((rc = b64_field(cluster, "certificate-authority-data", &k->ca_pem, errbuf,
			    errlen)) != AX_OK)
		goto out;
	rc = AX_EINVAL;
	if (k->ca_pem == NULL && (v = ax_json_str(cluster, "certificate-authority")) != NULL)
		k->ca_file = resolve_path(path, v);
	if (yaml_true(ax_json_str(cluster, "insecure-skip-tls-verify"))) {
		if (k->ca_pem != NULL || k->ca_file != NULL) {
			/* client-go refuses this combination too */
			ax_errfmt(errbuf, errlen, "kubeconfig: cluster \"%s\" sets both a CA and "
				  "insecure-skip-tls-verify", cname);
			goto out;
		}
		k->tls.insecure_skip_verify = 1;
		ax_warn("kubeconfig cluster \"%s\": insecure-skip-tls-verify is set: the API "
			"server's certificate is NOT verified", cname);
	}

	if (user != NULL) {
		if (cJSON_GetObjectItemCaseSensitive(user, "exec") != NULL ||
		    cJSON_GetObjectItemCaseSensitive(user, "auth-provider") != NULL) {
			ax_errfmt(errbuf, errlen, "kubeconfig: user \"%s\" uses a credential plugin "
				  "(exec/auth-provider): not supported, use a token or a client "
				  "certificate", uname);
			goto out;
		}
		if (ax_json_str(user, "username") != NULL || ax_json_str(user, "password") != NULL) {
			ax_errfmt(errbuf, errlen, "kubeconfig: user \"%s\" uses basic auth: not "
				  "supported", uname);
			goto out;
		}
		if ((v = ax_json_str(user, "token")) != NULL) {
			k->token = clean_token(v);
			if (k->token == NULL) {
				ax_errfmt(errbuf, errlen, "kubeconfig: user \"%s\": unusable token",
					  uname);
				goto out;
			}
		} else if ((v = ax_json_str(user, "tokenFile")) != NULL) {
			k->token_file = resolve_path(path, v);
		}
		if ((rc = b64_field(user, "client-certificate-data", &k->cert_pem, errbuf,
				    errlen)) != AX_OK ||
		    (rc = b64_field(user, "client-key-data", &k->key_pem, errbuf, errlen)) != AX_OK)
			goto out;
		rc = AX_EINVAL;
		if (k->cert_pem == NULL && (v = ax_json_str(user, "client-certificate")) != NULL)
			k->cert_file = resolve_path(path, v);
		if (k->key_pem == NULL && (v = ax_json_str(user, "client-key")) != NULL)
			k->key_file = resolve_path(path, v);
		if ((k->cert_pem != NULL || k->cert_file != NULL) !=
		    (k->key_pem != NULL || k->key_file != NULL)) {
			ax_errfmt(errbuf, errlen, "kubeconfig: user \"%s\" has a client certificate "
				  "without its key, or a key without its certificate", uname);
			goto out;
		}
	}
	rc = AX_OK;
out:
	cJSON_Delete(cfg);
	return rc;
}

/* ---- in-cluster / service account -------------------------------------- */

static const char *sa_dir(void)
{
	const char *d = getenv("ALEXUS_K8S_SA_DIR");

	return d != NULL && d[0] != '\0' ? d : SA_DIR_DEFAULT;
}

/* Use the service account's token and CA when the directory has them.
 * 1 if a token file was found, 0 if not. */
static int load_sa(struct act_k8s *k)
{
	const char *d = sa_dir();
	char *tok = ax_xasprintf("%s/token", d), *ca = ax_xasprintf("%s/ca.crt", d);
	struct stat st;
	int found = 0;

	if (stat(tok, &st) == 0) {
		k->token_file = tok;
		tok = NULL;
		found = 1;
	}
	if (stat(ca, &st) == 0) {
		k->ca_file = ca;
		ca = NULL;
	}
	free(tok);
	free(ca);
	return found;
}

/* The bearer token for the next request (a copy), or NULL for none.
 * AX_EIO when a token file is configured but cannot be read. */
static ax_err current_token(struct act_k8s *k, char **out, char *errbuf, size_t errlen)
{
	struct stat st;
	char *buf;
	ax_err rc;

	*out = NULL;
	if (k->token != NULL) {
		*out = ax_xstrdup(k->token);
		return AX_OK;
	}
	if (k->token_file == NULL)
		return AX_OK;
	pthread_mutex_lock(&k->mu);
	if (stat(k->token_file, &st) != 0) {
		ax_errfmt(errbuf, errlen, "service account token: %s", strerror(errno));
		rc = AX_EIO;
		goto out;
	}
	if (k->file_token == NULL || st.st_ino != k->file_st.st_ino ||
	    st.st_dev != k->file_st.st_dev || st.st_size != k->file_st.st_size ||
	    st.st_mtim.tv_sec != k->file_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != k->file_st.st_mtim.tv_nsec) {
		rc = read_file(k->token_file, CRED_FILE_MAX, &buf, NULL, errbuf, errlen);
		if (rc != AX_OK) {
			rc = AX_EIO;
			goto out;
		}
		free(k->file_token);
		k->file_token = clean_token(buf);
		sodium_memzero(buf, strlen(buf));
		free(buf);
		if (k->file_token == NULL) {
			ax_errfmt(errbuf, errlen, "token file is empty or malformed");
			rc = AX_EIO;
			goto out;
		}
		k->file_st = st;
	}
	*out = ax_xstrdup(k->file_token);
	rc = AX_OK;
out:
	pthread_mutex_unlock(&k->mu);
	return rc;
}

/* ---- open / close ------------------------------------------------------- */

static ax_err finish_open(struct act_k8s *k, char *errbuf, size_t errlen)
{
	CURLU *u;
	char *host = NULL;
	size_t n;

	n = strlen(k->server);
	while (n > 0 && k->server[n - 1] == '/')
		k->server[--n] = '\0';
	if (n > SERVER_MAX) {
		ax_errfmt(errbuf, errlen, "Kubernetes API server URL longer than %d bytes",
			  SERVER_MAX);
		return AX_EINVAL;
	}
	u = curl_url();
	if (u == NULL)
		abort();
	if (curl_url_set(u, CURLUPART_URL, k->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    (strncmp(k->server, "https://", 8) != 0 && strncmp(k->server, "http://", 7) != 0)) {
		curl_free(host);
		curl_url_cleanup(u);
		ax_errfmt(errbuf, errlen, "Kubernetes API server \"%s\" is not an http(s) URL",
			  k->server);
		return AX_EINVAL;
	}
	snprintf(k->host, sizeof(k->host), "%s", host);
	curl_free(host);
	curl_url_cleanup(u);
	k->tls.ca_file = k->ca_file;
	k->tls.ca_pem = k->ca_pem;
	k->tls.cert_file = k->cert_file;
	k->tls.cert_pem = k->cert_pem;
	k->tls.key_file = k->key_file;
	k->tls.key_pem = k->key_pem;
	if (regcomp(&k->re_label, "^" DNS1123_LABEL "$", REG_EXTENDED | REG_NOSUB) != 0 ||
	    regcomp(&k->re_subdomain, DNS1123_SUBDOMAIN, REG_EXTENDED | REG_NOSUB) != 0)
		abort();   /* constant patterns */
	return AX_OK;
}

static void k8s_free(struct act_k8s *k, int compiled)
{
	if (k == NULL)
		return;
	if (compiled) {
		regfree(&k->re_label);
		regfree(&k->re_subdomain);
	}
	pthread_mutex_destroy(&k->mu);
	free(k->server);
	free(k->ca_file);
	free(k->ca_pem);
	free(k->cert_file);
	free(k->cert_pem);
	free(k->key_file);
	if (k->key_pem != NULL)
		sodium_memzero(k->key_pem, strlen(k->key_pem));
	free(k->key_pem);
	if (k->token != NULL)
		sodium_memzero(k->token, strlen(k->token));
	free(k->token);
	free(k->token_file);
	if (k->file_token != NULL)
		sodium_memzero(k->file_token, strlen(k->file_token));
	free(k->file_token);
	free(k);
}

ax_err act_k8s_open(struct act_k8s **kp, const struct ax_config *cfg, char *errbuf,
		    size_t errlen)
{
	struct act_k8s *k;
	const char *api = cfg->k8s_api != NULL ? cfg->k8s_api : "";
	const char *kc = cfg->kubeconfig != NULL ? cfg->kubeconfig : "";
	ax_err rc;

	*kp = NULL;
	k = ax_xcalloc(1, sizeof(*k));
	pthread_mutex_init(&k->mu, NULL);
	k->timeout_ms = cfg->k8s_timeout_ms > 0 ? cfg->k8s_timeout_ms : 10000;
	if (kc[0] != '\0') {
		rc = load_kubeconfig(k, kc, errbuf, errlen);
		if (rc != AX_OK)
			goto fail;
		if (api[0] != '\0') {
			free(k->server);
			k->server = ax_xstrdup(api);
		}
	} else if (api[0] != '\0') {
		k->server = ax_xstrdup(api);
		load_sa(k);
	} else {
		const char *h = getenv("KUBERNETES_SERVICE_HOST");
		const char *p = getenv("KUBERNETES_SERVICE_PORT");

		if (h == NULL || h[0] == '\0') {
			ax_errfmt(errbuf, errlen, "no Kubernetes cluster configured (ALEXUS_KUBECONFIG, "
				  "ALEXUS_K8S_API, or in-cluster KUBERNETES_SERVICE_HOST)");
			rc = AX_ENOTFOUND;
			goto fail;
		}
		if (!load_sa(k)) {
			ax_errfmt(errbuf, errlen, "in cluster, but no service-account token in %s",
				  sa_dir());
			rc = AX_ENOTFOUND;
			goto fail;
		}
		k->server = ax_xasprintf(strchr(h, ':') != NULL ? "https://[%s]:%s" : "https://%s:%s",
					 h, p != NULL && p[0] != '\0' ? p : "443");
	}
	rc = finish_open(k, errbuf, errlen);
	if (rc != AX_OK)
		goto fail;
	*kp = k;
	return AX_OK;
fail:
	k8s_free(k, 0);
	return rc;
}

void act_k8s_close(struct act_k8s *k)
{
	k8s_free(k, 1);
}

const char *act_k8s_server(const struct act_k8s *k)
{
	return k->server;
}

/* ---- the actions ---------------------------------------------------------- */

enum k8s_action { K_RESTART_POD, K_ROLLOUT_RESTART, K_SCALE, K_CORDON, K_NONE };

static const char *const action_names[] = {
	[K_RESTART_POD] = "restart_pod",
	[K_ROLLOUT_RESTART] = "rollout_restart",
	[K_SCALE] = "scale_deployment",
	[K_CORDON] = "cordon_node",
};

static enum k8s_action action_of(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < K_NONE; i++)
		if (strcmp(s, action_names[i]) == 0)
			return (enum k8s_action)i;
	return K_NONE;
}

int act_k8s_supports(const char *action)
{
	return action_of(action) != K_NONE;
}

/* kind param -> the apps/v1 resource and a word for humans. */
static int workload(const char *kind, const char **resource, const char **word)
{
	if (kind == NULL || strcmp(kind, "Deployment") == 0) {
		*resource = "deployments", *word = "deployment";
	} else if (strcmp(kind, "StatefulSet") == 0) {
		*resource = "statefulsets", *word = "statefulset";
	} else if (strcmp(kind, "DaemonSet") == 0) {
		*resource = "daemonsets", *word = "daemonset";
	} else {
		return -1;
	}
	return 0;
}

/* A string param that must be a DNS-1123 label (namespace) or subdomain. */
static const char *name_param(struct act_k8s *k, const cJSON *params, const char *key,
			      int label, char *why, size_t whylen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
	const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
	size_t n;

	if (s == NULL || s[0] == '\0') {
		snprintf(why, whylen, "params.%s is missing", key);
		return NULL;
	}
	n = strlen(s);
	if (n > (label ? 63u : 253u) ||
	    regexec(label ? &k->re_label : &k->re_subdomain, s, 0, NULL, 0) != 0) {
		snprintf(why, whylen, "params.%s is not a valid DNS-1123 %s", key,
			 label ? "label" : "subdomain");
		return NULL;
	}
	return s;
}

/* replicas: a whole number 0..REPLICAS_MAX, as a number or digits. */
static long replicas_param(const cJSON *params)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "replicas");
	char *end;
	long n;

	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (d < 0 || d > REPLICAS_MAX || d != (double)(long)d)
			return -1;
		return (long)d;
	}
	if (cJSON_IsString(v) && v->valuestring[0] >= '0' && v->valuestring[0] <= '9') {
		errno = 0;
		n = strtol(v->valuestring, &end, 10);
		if (errno == 0 && *end == '\0' && n >= 0 && n <= REPLICAS_MAX)
			return n;
	}
	return -1;
}

/* What to send: filled by build(). */
struct req {
	const char *method;
	char path[1024];
	const char *content_type;   /* the Content-Type header line; NULL: no body */
	char *body;
	char what[600];             /* "deployment shop/api" */
	char done[64];              /* "rollout restarted" */
};

static ax_err build(struct act_k8s *k, enum k8s_action a, const cJSON *params, struct req *r,
		    char *why, size_t whylen)
{
	const char *ns, *name, *resource, *word;
	char ts[32];
	time_t now;
	struct tm tm;
	long n;

	switch (a) {
	case K_RESTART_POD:
		if ((ns = name_param(k, params, "namespace", 1, why, whylen)) == NULL ||
		    (name = name_param(k, params, "pod", 0, why, whylen)) == NULL)
			return AX_EINVAL;
		r->method = "DELETE";
		snprintf(r->path, sizeof(r->path), "/api/v1/namespaces/%s/pods/%s", ns, name);
		snprintf(r->what, sizeof(r->what), "pod %s/%s", ns, name);
		snprintf(r->done, sizeof(r->done), "deleted");
		return AX_OK;
	case K_ROLLOUT_RESTART:
	case K_SCALE:
		if (workload(ax_json_str(params, "kind"), &resource, &word) != 0) {
			snprintf(why, whylen, "params.kind must be Deployment, StatefulSet or "
				 "DaemonSet");
			return AX_EINVAL;
		}
		if ((ns = name_param(k, params, "namespace", 1, why, whylen)) == NULL ||
		    (name = name_param(k, params, "deployment", 0, why, whylen)) == NULL)
			return AX_EINVAL;
		snprintf(r->what, sizeof(r->what), "%s %s/%s", word, ns, name);
		r->method = "PATCH";
		if (a == K_ROLLOUT_RESTART) {
			/* kubectl: time.Now().Format(time.RFC3339); UTC here */
			now = time(NULL);
			gmtime_r(&now, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			snprintf(r->path, sizeof(r->path), "/apis/apps/v1/namespaces/%s/%s/%s", ns,
				 resource, name);
			r->content_type = "Content-Type: application/strategic-merge-patch+json";
			r->body = ax_xasprintf("{\"spec\":{\"template\":{\"metadata\":{\"annotations\":"
					       "{\"kubectl.kubernetes.io/restartedAt\":\"%s\"}}}}}",
					       ts);
			snprintf(r->done, sizeof(r->done), "rollout restarted");
			return AX_OK;
		}
		if (strcmp(resource, "daemonsets") == 0) {
			snprintf(why, whylen, "a DaemonSet cannot be scaled");
			return AX_EINVAL;
		}
		n = replicas_param(params);
		if (n < 0) {
			snprintf(why, whylen, "params.replicas must be a whole number 0..%d",
				 REPLICAS_MAX);
			return AX_EINVAL;
		}
		snprintf(r->path, sizeof(r->path), "/apis/apps/v1/namespaces/%s/%s/%s/scale", ns,
			 resource, name);
		r->content_type = "Content-Type: application/merge-patch+json";
		r->body = ax_xasprintf("{\"spec\":{\"replicas\":%ld}}", n);
		snprintf(r->done, sizeof(r->done), "scaled to %ld replica%s", n, n == 1 ? "" : "s");
		return AX_OK;
	case K_CORDON:
		if ((name = name_param(k, params, "node", 0, why, whylen)) == NULL)
			return AX_EINVAL;
		r->method = "PATCH";
		snprintf(r->path, sizeof(r->path), "/api/v1/nodes/%s", name);
		r->content_type = "Content-Type: application/strategic-merge-patch+json";
		r->body = ax_xstrdup("{\"spec\":{\"unschedulable\":true}}");
		snprintf(r->what, sizeof(r->what), "node %s", name);
		snprintf(r->done, sizeof(r->done), "cordoned");
		return AX_OK;
	case K_NONE:
		break;
	}
	snprintf(why, whylen, "not a Kubernetes action");
	return AX_EINVAL;
}

/* out->error from a non-2xx answer: the Status object's message. */
static void status_error(const struct ax_httpc_resp *resp, struct act_outcome *out)
{
	cJSON *st = resp->body_len > 0 ? ax_json_parse(resp->body, resp->body_len, 16) : NULL;
	const char *msg = st != NULL ? ax_json_str(st, "message") : NULL;

	if (msg != NULL)
		snprintf(out->error, sizeof(out->error), "%s", msg);
	else
		snprintf(out->error, sizeof(out->error), "HTTP %ld", resp->status);
	cJSON_Delete(st);
}

ax_err act_k8s_run(struct act_k8s *k, const char *action, const cJSON *params, int dry_run,
		   const char *idempotency_key, struct act_outcome *out, char *summary,
		   size_t summary_len)
{
	struct req r = { 0 };
	struct ax_httpc_resp resp;
	char url[2048], why[256], err[256], *token = NULL, *auth = NULL;
	const char *headers[4];
	const char *dry = dry_run ? " (dry run)" : "";
	int nh = 0;
	ax_err rc;

	(void)idempotency_key;
	memset(out, 0, sizeof(*out));
	if (summary != NULL && summary_len > 0)
		summary[0] = '\0';
	snprintf(out->host, sizeof(out->host), "%s", k->host);
	if (!cJSON_IsObject(params)) {
		snprintf(why, sizeof(why), "params is not an object");
		rc = AX_EINVAL;
	} else {
		rc = build(k, action_of(action), params, &r, why, sizeof(why));
	}
	if (rc != AX_OK) {
		snprintf(out->error, sizeof(out->error), "%s", why);
		if (summary != NULL)
			snprintf(summary, summary_len, "%s: refused: %s",
				 action != NULL ? action : "(no action)", why);
		return AX_EINVAL;
	}

	if (strcmp(r.method, "PATCH") == 0)
		snprintf(url, sizeof(url), "%s%s?%sfieldManager=alexus", k->server, r.path,
			 dry_run ? "dryRun=All&" : "");
	else
		snprintf(url, sizeof(url), "%s%s%s", k->server, r.path, dry_run ? "?dryRun=All" : "");

	headers[nh++] = "Accept: application/json";
	if (r.content_type != NULL)
		headers[nh++] = r.content_type;
	err[0] = '\0';
	if (current_token(k, &token, err, sizeof(err)) != AX_OK) {
		/* our side: the token file vanished; it may come back */
		out->retryable = 1;
		snprintf(out->error, sizeof(out->error), "%s", err);
		goto done;
	}
	if (token != NULL) {
		auth = ax_xasprintf("Authorization: Bearer %s", token);
		headers[nh++] = auth;
	}
	headers[nh] = NULL;

	rc = ax_httpc_request_tls(r.method, url, headers, r.body, r.body != NULL ? strlen(r.body) : 0,
				  k->timeout_ms, &k->tls, &resp, err, sizeof(err));
	switch (rc) {
	case AX_OK:
		out->http_status = resp.status;
		out->retry_after_s = resp.retry_after_s;
		if (resp.status >= 200 && resp.status < 300) {
			out->ok = 1;
		} else {
			status_error(&resp, out);
			out->retryable = resp.status == 429 || resp.status >= 500;
		}
		ax_httpc_resp_release(&resp);
		break;
	case AX_ETIMEDOUT:
	case AX_EIO:
		out->retryable = 1;
		snprintf(out->error, sizeof(out->error), "%s", err);
		break;
	default:
		/* AX_EAUTH (TLS verification, bad certificate), AX_EINVAL (URL) */
		snprintf(out->error, sizeof(out->error), "%s", err);
		break;
	}
done:
	if (summary != NULL) {
		if (out->ok)
			snprintf(summary, summary_len, "%s: %s%s", r.what, r.done, dry);
		else
			snprintf(summary, summary_len, "%s: not %s%s: %s", r.what, r.done, dry,
				 out->error);
	}
	if (auth != NULL)
		sodium_memzero(auth, strlen(auth));
	free(auth);
	if (token != NULL)
		sodium_memzero(token, strlen(token));
	free(token);
	free(r.body);
	return AX_OK;
}
