#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every Documentation/*.rst parses with docutils without an error or a
# warning (a malformed table, a broken list), Sphinx's own roles and
# directives (:doc:, toctree, kernel-doc's c: domain) taken as known.
# Prints "ok ..." or "FAIL ..." per file; exits non-zero on a failure.
top=$(cd "$(dirname "$0")/.." && pwd)
exec /usr/bin/python3 - "$top"/Documentation/*.rst <<'PY'
import sys
import docutils.core
from docutils.parsers.rst import directives, roles, Directive


class Ignored(Directive):
    has_content = True
    optional_arguments = 10
    final_argument_whitespace = True
    option_spec = None

    def run(self):
        return []


def role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [], []


for r in ("doc", "ref", "c:func", "c:type", "c:macro", "c:struct", "c:enum", "c:member"):
    roles.register_local_role(r, role)
for d in ("toctree", "c:function", "c:struct", "c:enum", "c:macro", "c:type", "c:member"):
    directives.register_directive(d, Ignored)
rc = 0
for path in sys.argv[1:]:
    errs = []

    class Stream:
        def write(self, s):
            errs.append(s)

    docutils.core.publish_doctree(open(path).read(), source_path=path,
                                  settings_overrides={"report_level": 2, "halt_level": 5,
                                                      "warning_stream": Stream()})
    name = path.split("/Documentation/")[-1]
    if errs:
        rc = 1
        print("FAIL %s: %s" % (name, "".join(errs).strip().splitlines()[0]))
    else:
        print("ok %s parses clean (docutils)" % name)
sys.exit(rc)
PY
