"""The tenants file: every malformed input stops the start with a clear error naming the file and tenant."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from smsai_mcp.config import ConfigError
from smsai_mcp.service.access import AccessKeys, load_tenants
from tests.processes import SERVER, server_env

pytestmark = pytest.mark.anyio

GOOD_HASH = hashlib.sha256(b"acme-key").hexdigest()
ENV = {"ACME_TOKEN": "smsai_acme", "GLOBEX_TOKEN": "smsai_globex"}


def tenants_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    return path


def test_a_good_file_gives_each_tenant_its_token_policy_and_ledger(tmp_path: Path) -> None:
    path = tenants_file(
        tmp_path,
        f"""
[tenants.acme]
access_key_sha256 = "{GOOD_HASH}"
api_token_env = "ACME_TOKEN"
daily_budget_usd = 20.0
allowed_countries = ["US", "CA"]
read_only = false

[tenants.globex]
access_key_sha256 = "{hashlib.sha256(b"globex-key").hexdigest()}"
api_token_env = "GLOBEX_TOKEN"
""",
    )
    tenants = load_tenants(path, {**ENV, "SMSAI_STATE_DIR": str(tmp_path), "SMSAI_API_TOKEN": "smsai_process"})
    acme, globex = tenants["acme"].settings, tenants["globex"].settings
    assert acme.api_token is not None and acme.api_token.get_secret_value() == "smsai_acme"  # noqa: PT018
    assert globex.api_token is not None and globex.api_token.get_secret_value() == "smsai_globex"  # noqa: PT018
    assert str(acme.daily_budget_usd) == "20.0"
    assert acme.allowed_countries == {"US", "CA"}
    assert globex.allowed_countries == frozenset()
    assert acme.state_dir != globex.state_dir


async def test_access_keys_name_their_tenant_and_nothing_else(tmp_path: Path) -> None:
    path = tenants_file(tmp_path, f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n')
    verifier = AccessKeys(load_tenants(path, ENV))
    token = await verifier.verify_token("acme-key")
    assert token is not None
    assert token.client_id == "acme"
    assert await verifier.verify_token("acme-key ") is None
    assert await verifier.verify_token(GOOD_HASH) is None  # the hash itself is not a key


MALFORMED = [
    pytest.param("this is = = not toml", "not valid TOML", id="not-toml"),
    pytest.param("", "no tenants", id="empty"),
    pytest.param("[other]\nx = 1\n", "unknown top-level", id="unknown-section"),
    pytest.param("tenants = 3\n", "no tenants", id="tenants-not-a-table"),
    pytest.param('[tenants.acme]\napi_token_env = "ACME_TOKEN"\n', "access_key_sha256", id="missing-hash"),
    pytest.param(
        '[tenants.acme]\naccess_key_sha256 = "abc"\napi_token_env = "ACME_TOKEN"\n', "64 hex", id="short-hash"
    ),
    pytest.param(f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\n', "api_token_env", id="missing-token-env"),
    pytest.param(
        f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "NOT_SET_ANYWHERE"\n',
        "NOT_SET_ANYWHERE",
        id="token-variable-unset",
    ),
    pytest.param(
        f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\ndaily_budget = 5\n',
        "unknown keys",
        id="typo-in-policy",
    ),
    pytest.param(
        f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\ndaily_budget_usd = -5\n',
        "daily_budget_usd",
        id="negative-budget",
    ),
    *[
        pytest.param(
            f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n{key} = {amount}\n',
            key,
            id=f"{key}-{amount}",
        )
        for key in ("daily_budget_usd", "max_cost_per_message_usd")
        for amount in ("1e400", "2000000.0", "1_000_001", "inf", "nan")
    ],
    pytest.param(
        f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\nconfirm = "maybe"\n',
        "confirm",
        id="bad-confirm",
    ),
    pytest.param(
        f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n'
        'allowed_countries = ["US", "Narnia"]\n',
        "allowed_countries",
        id="bad-country",
    ),
    pytest.param(
        f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n'
        "allowed_countries = [1, 2]\n",
        "wrong type",
        id="country-list-of-numbers",
    ),
    pytest.param(
        f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n'
        f'[tenants.globex]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "GLOBEX_TOKEN"\n',
        "same access_key_sha256",
        id="shared-key",
    ),
    pytest.param(
        f'[tenants."a b"]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n', "name", id="bad-name"
    ),
    pytest.param('[tenants]\nacme = "x"\n', "must be a table", id="tenant-not-a-table"),
]


@pytest.mark.parametrize(("text", "says"), MALFORMED)
def test_malformed_tenants_file_is_refused_with_a_clear_error(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError, match="SMSAI_TENANTS_FILE") as caught:
        load_tenants(tenants_file(tmp_path, text), ENV)
    assert says in str(caught.value)


def test_missing_tenants_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_tenants(tmp_path / "nope.toml", ENV)


@pytest.mark.slow
def test_server_refuses_to_start_on_a_bad_tenants_file(tmp_path: Path) -> None:
    path = tenants_file(tmp_path, '[tenants.acme]\naccess_key_sha256 = "abc"\n')
    completed = subprocess.run(
        [*SERVER, "--transport", "http", "--port", "0"],
        env=server_env({"SMSAI_TENANTS_FILE": str(path)}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "SMSAI_TENANTS_FILE" in completed.stderr
    assert "acme" in completed.stderr


def test_a_tenants_token_problem_names_its_own_variable(tmp_path: Path) -> None:
    path = tenants_file(tmp_path, f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n')
    assert load_tenants(path, ENV)["acme"].settings.api_token_variable == "ACME_TOKEN"


SECRET_LOOKING = "smsai_LEAKME0123456789abcdef"


@pytest.mark.slow  # starts the server as a process
@pytest.mark.parametrize("malformed", [f"{SECRET_LOOKING} pasted twice", f"{SECRET_LOOKING}\x01"])
def test_a_malformed_tenant_token_is_named_by_its_variable_never_shown(tmp_path: Path, malformed: str) -> None:
    path = tenants_file(tmp_path, f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n')
    completed = subprocess.run(
        [*SERVER, "--transport", "http", "--port", "0"],
        env=server_env({"SMSAI_TENANTS_FILE": str(path), "ACME_TOKEN": malformed}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "ACME_TOKEN" in completed.stderr
    assert "LEAKME" not in completed.stderr + completed.stdout


def test_api_token_env_naming_a_setting_of_smsai_mcp_is_refused_without_its_value(tmp_path: Path) -> None:
    """Read as a policy too, the token would be echoed by that policy's own error (got '...')."""
    path = tenants_file(
        tmp_path, f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "SMSAI_DAILY_BUDGET_USD"\n'
    )
    with pytest.raises(ConfigError, match="api_token_env") as caught:
        load_tenants(path, {"SMSAI_DAILY_BUDGET_USD": SECRET_LOOKING})
    assert "LEAKME" not in str(caught.value)


def test_an_environment_setting_is_not_blamed_on_a_tenant_key(tmp_path: Path) -> None:
    """A tenant that sets no budget was told its daily_budget_usd was wrong, quoting the environment's value."""
    path = tenants_file(tmp_path, f'[tenants.acme]\naccess_key_sha256 = "{GOOD_HASH}"\napi_token_env = "ACME_TOKEN"\n')
    with pytest.raises(ConfigError) as caught:
        load_tenants(path, {**ENV, "SMSAI_DAILY_BUDGET_USD": "lots"})
    assert "SMSAI_DAILY_BUDGET_USD" in str(caught.value)
    assert "tenant 'acme'" not in str(caught.value)
