"""Configuration: every invalid value is refused at start, naming its variable and never echoing the token."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from smsai_mcp.config import DEFAULT_BASE_URL, ConfigError, Settings
from tests.processes import SERVER, server_env


def test_defaults_match_the_contract() -> None:
    settings = Settings.from_env({})
    assert settings.api_token is None
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.confirm == "auto"
    assert settings.max_cost_per_message_usd == Decimal("1.00")
    assert settings.daily_budget_usd == Decimal("10.00")
    assert settings.max_per_recipient_per_hour == 10
    assert settings.duplicate_window_seconds == 600
    assert settings.read_only is False
    assert settings.content_checks is True
    assert settings.timeout_seconds == 30


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "SMSAI_API_TOKEN": "smsai_abc",
            "SMSAI_BASE_URL": "http://127.0.0.1:8787/api/v1/",
            "SMSAI_CONFIRM": "TOKEN",
            "SMSAI_MAX_COST_PER_MESSAGE_USD": "0.25",
            "SMSAI_DAILY_BUDGET_USD": "3",
            "SMSAI_ALLOWED_COUNTRIES": "us, ca",
            "SMSAI_BLOCKED_COUNTRIES": "RU",
            "SMSAI_ALLOWED_RECIPIENTS": "+1 416 555 0123,+12025551234",
            "SMSAI_MAX_PER_RECIPIENT_PER_HOUR": "2",
            "SMSAI_DUPLICATE_WINDOW_SECONDS": "0",
            "SMSAI_READ_ONLY": "true",
            "SMSAI_CONTENT_CHECKS": "OFF",
            "SMSAI_STATE_DIR": "/tmp/smsai-state",
            "SMSAI_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "smsai_abc"
    assert settings.base_url == "http://127.0.0.1:8787/api/v1"
    assert settings.confirm == "token"
    assert settings.allowed_countries == {"US", "CA"}
    assert settings.blocked_countries == {"RU"}
    assert settings.allowed_recipients == {"+14165550123", "+12025551234"}
    assert settings.read_only is True
    assert settings.content_checks is False
    assert settings.state_dir == Path("/tmp/smsai-state")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMSAI_BASE_URL", "http://api.example.com/api/v1"),
        ("SMSAI_BASE_URL", "ftp://127.0.0.1/api"),
        ("SMSAI_BASE_URL", "https://user:pw@example.com/api/v1"),
        ("SMSAI_CONFIRM", "maybe"),
        ("SMSAI_MAX_COST_PER_MESSAGE_USD", "one dollar"),
        ("SMSAI_MAX_COST_PER_MESSAGE_USD", "-1"),
        ("SMSAI_DAILY_BUDGET_USD", "NaN"),
        ("SMSAI_ALLOWED_COUNTRIES", "US,XX"),
        ("SMSAI_BLOCKED_COUNTRIES", "Canada"),
        ("SMSAI_ALLOWED_RECIPIENTS", "+1202"),
        ("SMSAI_MAX_PER_RECIPIENT_PER_HOUR", "-3"),
        ("SMSAI_MAX_PER_RECIPIENT_PER_HOUR", "\u0663"),  # an Arabic-Indic three is a digit, but not ASCII
        ("SMSAI_DUPLICATE_WINDOW_SECONDS", "ten"),
        ("SMSAI_READ_ONLY", "perhaps"),
        ("SMSAI_CONTENT_CHECKS", "true"),
        ("SMSAI_CONTENT_CHECKS", "sometimes"),
        ("SMSAI_TIMEOUT_SECONDS", "0"),
        ("SMSAI_TIMEOUT_SECONDS", "soon"),
    ],
)
def test_invalid_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


@pytest.mark.parametrize("variable", ["SMSAI_MAX_COST_PER_MESSAGE_USD", "SMSAI_DAILY_BUDGET_USD"])
@pytest.mark.parametrize("value", ["1000000.01", "2e6", "1e400", "inf", "-Infinity", "nan", "sNaN"])
def test_amount_above_a_million_usd_or_not_finite_is_refused_naming_the_variable(variable: str, value: str) -> None:
    """1e400 is a finite Decimal, so it passed, and became an infinite float that check_balance cannot return."""
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


def test_an_amount_of_exactly_a_million_usd_is_allowed() -> None:
    settings = Settings.from_env({"SMSAI_DAILY_BUDGET_USD": "1000000", "SMSAI_MAX_COST_PER_MESSAGE_USD": "1e6"})
    assert settings.daily_budget_usd == Decimal("1000000")
    assert settings.max_cost_per_message_usd == Decimal("1000000")


@pytest.mark.parametrize("variable", ["SMSAI_MAX_PER_RECIPIENT_PER_HOUR", "SMSAI_DUPLICATE_WINDOW_SECONDS"])
def test_a_whole_number_too_large_to_use_is_refused_naming_the_variable(variable: str) -> None:
    """A duplicate window of 10**400 seconds cannot be subtracted from a time: every send failed."""
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: "1" + "0" * 400})
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: "9" * 5000})  # past Python's own limit on reading a whole number


def test_server_refuses_to_start_on_an_amount_above_a_million_usd(tmp_path: Path) -> None:
    completed = subprocess.run(
        SERVER,
        env=server_env({"SMSAI_DAILY_BUDGET_USD": "1e400"}),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert completed.returncode == 2
    assert "SMSAI_DAILY_BUDGET_USD" in completed.stderr
    assert completed.stdout == ""


def test_http_base_url_is_allowed_only_for_loopback() -> None:
    for url in ("http://localhost:8787/api/v1", "http://127.0.0.1/api/v1", "http://[::1]:8787/api/v1"):
        assert Settings.from_env({"SMSAI_BASE_URL": url}).base_url == url


def test_token_with_spaces_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="SMSAI_API_TOKEN") as caught:
        Settings.from_env({"SMSAI_API_TOKEN": "smsai_secret part"})
    assert "secret" not in str(caught.value).replace("SMSAI_", "")


def test_token_is_hidden_in_settings_repr() -> None:
    settings = Settings.from_env({"SMSAI_API_TOKEN": "smsai_hidden_value"})
    assert "smsai_hidden_value" not in repr(settings)
    assert "smsai_hidden_value" not in str(settings.model_dump())


def test_server_refuses_to_start_on_invalid_configuration(tmp_path: Path) -> None:
    completed = subprocess.run(
        SERVER,
        env=server_env({"SMSAI_DAILY_BUDGET_USD": "lots", "SMSAI_API_TOKEN": "smsai_do_not_print"}),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert completed.returncode == 2
    assert "SMSAI_DAILY_BUDGET_USD" in completed.stderr
    assert completed.stdout == ""
    assert "smsai_do_not_print" not in completed.stderr


@pytest.mark.slow
def test_http_refuses_a_public_bind_without_access_control() -> None:
    completed = subprocess.run(
        [*SERVER, "--transport", "http", "--host", "0.0.0.0", "--sandbox"],
        env=server_env({}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "loopback" in completed.stderr
    assert "SMSAI_MCP_ACCESS_KEYS" in completed.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_unusable_state_dir_is_refused_at_start_naming_the_variable(tmp_path: Path, kind: str) -> None:
    if kind == "file":
        state = tmp_path / "a-file"
        state.write_text("not a directory")
    else:
        state = Path("/proc/smsai-mcp-cannot-write-here")
    completed = subprocess.run(
        [*SERVER, "--sandbox"],
        env=server_env({"SMSAI_STATE_DIR": str(state)}),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert completed.returncode == 2
    assert "SMSAI_STATE_DIR" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_processes_starting_together_on_one_state_dir_all_pass_the_write_check(tmp_path: Path) -> None:
    """Two replicas sharing a directory once tripped over each other's write probe and refused to start."""
    from concurrent.futures import ThreadPoolExecutor

    settings = Settings(state_dir=tmp_path / "shared")
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: settings.ensure_state_dir(), range(200)))
    assert set(results) == {tmp_path / "shared"}
    assert list((tmp_path / "shared").iterdir()) == []


