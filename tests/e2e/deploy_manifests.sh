#!/usr/bin/env bash
# tests/e2e/deploy_manifests.sh - the deployment manifests agree with the
# daemons: names, probes, ports, security, autoscaling.
#
# No helm, docker daemon or cluster is needed (none is available in CI):
# deploy/docker-compose.yml and the chart's values.yaml are parsed with
# PyYAML, the chart is rendered by tests/tools/helm_render.py (the exact
# template subset the chart uses; anything else fails the render), and
# every rendered document is parsed as YAML.  Then:
#   - every environment variable an Alexus container gets (compose
#     services on the Alexus image, the Dockerfile's ENV, Deployment and
#     Job env, envFrom ConfigMaps) is a key the daemons read: a row of
#     common/config.c's table or a getenv() in common/ ingest/ reason/ act/;
#   - probes: /healthz for liveness and /readyz for readiness, paths the
#     daemons serve (ingest/server.c, common/health.c), on the port the
#     daemon listens on (ingest: ALEXUS_INGEST_PORT; reason and act: the
#     port of ALEXUS_HEALTH_ADDR, bound to all interfaces);
#   - every Deployment has both probes, cpu and memory requests and
#     limits, and runs as non-root without privilege escalation;
#   - the ingest Service reaches the ingest container's port;
#   - one autoscaling/v2 CPU HPA per plane, each on its own plane's
#     Deployment; KEDA ScaledObjects only with keda.enabled, then for
#     reason and act on their stream and group (common/alexus/keys.h) and
#     instead of their HPAs; the migration Job is a pre-install /
#     pre-upgrade hook running `alexusctl migrate`, and the Secret it reads
#     exists before it (an earlier hook) or is the operator's;
#   - compose: Redis with AOF, a migrate service the planes wait for, a
#     stop grace period, no container_name, no host port on reason or
#     act, ingest scalable; an autoscaled Deployment sets no replicas;
#   - every leaf of values.yaml is in the chart README's values table.
# Exit 0 pass, 1 fail, 77 skip (python3 or PyYAML missing).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT" || exit 1

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import yaml' 2>/dev/null; then
	echo "SKIP: python3 with PyYAML (Debian python3-yaml) is needed"
	exit 77
fi

exec python3 - "$ROOT" <<'PY'
import os
import re
import subprocess
import sys

import yaml

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import helm_render  # noqa: E402

CHART = os.path.join(ROOT, "deploy", "helm", "alexus")
failures = []
checks = 0


def check(ok, msg):
    global checks
    checks += 1
    if not ok:
        failures.append(msg)
    return ok


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


# ------------------------------------------------ what the daemons read and serve

config_c = read("common/config.c")
TABLE = dict(re.findall(r'\{\s*"(ALEXUS_[A-Z0-9_]+)",\s*CFG_[A-Z]+,\s*F\([a-z0-9_]+\),\s*'
                        r'("(?:[^"\\]|\\.)*"|NULL)', config_c))
KNOWN = set(TABLE)
for sub in ("common", "ingest", "reason", "act"):
    for dirpath, _, files in os.walk(os.path.join(ROOT, sub)):
        for fn in files:
            if fn.endswith(".c"):
                with open(os.path.join(dirpath, fn)) as f:
                    KNOWN.update(re.findall(r'getenv\("([A-Z0-9_]+)"\)', f.read()))
check(len(TABLE) > 30 and "ALEXUS_HEALTH_ADDR" in TABLE and "ALEXUS_INGEST_PORT" in TABLE,
      "could not read the config table of common/config.c (%d keys)" % len(TABLE))
DEFAULT = {k: (v[1:-1] if v != "NULL" else None) for k, v in TABLE.items()}

