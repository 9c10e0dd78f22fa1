"""contracts.py - what the planes really wrote matches proto/'s JSON Schemas.

Run by tests/e2e/contracts.sh after the unit and integration tests, on the
test stack they used.  The schemas in proto/ are the contract between the
planes (DESIGN.md: "proto/ documents each kind with a JSON example and a
JSON Schema"); nothing else checks them against the code, so they drift.
This checks three things, with Debian's python3-jsonschema (draft 2020-12):

  1. each proto/*.example.json against its schema;
  2. every signal `alexus-ingest --normalize` makes of every webhook
     fixture under tests/fixtures/ (webhooks/ and profiles/) against
     signal.schema.json -- fixtures named bad-* are refused by design;
  3. every actions.payload the integration tests left in the database
     (notify -> action.schema.json, remediate -> remediate.schema.json),
     except rows a test inserted by hand (they carry the fixed trace
     0123456789abcdef0123456789abcdef or no action_id).

Prints one line per failure (the document, the JSON pointer, the message)
and a summary; exit 1 on any failure. """
import glob
import json
import os
import subprocess
import sys

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(ROOT)
HANDMADE_TRACE = "0123456789abcdef0123456789abcdef"


def validator(name):
    with open(os.path.join("proto", name)) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


SCHEMAS = {k: validator(k + ".schema.json") for k in ("signal", "action", "remediate")}
failures = 0
checked = {"examples": 0, "signals": 0, "notify": 0, "remediate": 0}


SHOWN_MAX = 20   # failures printed in full; the rest are only counted


def check(kind, doc, where):
    global failures
    errs = sorted(SCHEMAS[kind].iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errs and failures < SHOWN_MAX:
        for e in errs[:3]:
            ptr = "/" + "/".join(str(p) for p in e.absolute_path)
            print("FAIL %s: %s: %s" % (where, ptr, e.message[:300]))
    failures += 1 if errs else 0


# 1. the examples
for kind in SCHEMAS:
    with open("proto/%s.example.json" % kind) as f:
        check(kind, json.load(f), "proto/%s.example.json" % kind)
    checked["examples"] += 1

# 2. the normalizer over every fixture
ingest = os.path.join(os.environ.get("ALEXUS_BIN_DIR", "bin"), "alexus-ingest")
fixtures = sorted(glob.glob("tests/fixtures/webhooks/*.json") +
                  glob.glob("tests/fixtures/profiles/**/*.json", recursive=True))
for path in fixtures:
    if os.path.basename(path).startswith("bad-"):
        continue
    p = subprocess.run([ingest, "--normalize", path], capture_output=True, text=True)
    if p.returncode != 0:
        continue  # not a payload (a profile's expectation file, say): test_drivers owns that
    try:
        signals = json.loads(p.stdout)
    except ValueError as e:
        print("FAIL %s: --normalize printed no JSON: %s" % (path, e))
        failures += 1
        continue
    for i, s in enumerate(signals if isinstance(signals, list) else [signals]):
        check("signal", s, "%s[%d]" % (path, i))
        checked["signals"] += 1

# 3. what the planes wrote during the tests (psql as the stack's owner)
if os.environ.get("PGHOST"):
    sql = ("SELECT coalesce(json_agg(json_build_object('tenant', tenant_id, 'id', id, "
           "'type', type, 'trace', trace, 'payload', payload)), '[]') FROM actions "
           "WHERE type IN ('notify', 'remediate')")
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print("FAIL psql: %s" % p.stderr.strip())
        failures += 1
    else:
        for row in json.loads(p.stdout or "[]"):
            pl = row["payload"]
            if row["trace"] == HANDMADE_TRACE or not isinstance(pl, dict) or "action_id" not in pl:
                continue
            kind = "action" if row["type"] == "notify" else "remediate"
            check(kind, pl, "actions %s/%s (%s)" % (row["tenant"], row["id"], row["type"]))
            checked[row["type"] if row["type"] == "remediate" else "notify"] += 1

print("checked: %d examples, %d signals from %d fixtures, %d notify and %d remediate "
      "payloads; %d failed" % (checked["examples"], checked["signals"], len(fixtures),
                               checked["notify"], checked["remediate"], failures))
sys.exit(1 if failures else 0)
