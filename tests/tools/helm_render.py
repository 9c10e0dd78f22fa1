#!/usr/bin/env python3
# tests/tools/helm_render.py - render deploy/helm/alexus without helm.
#
# Neither helm nor a cluster is available where the tests run, so this
# renders the chart's templates with exactly the Go-template subset they
# use, and fails loudly (exit 1, file:line) on anything else, so a
# template that needs more than this cannot pass unnoticed.  The subset
# (also listed in deploy/helm/alexus/README.md):
#
#   {{ PIPELINE }}            value of the pipeline, printed
#   {{- ... }} / {{ ... -}}   trim whitespace (newlines too) before / after
#   {{/* comment */}}         nothing
#   {{ if COND }} ... {{ else }} ... {{ end }}
#                             COND is PATH or `not PATH`; Go truthiness
#                             (false, 0, "", empty map or list, nil)
#   PATH                      .Values.a.b.c, .Release.Name, .Release.Namespace,
#                             .Chart.Name, .Chart.Version, .Chart.AppVersion
#   literals                  "string", integers, true, false
#   functions                 quote X, toYaml X, nindent N X, indent N X,
#                             default D X, each usable as `X | fn args`
#
# Stricter than helm on purpose: a PATH that names no value is an error
# (helm prints nothing), and printing a map or a list without toYaml is an
# error.  toYaml sorts keys as helm's does.
#
# Usage: helm_render.py CHART [--release NAME] [--namespace NS]
#                             [--set a.b=VALUE ...]     (VALUE read as YAML)
# Prints every rendered document as `helm template` does (a "---" line
# and a "# Source:" comment before each template's output).  As a module:
# render_chart(chart_dir, sets, release, namespace) -> [(source, text)].
import os
import re
import sys

import yaml


class RenderError(Exception):
    pass


TOKEN = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
PATH_RE = re.compile(r"^\.(Values|Release|Chart)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)$")
FUNCS = {"quote": 1, "toYaml": 1, "nindent": 2, "indent": 2, "default": 2}
RELEASE_KEYS = {"Name", "Namespace", "Service"}
CHART_KEYS = {"Name": "name", "Version": "version", "AppVersion": "appVersion"}


def _where(src, text, pos):
    return "%s:%d" % (src, text.count("\n", 0, pos) + 1)


def _tokenize(src, text):
    """Text and action tokens, with the trim markers applied."""
    out = []
    pos = 0
    for m in TOKEN.finditer(text):
        lit = text[pos:m.start()]
        if m.group(1):
            lit = lit.rstrip(" \t\r\n")
        if out and out[-1][0] == "trim-next":
            out.pop()
            lit = lit.lstrip(" \t\r\n")
        out.append(("text", lit, None))
        body = m.group(2).strip()
        out.append(("action", body, _where(src, text, m.start())))
        if m.group(3):
            out.append(("trim-next", None, None))
        pos = m.end()
    lit = text[pos:]
    if out and out[-1][0] == "trim-next":
        out.pop()
        lit = lit.lstrip(" \t\r\n")
    out.append(("text", lit, None))
    return out


def _parse(tokens):
    """Nested list of ("text", s) / ("expr", s, where) / ("if", cond, where, then, else)."""
    root = []
    stack = [(root, None)]  # (list being filled, if-node or None)
    for kind, body, where in tokens:
        cur = stack[-1][0]
        if kind == "text":
            if body:
                cur.append(("text", body))
            continue
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise RenderError("%s: unterminated comment" % where)
            continue
        word = body.split(None, 1)[0] if body else ""
        if word == "if":
            node = ["if", body[2:].strip(), where, [], []]
            cur.append(node)
            stack.append((node[3], node))
        elif word == "else":
            if body != "else":
                raise RenderError("%s: '%s' is outside the supported subset (only a bare else)"
                                  % (where, body))
            if stack[-1][1] is None or stack[-1][0] is stack[-1][1][4]:
                raise RenderError("%s: else without if" % where)
            node = stack.pop()[1]
            stack.append((node[4], node))
        elif word == "end":
            if body != "end" or stack[-1][1] is None:
                raise RenderError("%s: end without if" % where)
            stack.pop()
        elif word in ("range", "with", "define", "template", "include", "block", "tpl",
                      "required", "printf", "print") or body.startswith("$") or ":=" in body:
            raise RenderError("%s: '%s' is outside the supported subset" % (where, body))
        else:
            cur.append(("expr", body, where))
    if len(stack) != 1:
        raise RenderError("%s: if without end" % stack[-1][1][2])
    return root


def _truthy(v):
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return True


def _split_args(s, where):
    """Whitespace-separated words, keeping "quoted strings" whole."""
    out = []
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|\S+', s):
        out.append(m.group(0))
    if not out:
        raise RenderError("%s: empty command" % where)
    return out


class Ctx:
    def __init__(self, values, release, namespace, chart):
        self.values = values
        self.release = {"Name": release, "Namespace": namespace, "Service": "Helm"}
        self.chart = chart

    def path(self, p, where):
        m = PATH_RE.match(p)
        if not m:
            raise RenderError("%s: '%s' is not a supported value path" % (where, p))
        root, rest = m.group(1), [k for k in m.group(2).split(".") if k]
        if root == "Release":
            if len(rest) != 1 or rest[0] not in RELEASE_KEYS:
                raise RenderError("%s: unsupported %s" % (where, p))
            return self.release[rest[0]]
        if root == "Chart":
            if len(rest) != 1 or rest[0] not in CHART_KEYS:
                raise RenderError("%s: unsupported %s" % (where, p))
            if CHART_KEYS[rest[0]] not in self.chart:
                raise RenderError("%s: Chart.yaml has no %s" % (where, CHART_KEYS[rest[0]]))
            return self.chart[CHART_KEYS[rest[0]]]
        v = self.values
        for k in rest:
            if not isinstance(v, dict) or k not in v:
                raise RenderError("%s: %s names no value (values.yaml lacks it)" % (where, p))
            v = v[k]
        return v

    def operand(self, w, where):
        if w.startswith('"'):
            return yaml.safe_load(w)  # a YAML double-quoted scalar is a Go string literal here
        if re.fullmatch(r"-?[0-9]+", w):
            return int(w)
        if w in ("true", "false"):
            return w == "true"
        if w.startswith("."):
            return self.path(w, where)
        raise RenderError("%s: '%s' is outside the supported subset" % (where, w))