SERVED = {}
for plane, src in (("ingest", "ingest/server.c"), ("reason", "common/health.c"),
                   ("act", "common/health.c")):
    text = read(src)
    SERVED[plane] = {p for p in ("/healthz", "/readyz") if '"%s"' % p in text}
    check(SERVED[plane] == {"/healthz", "/readyz"},
          "%s does not serve both /healthz and /readyz" % src)
for plane in ("reason", "act"):
    check("ax_health_start" in read("%s/main.c" % plane),
          "%s/main.c does not start the health listener" % plane)

keys_h = read("common/alexus/keys.h")
STREAM = dict(re.findall(r'#define (AX_(?:STREAM|GROUP)_[A-Z]+) "([^"]+)"', keys_h))
WANT_KEDA = {"reason": (STREAM.get("AX_STREAM_SIGNALS"), STREAM.get("AX_GROUP_REASON")),
             "act": (STREAM.get("AX_STREAM_ACTIONS"), STREAM.get("AX_GROUP_ACT"))}

PLANE_OF = {"alexus-ingest": "ingest", "alexus-reason": "reason", "alexus-act": "act"}


def addr_port(v):
    """(host, port) of host:port / [v6]:port, or None."""
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:([0-9]+)|([A-Za-z0-9_.-]+):([0-9]+)", v or "")
    if not m:
        return None
    return (m.group(1) or m.group(3), int(m.group(2) or m.group(4)))


def expected_port(plane, env, where):
    """The port the daemon of plane listens on, given its environment."""
    if plane == "ingest":
        v = env.get("ALEXUS_INGEST_PORT") or DEFAULT.get("ALEXUS_INGEST_PORT")
        check(env.get("ALEXUS_INGEST_ADDR") in ("0.0.0.0", "::"),
              "%s: ingest must listen on all interfaces (ALEXUS_INGEST_ADDR=%r)"
              % (where, env.get("ALEXUS_INGEST_ADDR")))
        return int(v)
    hp = addr_port(env.get("ALEXUS_HEALTH_ADDR", ""))
    if not check(hp is not None, "%s: %s has no ALEXUS_HEALTH_ADDR host:port, so no probes"
                 % (where, plane)):
        return None
    check(hp[0] in ("0.0.0.0", "::"),
          "%s: ALEXUS_HEALTH_ADDR %s is not reachable from outside the container" % (where, hp))
    return hp[1]


def check_env_names(names, where):
    for n in names:
        check(n in KNOWN, "%s: %s is not a key the daemons read" % (where, n))


# --------------------------------------------------------------- the Dockerfile

dockerfile = read("deploy/Dockerfile")
IMAGE_ENV = {}
for block in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", dockerfile, re.M):
    for k, v in re.findall(r"([A-Z0-9_]+)=(\S+)", block.replace("\\\n", " ")):
        IMAGE_ENV[k] = v
check_env_names(IMAGE_ENV, "deploy/Dockerfile ENV")
check(re.search(r"^USER\s+(?!0\b|root\b)\S+", dockerfile, re.M) is not None,
      "deploy/Dockerfile: the runtime stage must switch to a non-root USER")
check(len(re.findall(r"^FROM\s+\S+", dockerfile, re.M)) >= 2,
      "deploy/Dockerfile: want a multi-stage build")
check(re.search(r"^(ARG DEBIAN=debian:|FROM debian:)", dockerfile, re.M) is not None,
      "deploy/Dockerfile: want a Debian base")

# ---------------------------------------------------------------- compose

compose = yaml.safe_load(read("deploy/docker-compose.yml"))
services = compose.get("services", {})
alexus_image = None
for name in ("ingest", "reason", "act", "migrate"):
    check(name in services, "compose: no %s service" % name)
for name in ("ingest", "reason", "act", "migrate"):
    img = services.get(name, {}).get("image")
    alexus_image = alexus_image or img
    check(img == alexus_image, "compose: %s does not run the Alexus image" % name)


def cmd_of(svc):
    c = svc.get("command")
    return c if isinstance(c, list) else (c.split() if isinstance(c, str) else [])