TOKEN_LIKE = "smsai_" + "k" * 40


@pytest.mark.parametrize(
    "variable",
    [
        "SMSAI_DAILY_BUDGET_USD",
        "SMSAI_MAX_COST_PER_MESSAGE_USD",
        "SMSAI_MAX_PER_RECIPIENT_PER_HOUR",
        "SMSAI_READ_ONLY",
        "SMSAI_CONTENT_CHECKS",
        "SMSAI_CONFIRM",
        "SMSAI_TIMEOUT_SECONDS",
        "SMSAI_ALLOWED_COUNTRIES",
        "SMSAI_ALLOWED_RECIPIENTS",
    ],
)
def test_token_pasted_into_another_variable_is_never_echoed(variable: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({variable: TOKEN_LIKE})
    message = str(refused.value)
    assert variable in message
    assert "kkkk" not in message.lower()


def test_revision_two_variables_have_the_contract_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.monthly_budget_usd is None
    assert str(settings.quiet_hours) == "21:00-08:00"
    assert (settings.max_recipients_per_hour, settings.max_per_number_block_per_hour) == (30, 3)
    assert settings.confirm_skip_recipients == frozenset()
    assert settings.max_batch_size == 50


def test_revision_two_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "SMSAI_MONTHLY_BUDGET_USD": "150",
            "SMSAI_QUIET_HOURS": "22:30-07:15",
            "SMSAI_MAX_RECIPIENTS_PER_HOUR": "5",
            "SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR": "2",
            "SMSAI_CONFIRM_SKIP_RECIPIENTS": "+1 415 555 0123",
            "SMSAI_MAX_BATCH_SIZE": "500",
        }
    )
    assert settings.monthly_budget_usd == Decimal(150)
    assert str(settings.quiet_hours) == "22:30-07:15"
    assert (settings.max_recipients_per_hour, settings.max_per_number_block_per_hour) == (5, 2)
    assert settings.confirm_skip_recipients == frozenset({"+14155550123"})
    assert settings.max_batch_size == 500
    assert Settings.from_env({"SMSAI_QUIET_HOURS": "OFF"}).quiet_hours is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMSAI_QUIET_HOURS", "21-08"),
        ("SMSAI_QUIET_HOURS", "24:00-08:00"),
        ("SMSAI_QUIET_HOURS", "08:00-08:00"),
        ("SMSAI_MONTHLY_BUDGET_USD", "-1"),
        ("SMSAI_MONTHLY_BUDGET_USD", "1000001"),
        ("SMSAI_MAX_RECIPIENTS_PER_HOUR", "many"),
        ("SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR", "-3"),
        ("SMSAI_CONFIRM_SKIP_RECIPIENTS", "my phone"),
        ("SMSAI_MAX_BATCH_SIZE", "0"),
        ("SMSAI_MAX_BATCH_SIZE", "501"),
    ],
)
def test_invalid_revision_two_values_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})
