"""One plain line about a conformance run, so that the suite's "N failed" reads as what it is.

Usage: python scripts/conformance_summary.py REVISION BASELINE OUTPUT EXIT_CODE
  REVISION   the --requirements revision, e.g. 2025-11-25
  BASELINE   the --expected-failures file the run was given
  OUTPUT     the suite's output, saved
  EXIT_CODE  the suite's exit code: 0 when every failure is expected and no baseline entry is stale

The suite's total counts failed checks in every scenario it ran: the fixtures that smsai-mcp has no reason to have
(listed in the baseline) and scenarios that the revision does not score (extensions, pending ones). This line says
how many are which. Exits with EXIT_CODE.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SCENARIO_LINE = re.compile(r"^[✓✗] (\S+): (\d+) passed, (\d+) failed", re.MULTILINE)
TOTAL_LINE = re.compile(r"^Total: (\d+) passed, (\d+) failed", re.MULTILINE)
SECTIONS = {
    "expected": "Expected failures (in baseline):",
    "stale": "Stale baseline entries",
    "unexpected": "Unexpected failures (not in baseline):",
}


def section(text: str, heading: str) -> list[str]:
    """The entries listed under a heading of the suite's baseline report ("  ~ name", "  ✗ name", "  ✓ name")."""
    start = text.find(heading)
    if start == -1:
        return []
    entries: list[str] = []
    for line in text[start:].splitlines()[1:]:
        match = re.match(r"^  [~✓✗] (\S+)$", line)
        if not match:
            break
        entries.append(match.group(1))
    return entries


def summarise(revision: str, baseline: str, text: str, exit_code: int) -> str:
    text = ANSI.sub("", text)
    total = TOTAL_LINE.search(text)
    if total is None:
        return f"{revision}: the suite stopped before its summary (exit {exit_code}); its output is above."
    passed, failed = int(total.group(1)), int(total.group(2))
    failed_by_scenario = {name: int(fails) for name, _, fails in SCENARIO_LINE.findall(text)}
    listed = {name: section(text, heading) for name, heading in SECTIONS.items()}
    if exit_code != 0:
        problems = []
        if listed["unexpected"]:
            problems.append(f"unexpected failures, not in {baseline}: {', '.join(listed['unexpected'])}")
        if listed["stale"]:
            problems.append(f"entries of {baseline} that now pass (remove them): {', '.join(listed['stale'])}")
        found = "; ".join(problems) or f"the suite exited {exit_code}"
        return f"{revision}: FAILED: {found}. The suite's output is above."
    expected_scenarios = {entry.split(":", 1)[0] for entry in listed["expected"]}
    in_baseline = sum(fails for name, fails in failed_by_scenario.items() if name in expected_scenarios)
    not_scored = [name for name, fails in failed_by_scenario.items() if fails and name not in expected_scenarios]
    line = f"{revision}: passed, the baseline check found nothing unexpected. {passed} checks passed"
    if failed == 0:
        return line + ", none failed."
    line += (
        f"; the {failed} failed checks are expected: {in_baseline} in the scenarios listed in {baseline} "
        "(fixtures of the SDK's test server that smsai-mcp has no reason to have, each with its reason there)"
    )
    if not_scored:
        line += f" and {failed - in_baseline} in scenarios that {revision} does not score ({', '.join(not_scored)})"
    return line + "."


def main(argv: list[str]) -> int:
    revision, baseline, output, exit_code = argv
    text = Path(output).read_text(encoding="utf-8", errors="replace")
    sys.stdout.write(summarise(revision, baseline, text, int(exit_code)) + "\n")
    return int(exit_code)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