for name, svc in services.items():
    where = "compose %s" % name
    check("container_name" not in svc, "%s: container_name prevents --scale" % where)
    if svc.get("image") != alexus_image:
        continue
    env = dict(IMAGE_ENV)
    senv = svc.get("environment") or {}
    if isinstance(senv, list):
        senv = dict(e.split("=", 1) for e in senv)
    check_env_names(senv, where)
    env.update({k: str(v) for k, v in senv.items()})
    check(str(svc.get("user", "")).split(":")[0] not in ("", "0", "root"),
          "%s: must run as a non-root user" % where)
    cmd = cmd_of(svc)
    if name == "migrate":
        check(cmd == ["alexusctl", "migrate"], "%s: runs %r, not alexusctl migrate" % (where, cmd))
        check(svc.get("restart") in ("no", None), "%s: a one-shot must not restart" % where)
        continue
    plane = PLANE_OF.get(cmd[0] if cmd else "")
    if not check(plane == name, "%s: runs %r" % (where, cmd)):
        continue
    check(bool(svc.get("stop_grace_period")), "%s: no stop_grace_period for the drain" % where)
    dep = svc.get("depends_on") or {}
    check(isinstance(dep, dict) and
          dep.get("migrate", {}).get("condition") == "service_completed_successfully",
          "%s: must wait for migrate to complete" % where)
    port = expected_port(plane, env, where)
    hc = svc.get("healthcheck") or {}
    test = " ".join(hc.get("test", [])) if isinstance(hc.get("test"), list) else str(hc.get("test"))
    m = re.search(r"http://(127\.0\.0\.1|localhost):([0-9]+)(/[A-Za-z0-9_/]*)", test)
    if check(m is not None, "%s: no HTTP healthcheck" % where):
        check(int(m.group(2)) == port,
              "%s: healthcheck port %s, the daemon listens on %s" % (where, m.group(2), port))
        check(m.group(3) == "/readyz" and m.group(3) in SERVED[plane],
              "%s: healthcheck path %s is not /readyz" % (where, m.group(3)))
    ports = svc.get("ports") or []
    if plane in ("reason", "act"):
        check(not ports, "%s: reason and act publish no host port" % where)
    else:
        for p in ports:
            host, _, cport = str(p).rpartition(":")
            check(cport.split("/")[0] == str(port),
                  "%s: publishes container port %s, ingest listens on %s" % (where, cport, port))
            check(host == "" or "-" in host.split(":")[-1] or "${" in host,
                  "%s: a fixed host port (%s) prevents --scale" % (where, host))

redis_cmd = " ".join(cmd_of(services.get("redis", {})))
check("--appendonly yes" in redis_cmd, "compose redis: AOF is not on (%s)" % redis_cmd)
for name in ("redis", "postgres"):
    check(bool(services.get(name, {}).get("healthcheck")), "compose %s: no healthcheck" % name)

# ------------------------------------------------------------------- helm

