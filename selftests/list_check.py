#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""list_test's check of `layoutlease list|info --json` output (glue).

  list_check.py SCHEMA OUTPUT EXPECTED

OUTPUT must be valid JSON that SCHEMA (Documentation/
layoutlease-list.schema.json) accepts, and hold every lease of EXPECTED
({"leases": [...], "absent": [ids]}): a lease of OUTPUT with the same id whose
members include the expected ones (lists: every expected element matches
one element; {"$type": "int"} matches any integer); no lease of OUTPUT has
an id of "absent"; and OUTPUT includes "match" the same way.  Exit 0 or 1, with
the reason on stderr.
"""
import json
import sys

import jsonschema


def matches(want, got):
    # {"$type": "int"}: any integer (not a boolean).
    if isinstance(want, dict) and list(want) == ["$type"]:
        return want["$type"] == "int" and type(got) is int
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in got and matches(v, got[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and all(
            any(matches(w, g) for g in got) for w in want)
    return want == got and type(want) is type(got)


def main():
    schema = json.load(open(sys.argv[1]))
    try:
        out = json.load(open(sys.argv[2]))
    except ValueError as e:
        sys.exit("not JSON: %s" % e)
    want = json.load(open(sys.argv[3]))
    try:
        jsonschema.validate(out, schema,
                            cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError as e:
        sys.exit("schema: %s at %s" % (e.message, list(e.absolute_path)))
    if "match" in want and not matches(want["match"], out):
        sys.exit("want %s, got %s" % (json.dumps(want["match"]), json.dumps(out)))
    by_id = {lease["id"]: lease for lease in out.get("leases", [])}
    for w in want.get("leases", []):
        got = by_id.get(w["id"])
        if got is None:
            sys.exit("lease %d not listed" % w["id"])
        if not matches(w, got):
            sys.exit("lease %d: want %s, got %s" % (w["id"], json.dumps(w),
                                                  json.dumps(got)))
    for i in want.get("absent", []):
        if i in by_id:
            sys.exit("lease %d still listed" % i)


main()
