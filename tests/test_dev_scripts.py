"""The scripts a newcomer meets first: .ci/run and scripts/install-node-tools.sh on a machine without Node, and
scripts/conformance_summary.py, which says what the conformance suite's "N failed" is made of."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDED = Path(__file__).parent / "golden" / "conformance"  # the suite's own output, saved from real runs
BASELINE_2025 = "conformance/expected-failures.2025-11-25.yml"
BASELINE_2026 = "conformance/expected-failures.2026-07-28.yml"


def bare_path(tmp_path: Path, *commands: str) -> str:
    """A PATH holding only the given commands: no node, no npm, no apt-get, no python3."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in commands:
        found = shutil.which(command)
        assert found, command
        (bin_dir / command).symlink_to(found)
    return str(bin_dir)


def run_bash(script: Path, *args: str, path: str, home: Path) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, str(script), *args],
        env={"PATH": path, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def says_npm_is_missing_and_how_to_get_it(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "command not found" not in done.stderr
    assert "npm" in done.stderr
    assert "apt-get install nodejs npm" in done.stderr
    assert "https://nodejs.org" in done.stderr


def test_install_node_tools_without_npm_says_what_is_missing_and_how_to_get_it(tmp_path: Path) -> None:
    prefix = tmp_path / "tools"
    done = run_bash(
        ROOT / "scripts" / "install-node-tools.sh", str(prefix), path=bare_path(tmp_path, "dirname"), home=tmp_path
    )
    says_npm_is_missing_and_how_to_get_it(done)
    assert not prefix.exists(), "nothing is half-installed"


def test_ci_run_on_a_machine_without_node_says_what_is_missing_before_installing_anything(tmp_path: Path) -> None:
    # A copy of the two scripts: if .ci/run went on, its virtual environment would land in the copy.
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    (repo / "scripts").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", repo / ".ci" / "run")
    shutil.copy2(ROOT / "scripts" / "install-node-tools.sh", repo / "scripts" / "install-node-tools.sh")
    done = run_bash(repo / ".ci" / "run", path=bare_path(tmp_path, "dirname", "bash"), home=tmp_path)
    says_npm_is_missing_and_how_to_get_it(done)
    assert sorted(path.name for path in repo.iterdir()) == [".ci", "scripts"], "nothing made, nothing installed"


def summary(revision: str, baseline: str, recorded: str, exit_code: int) -> subprocess.CompletedProcess[str]:
    script = ROOT / "scripts" / "conformance_summary.py"
    return subprocess.run(
        [sys.executable, str(script), revision, baseline, str(RECORDED / recorded), str(exit_code)],
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_conformance_summary_says_the_failures_are_the_expected_fixtures() -> None:
    done = summary("2025-11-25", BASELINE_2025, "2025-11-25.passed.txt", 0)
    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert line.startswith("2025-11-25: passed")
    assert "45 checks passed" in line
    assert "the 23 failed checks are expected: 21 in the scenarios listed in " + BASELINE_2025 in line
    assert "fixtures of the SDK's test server that smsai-mcp has no reason to have" in line
    # The other two fail in scenarios the revision runs but does not score, which the suite's total also counts.
    assert "2 in scenarios that 2025-11-25 does not score (json-schema-2020-12, server-sse-polling)" in line


def test_conformance_summary_counts_every_failed_check_of_2026_07_28() -> None:
    done = summary("2026-07-28", BASELINE_2026, "2026-07-28.passed.txt", 0)
    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert "115 checks passed; the 56 failed checks are expected: 25 in the scenarios listed in" in line
    assert "and 31 in scenarios that 2026-07-28 does not score (tasks-lifecycle," in line


def test_conformance_summary_names_unexpected_failures_and_stale_entries_and_fails() -> None:
    # Recorded with a baseline that lacked tools-call-image and listed tools-list, which passes.
    done = summary("2025-11-25", BASELINE_2025, "2025-11-25.unexpected-and-stale.txt", 1)
    assert done.returncode == 1
    [line] = done.stdout.splitlines()
    assert line.startswith("2025-11-25: FAILED: unexpected failures")
    assert "tools-call-image" in line
    assert "now pass (remove them): tools-list" in line
    assert "are expected" not in line


def test_conformance_summary_says_so_when_the_suite_stops_early(tmp_path: Path) -> None:
    output = tmp_path / "output.txt"
    output.write_text("Server test error: connect ECONNREFUSED 127.0.0.1:9\n", encoding="utf-8")
    done = summary("2026-07-28", BASELINE_2026, str(output), 1)
    assert done.returncode == 1
    assert done.stdout == "2026-07-28: the suite stopped before its summary (exit 1); its output is above.\n"