def render(*sets):
    try:
        out = helm_render.render_chart(CHART, sets, release="rel", namespace="ns")
    except helm_render.RenderError as e:
        failures.append("helm render %s: %s" % (" ".join(sets) or "(defaults)", e))
        return []
    docs = []
    for src, text in out:
        try:
            for d in yaml.safe_load_all(text):
                if d is not None:
                    d["__source"] = src
                    docs.append(d)
        except yaml.YAMLError as e:
            failures.append("%s does not render to YAML: %s" % (src, e))
    return docs


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def check_chart(docs, label, keda_on, existing_secret=None, hpa=("ingest", "reason", "act")):
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    cms = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d for d in by_kind(docs, "Secret")}
    deps = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    plane_dep = {}
    for cm in cms.values():
        data = cm.get("data") or {}
        for k, v in data.items():
            check(isinstance(v, str), "%s ConfigMap %s: %s is not a string" % (label,
                  cm["metadata"]["name"], k))
    if existing_secret:
        check(not secrets, "%s: no Secret may be rendered with existingSecret" % label)

    def pod_env(pod, where):
        env = dict(IMAGE_ENV)
        c = pod["containers"][0]
        for ef in c.get("envFrom", []):
            if "configMapRef" in ef:
                n = ef["configMapRef"]["name"]
                if check(n in cms, "%s: envFrom ConfigMap %s is not rendered" % (where, n)):
                    check_env_names(cms[n].get("data") or {}, "%s ConfigMap %s" % (where, n))
                    env.update(cms[n].get("data") or {})
            else:
                check(False, "%s: envFrom %r is not checked by this test" % (where, ef))
        for e in c.get("env", []):
            check_env_names([e["name"]], where)
            if "value" in e:
                env[e["name"]] = str(e["value"])
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                if existing_secret:
                    check(ref["name"] == existing_secret, "%s: %s reads Secret %s, not %s"
                          % (where, e["name"], ref["name"], existing_secret))
                elif check(ref["name"] in secrets, "%s: Secret %s is not rendered"
                           % (where, ref["name"])):
                    check(ref["key"] in (secrets[ref["name"]].get("stringData") or {}),
                          "%s: Secret %s has no key %s" % (where, ref["name"], ref["key"]))
        return env

    def nonroot(pod, c, where):
        psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
        check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
              "%s: runAsNonRoot is not true" % where)
        check(csc.get("runAsUser", psc.get("runAsUser", 1)) != 0, "%s: runs as uid 0" % where)
        check(csc.get("allowPrivilegeEscalation") is False,
              "%s: allowPrivilegeEscalation is not false" % where)

    for name, d in deps.items():
        where = "%s Deployment %s" % (label, name)
        pod = d["spec"]["template"]["spec"]
        c = pod["containers"][0]
        plane = PLANE_OF.get((c.get("command") or [""])[0])
        if not check(plane is not None, "%s: runs %r, not a plane" % (where, c.get("command"))):
            continue
        check(plane not in plane_dep, "%s: a second Deployment for %s" % (where, plane))
        plane_dep[plane] = name
        check(d["metadata"]["labels"].get("app.kubernetes.io/component") == plane,
              "%s: component label is not %s" % (where, plane))
        env = pod_env(pod, where)
        port = expected_port(plane, env, where)
        cports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            pr = c.get(kind)
            if not check(pr is not None and "httpGet" in pr, "%s: no %s" % (where, kind)):
                continue
            hg = pr["httpGet"]
            check(hg.get("path") == path and hg.get("path") in SERVED[plane],
                  "%s: %s path %s, want %s (served by %s)" % (where, kind, hg.get("path"),
                                                             path, plane))
            p = hg.get("port")
            p = cports.get(p) if isinstance(p, str) else p
            check(p == port, "%s: %s port %s, the daemon listens on %s" % (where, kind,
                  hg.get("port"), port))
        check(port in cports.values(), "%s: containerPort %s not declared" % (where, port))
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                check(r in (res.get(part) or {}), "%s: no %s.%s" % (where, part, r))
        nonroot(pod, c, where)
        check(isinstance(pod.get("terminationGracePeriodSeconds"), int),
              "%s: no terminationGracePeriodSeconds" % where)
        sel = d["spec"]["selector"]["matchLabels"]
        tl = d["spec"]["template"]["metadata"]["labels"]
        check(all(tl.get(k) == v for k, v in sel.items()), "%s: selector misses its pods" % where)
    check(set(plane_dep) == {"ingest", "reason", "act"},
          "%s: want one Deployment per plane, got %s" % (label, sorted(plane_dep)))

    # The Service: ingest only, on the container's port.
    svcs = by_kind(docs, "Service")
    check(len(svcs) == 1, "%s: want one Service (ingest), got %d" % (label, len(svcs)))
    for s in svcs:
        dep = deps.get(plane_dep.get("ingest"))
        if dep is None:
            continue
        tl = dep["spec"]["template"]["metadata"]["labels"]
        check(all(tl.get(k) == v for k, v in s["spec"]["selector"].items()),
              "%s Service %s does not select ingest's pods" % (label, s["metadata"]["name"]))
        c = dep["spec"]["template"]["spec"]["containers"][0]
        cports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        for sp in s["spec"]["ports"]:
            tp = sp.get("targetPort")
            check((cports.get(tp) if isinstance(tp, str) else tp) in cports.values(),
                  "%s Service: targetPort %s is not an ingest container port" % (label, tp))

    # Autoscaling.
    scaled = {}
    for h in by_kind(docs, "HorizontalPodAutoscaler"):
        where = "%s HPA %s" % (label, h["metadata"]["name"])
        check(h["apiVersion"] == "autoscaling/v2", "%s: not autoscaling/v2" % where)
        ref = h["spec"]["scaleTargetRef"]
        target = deps.get(ref.get("name"))
        if check(ref.get("kind") == "Deployment" and target is not None,
                 "%s: targets %s, not a rendered Deployment" % (where, ref)):
            check(h["metadata"]["labels"].get("app.kubernetes.io/component") ==
                  target["metadata"]["labels"].get("app.kubernetes.io/component"),
                  "%s: targets another plane's Deployment (%s)" % (where, ref["name"]))
            scaled.setdefault(ref["name"], []).append("HPA")
        check(any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
                  for m in h["spec"].get("metrics", [])), "%s: no CPU metric" % where)
        check(h["spec"]["minReplicas"] <= h["spec"]["maxReplicas"], "%s: min > max" % where)
    sos = by_kind(docs, "ScaledObject")
    want_hpa = sorted(plane_dep[p] for p in hpa if p in plane_dep)
    if not keda_on:
        check(not sos, "%s: KEDA ScaledObjects rendered with keda.enabled=false" % label)
        check(sorted(scaled) == want_hpa, "%s: CPU HPAs for %s, want %s"
              % (label, sorted(scaled), want_hpa))
    else:
        check(len(sos) == 2, "%s: want 2 ScaledObjects with keda.enabled, got %d"
              % (label, len(sos)))
        for so in sos:
            where = "%s ScaledObject %s" % (label, so["metadata"]["name"])
            ref = so["spec"]["scaleTargetRef"]["name"]
            plane = next((p for p, n in plane_dep.items() if n == ref), None)
            if not check(plane in ("reason", "act"), "%s: targets %s" % (where, ref)):
                continue
            check(so["metadata"]["labels"].get("app.kubernetes.io/component") == plane,
                  "%s: labelled for another plane" % where)
            scaled.setdefault(ref, []).append("KEDA")
            rs = [t for t in so["spec"]["triggers"] if t["type"] == "redis-streams"]
            if check(len(rs) == 1, "%s: want one redis-streams trigger" % where):
                md = rs[0]["metadata"]
                check((md.get("stream"), md.get("consumerGroup")) == WANT_KEDA[plane],
                      "%s: scales on %s/%s, want %s" % (where, md.get("stream"),
                                                      md.get("consumerGroup"), WANT_KEDA[plane]))
                check(str(md.get("pendingEntriesCount", "")).isdigit(),
                      "%s: pendingEntriesCount is not a number" % where)
                check(addr_port(md.get("address")) is not None,
                      "%s: address is not host:port" % where)
        for ref, who in scaled.items():
            check(len(who) == 1, "%s: %s is scaled by %s at once" % (label, ref, who))
    # An autoscaled Deployment leaves replicas to its scaler (an upgrade
    # would otherwise reset them).
    for ref, d in deps.items():
        if ref in scaled:
            check("replicas" not in d["spec"], "%s Deployment %s: sets replicas and is "
                  "autoscaled" % (label, ref))
        else:
            check(isinstance(d["spec"].get("replicas"), int), "%s Deployment %s: neither "
                  "autoscaled nor given replicas" % (label, ref))

    # The migration hook.
    jobs = by_kind(docs, "Job")
    check(len(jobs) == 1, "%s: want one migration Job" % label)
    for j in jobs:
        where = "%s Job %s" % (label, j["metadata"]["name"])
        ann = j["metadata"].get("annotations") or {}
        hooks = set(str(ann.get("helm.sh/hook", "")).split(","))
        check({"pre-install", "pre-upgrade"} <= hooks, "%s: not a pre-install/pre-upgrade hook"
              % where)
        pod = j["spec"]["template"]["spec"]
        c = pod["containers"][0]
        check(c.get("command") == ["alexusctl", "migrate"], "%s: runs %r" % (where,
              c.get("command")))
        pod_env(pod, where)
        nonroot(pod, c, where)
        weight = int(ann.get("helm.sh/hook-weight", "0"))
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref and not existing_secret and ref["name"] in secrets:
                sa = secrets[ref["name"]]["metadata"].get("annotations") or {}
                check("pre-install" in str(sa.get("helm.sh/hook", "")) and
                      int(sa.get("helm.sh/hook-weight", "0")) < weight,
                      "%s: Secret %s would not exist yet when the hook runs" % (where,
                                                                             ref["name"]))
    return names