def _to_yaml(v):
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True).rstrip("\n")


def _indent(n, s):
    pad = " " * n
    return "\n".join(pad + line if line else line for line in str(s).split("\n"))


def _call(fn, args, where):
    if fn not in FUNCS:
        raise RenderError("%s: function '%s' is outside the supported subset" % (where, fn))
    if len(args) != FUNCS[fn]:
        raise RenderError("%s: %s takes %d argument(s), got %d" % (where, fn, FUNCS[fn], len(args)))
    if fn == "quote":
        return '"' + _fmt(args[0], where, quoting=True).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if fn == "toYaml":
        return _to_yaml(args[0])
    if fn in ("nindent", "indent"):
        if not isinstance(args[0], int):
            raise RenderError("%s: %s wants a number first" % (where, fn))
        s = _indent(args[0], args[1])
        return "\n" + s if fn == "nindent" else s
    if fn == "default":
        return args[1] if _truthy(args[1]) else args[0]
    raise RenderError("%s: %s" % (where, fn))


def _fmt(v, where, quoting=False):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        raise RenderError("%s: prints a nil value" % where)
    if isinstance(v, (dict, list)):
        raise RenderError("%s: prints a map or list without toYaml" % where)
    return str(v)


def _pipeline(ctx, body, where):
    stages = [s.strip() for s in body.split("|")]
    val = None
    for i, st in enumerate(stages):
        words = _split_args(st, where)
        if words[0] in FUNCS:
            args = [ctx.operand(w, where) for w in words[1:]]
            if i > 0:
                args.append(val)
            val = _call(words[0], args, where)
        elif i == 0 and len(words) == 1:
            val = ctx.operand(words[0], where)
        else:
            raise RenderError("%s: '%s' is outside the supported subset" % (where, st))
    return val


def _cond(ctx, c, where):
    words = c.split()
    if len(words) == 1:
        return _truthy(ctx.path(words[0], where))
    if len(words) == 2 and words[0] == "not":
        return not _truthy(ctx.path(words[1], where))
    raise RenderError("%s: condition '%s' is outside the supported subset" % (where, c))


def _exec(ctx, nodes, out):
    for n in nodes:
        if n[0] == "text":
            out.append(n[1])
        elif n[0] == "expr":
            out.append(_fmt(_pipeline(ctx, n[1], n[2]), n[2]))
        else:
            _exec(ctx, n[3] if _cond(ctx, n[1], n[2]) else n[4], out)


def render_text(src, text, ctx):
    out = []
    _exec(ctx, _parse(_tokenize(src, text)), out)
    return "".join(out)


def _set(values, dotted, raw):
    keys = dotted.split(".")
    v = values
    for k in keys[:-1]:
        if not isinstance(v.get(k), dict):
            raise RenderError("--set %s: %s is not a map in values.yaml" % (dotted, k))
        v = v[k]
    if keys[-1] not in v:
        raise RenderError("--set %s: values.yaml has no such key" % dotted)
    v[keys[-1]] = yaml.safe_load(raw) if raw != "" else ""


def render_chart(chart_dir, sets=(), release="alexus", namespace="default"):
    with open(os.path.join(chart_dir, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    with open(os.path.join(chart_dir, "values.yaml")) as f:
        values = yaml.safe_load(f)
    for s in sets:
        if "=" not in s:
            raise RenderError("--set %s: want path=value" % s)
        k, v = s.split("=", 1)
        _set(values, k, v)
    ctx = Ctx(values, release, namespace, chart)
    tdir = os.path.join(chart_dir, "templates")
    out = []
    for name in sorted(os.listdir(tdir)):
        path = os.path.join(tdir, name)
        src = "%s/templates/%s" % (chart.get("name", "chart"), name)
        if name.startswith("_") or not name.endswith((".yaml", ".yml")):
            raise RenderError("%s: only plain *.yaml templates are supported" % src)
        with open(path) as f:
            out.append((src, render_text(src, f.read(), ctx)))
    return out


def main(argv):
    sets, release, namespace, chart = [], "alexus", "default", None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--set", "--release", "--namespace") and i + 1 < len(argv):
            if a == "--set":
                sets.append(argv[i + 1])
            elif a == "--release":
                release = argv[i + 1]
            else:
                namespace = argv[i + 1]
            i += 2
        elif chart is None and not a.startswith("-"):
            chart = a
            i += 1
        else:
            sys.stderr.write("usage: helm_render.py CHART [--release N] [--namespace NS] "
                             "[--set a.b=v ...]\n")
            return 2
    if chart is None:
        sys.stderr.write("helm_render.py: no chart given\n")
        return 2
    try:
        docs = render_chart(chart, sets, release, namespace)
    except (RenderError, OSError, yaml.YAMLError) as e:
        sys.stderr.write("helm_render.py: %s\n" % e)
        return 1
    for src, text in docs:
        sys.stdout.write("---\n# Source: %s\n%s\n" % (src, text.strip("\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
