#!/usr/bin/env python3
# ci.yml's "Test results" step: summarises pytest's JUnit XML reports (the arguments, one per
# suite) in the job summary: counts per suite and the failed tests. A suite whose report is
# missing (it never ran) says so.

import os
import sys
import xml.etree.ElementTree as ET

print("### Test results")
print("")
print("| suite | tests | failed | errors | skipped | seconds |")
print("| --- | --- | --- | --- | --- | --- |")
failed = []
for path in sys.argv[1:]:
    suite = os.path.splitext(os.path.basename(path))[0]
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print("| %s | not run (%s) | | | | |" % (suite, type(e).__name__))
        continue
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for s in [root] if root.tag == "testsuite" else root.iter("testsuite"):
        for key in totals:
            totals[key] += type(totals[key])(s.get(key) or 0)
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append("%s::%s" % (case.get("classname"), case.get("name")))
    print(
        "| %s | %d | %d | %d | %d | %.1f |"
        % (suite, totals["tests"], totals["failures"], totals["errors"], totals["skipped"], totals["time"])
    )
if failed:
    print("")
    print("Failed:")
    for name in failed:
        print("- `%s`" % name)
