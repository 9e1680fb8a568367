"""`smsai-mcp doctor` says whether sending would work, and what to fix when it would not."""

from __future__ import annotations

import io
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from smsai_mcp.config import Settings
from smsai_mcp.doctor import run_doctor
from smsai_mcp.sandbox import SANDBOX_READONLY_TOKEN
from tests.processes import SERVER, server_env


@pytest.mark.slow
def test_doctor_passes_on_the_sandbox(tmp_path: Path) -> None:
    completed = subprocess.run(
        [*SERVER, "doctor", "--sandbox"],
        env=server_env({"SMSAI_STATE_DIR": str(tmp_path)}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "sms:send" in completed.stdout
    assert "sending would work" in completed.stdout


def test_doctor_fails_without_a_token() -> None:
    out = io.StringIO()
    assert run_doctor(Settings(), out=out) == 1
    assert "SMSAI_API_TOKEN is not set" in out.getvalue()


def test_doctor_fails_on_a_bad_token(sandbox_url: str) -> None:
    out = io.StringIO()
    settings = Settings(api_token=SecretStr("smsai_not_a_real_one"), base_url=sandbox_url)
    assert run_doctor(settings, out=out) == 1
    assert "401" in out.getvalue()
    assert "smsai_not_a_real_one" not in out.getvalue()


def test_doctor_fails_when_the_token_cannot_send(sandbox_url: str) -> None:
    out = io.StringIO()
    settings = Settings(api_token=SecretStr(SANDBOX_READONLY_TOKEN), base_url=sandbox_url)
    assert run_doctor(settings, out=out) == 1
    assert "lacks the sms:send permission" in out.getvalue()


@pytest.mark.parametrize(
    ("update", "says"),
    [
        ({"daily_budget_usd": Decimal("0")}, "today's budget is used up"),
        ({"max_cost_per_message_usd": Decimal("0.001")}, "below the cheapest price"),
        ({"allowed_countries": frozenset({"ZW"})}, "no country in the price list is allowed"),
    ],
)
def test_doctor_fails_when_the_guard_would_refuse_every_message(
    sandbox_url: str, tmp_path: Path, update: dict[str, object], says: str
) -> None:
    out = io.StringIO()
    settings = Settings(api_token=SecretStr("smsai_sandbox"), base_url=sandbox_url, state_dir=tmp_path, **update)
    assert run_doctor(settings, out=out) == 1
    assert says in out.getvalue()


@pytest.mark.slow
def test_doctor_takes_sandbox_before_or_after_the_command(tmp_path: Path) -> None:
    for arguments in (["--sandbox", "doctor"], ["doctor", "--sandbox"]):
        completed = subprocess.run(
            [*SERVER, *arguments],
            env=server_env({"SMSAI_STATE_DIR": str(tmp_path)}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, (arguments, completed.stdout)


@pytest.mark.slow  # starts the doctor as a process
def test_doctor_reports_an_unreachable_state_store_as_a_fail_line_not_a_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [*SERVER, "doctor", "--sandbox"],
        env=server_env({"SMSAI_STATE_DIR": str(tmp_path), "SMSAI_STATE_URL": "redis://:pw-hunter2@127.0.0.1:1/0"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    [line] = [line for line in completed.stdout.splitlines() if "state store" in line]
    assert line.startswith("FAIL"), completed.stdout
    assert "SMSAI_STATE_URL" in line
    assert "Traceback" not in completed.stderr
    assert "pw-hunter2" not in completed.stdout + completed.stderr


@pytest.mark.slow  # starts the doctor as a process
def test_doctor_sandbox_with_a_bad_sandbox_variable_names_it_in_one_line_not_a_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [*SERVER, "doctor", "--sandbox"],
        env=server_env({"SMSAI_STATE_DIR": str(tmp_path), "SMSAI_SANDBOX_CREDITS_USD": "lots"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    assert line.startswith("smsai-mcp: invalid configuration: SMSAI_SANDBOX_CREDITS_USD"), line
    assert "Traceback" not in completed.stderr