base = render()
check(len(base) > 0, "the chart rendered nothing")
check_chart(base, "defaults", keda_on=False)
check_chart(render("keda.enabled=true"), "keda.enabled", keda_on=True)
check_chart(render("secrets.existingSecret=ops-alexus"), "existingSecret", keda_on=False,
            existing_secret="ops-alexus")
check_chart(render("ingest.autoscaling.enabled=false", "reason.autoscaling.enabled=false",
                   "act.autoscaling.enabled=false"), "no autoscaling", keda_on=False, hpa=())
check_chart(render("keda.enabled=true", "reason.autoscaling.enabled=false",
                   "act.autoscaling.enabled=false"), "keda without HPAs", keda_on=True)

# The renderer refuses what it does not implement (or the subset would be
# a promise it does not keep).
for bad in ('{{ range .Values.x }}{{ end }}', '{{ include "x" . }}', '{{ .Values.nope }}',
            '{{ .Values.image | b64enc }}', '{{ if .Values.keda.enabled }}',
            '{{ .Values.image }}', '{{ $x := 1 }}'):
    try:
        ctx = helm_render.Ctx(yaml.safe_load(read("deploy/helm/alexus/values.yaml")),
                              "rel", "ns", {"name": "alexus"})
        helm_render.render_text("probe", bad, ctx)
        check(False, "helm_render accepted %r" % bad)
    except helm_render.RenderError:
        check(True, "")
r = subprocess.run([sys.executable, os.path.join(ROOT, "tests/tools/helm_render.py"), CHART],
                   capture_output=True, text=True)
check(r.returncode == 0 and "kind: Deployment" in r.stdout,
      "helm_render.py CLI failed: %s" % r.stderr.strip())

# ------------------------------------------------ values.yaml documented


def leaves(v, prefix=""):
    if isinstance(v, dict) and v:
        for k, x in v.items():
            yield from leaves(x, prefix + "." + k if prefix else k)
    else:
        yield prefix


values = yaml.safe_load(read("deploy/helm/alexus/values.yaml"))
readme = read("deploy/helm/alexus/README.md")
documented = set(re.findall(r"^\|\s*`([A-Za-z0-9_.]+)`", readme, re.M))
for leaf in leaves(values):
    covered = any(leaf == d or leaf.startswith(d + ".") for d in documented)
    check(covered, "values.yaml %s is not in the chart README's values table" % leaf)

for f in failures:
    print("FAIL: %s" % f)
print("deploy_manifests: %d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
PY
