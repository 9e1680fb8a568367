"""The files that put smsai-mcp into hosts: each one says what its host reads, and says it right.

- manifests/claude-desktop/claude_desktop_config.json, manifests/cursor/mcp.json: `mcpServers` entries;
- manifests/vscode/mcp.json: VS Code's top-level `servers`, the token from a password `promptString` input;
- the `claude mcp add` line in README.md (Claude Code);
- manifests/mcpb/: the MCP Bundle (manifest_version 0.3), its launcher and its .mcpbignore;
- manifests/server.json: the official MCP Registry entry (schema 2025-12-11), and README's `mcp-name:` marker.

Everywhere: the token travels in the environment, never in arguments, and no real token is written down.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft7Validator
from mcp import Client, StdioServerParameters

from smsai_mcp import __version__
from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from tests.test_inspector import node_env, tools_bin

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "manifests"
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = PYPROJECT["project"]["name"]
SCRIPT = next(iter(PYPROJECT["project"]["scripts"]))
SERVER_KEY = "smsai"  # the same server name in every host
TOKEN_VARIABLE = "SMSAI_API_TOKEN"
GOLDEN = Path(__file__).parent / "golden" / "tools_list.json"

REGISTRY_SCHEMA = Path(__file__).parent / "schemas" / "server.schema.2025-12-11.json"
# A byte-for-byte copy of https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json (published
# from the modelcontextprotocol/static repository). Moving to a newer schema is a deliberate change of both.
REGISTRY_SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
REGISTRY_SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"

# Something that looks like a real token: smsai_ and a long random tail. The manifests hold only placeholders.
REAL_LOOKING_TOKEN = re.compile(r"smsai_[A-Za-z0-9]{16,}")


def load(relative: str) -> dict[str, Any]:
    data = json.loads((MANIFESTS / relative).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def documented_variables() -> set[str]:
    """The SMSAI_* variables that README's configuration table documents."""
    return set(re.findall(r"^\| `(SMSAI_[A-Z_]+)` \|", README, flags=re.MULTILINE))


def readme_json_blocks() -> list[Any]:
    blocks = re.findall(r"```json\n(.*?)```", README, flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_no_manifest_holds_a_real_looking_token() -> None:
    for path in sorted(MANIFESTS.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            text = path.read_text(encoding="utf-8")
            assert not REAL_LOOKING_TOKEN.search(text), path
            assert SANDBOX_TOKEN not in text, path


# --- Claude Desktop, Cursor, VS Code ---------------------------------------------------------------------------


def test_claude_desktop_entry_runs_uvx_with_the_token_in_env() -> None:
    config = load("claude-desktop/claude_desktop_config.json")
    assert list(config) == ["mcpServers"]
    entry = config["mcpServers"][SERVER_KEY]
    assert entry["command"] == "uvx"
    assert entry["args"] == [PACKAGE]
    assert set(entry["env"]) == {TOKEN_VARIABLE}
    assert entry["env"][TOKEN_VARIABLE].startswith("smsai_")  # a placeholder that says what goes there


def test_cursor_entry_takes_the_token_from_the_environment() -> None:
    config = load("cursor/mcp.json")
    assert list(config) == ["mcpServers"]
    entry = config["mcpServers"][SERVER_KEY]
    assert entry["type"] == "stdio"
    assert (entry["command"], entry["args"]) == ("uvx", [PACKAGE])
    # Cursor interpolates ${env:NAME}: the token stays out of a file that a project may commit.
    assert entry["env"] == {TOKEN_VARIABLE: "${env:SMSAI_API_TOKEN}"}


def test_vscode_entry_uses_servers_and_a_password_prompt() -> None:
    config = load("vscode/mcp.json")
    assert "mcpServers" not in config, "VS Code reads top-level `servers`"
    entry = config["servers"][SERVER_KEY]
    assert entry["type"] == "stdio"
    assert (entry["command"], entry["args"]) == ("uvx", [PACKAGE])
    reference = entry["env"][TOKEN_VARIABLE]
    match = re.fullmatch(r"\$\{input:([A-Za-z0-9_-]+)\}", reference)
    assert match, reference
    [prompt] = [item for item in config["inputs"] if item["id"] == match.group(1)]
    assert prompt["type"] == "promptString"
    assert prompt["password"] is True
    assert prompt["description"]


@pytest.mark.parametrize(
    "relative", ["claude-desktop/claude_desktop_config.json", "cursor/mcp.json", "vscode/mcp.json"]
)
def test_host_configs_pass_no_secret_in_arguments_and_only_documented_variables(relative: str) -> None:
    config = load(relative)
    servers = config.get("mcpServers") or config["servers"]
    for entry in servers.values():
        assert all("smsai_" not in arg and "input:" not in arg and "env:" not in arg for arg in entry["args"])
        assert set(entry["env"]) <= documented_variables()


@pytest.mark.parametrize(
    "relative", ["claude-desktop/claude_desktop_config.json", "cursor/mcp.json", "vscode/mcp.json"]
)
def test_readme_shows_each_host_config_exactly(relative: str) -> None:
    assert load(relative) in readme_json_blocks(), f"README.md must show manifests/{relative} verbatim"


CLONE_COMMAND = "/path/to/smsai-mcp/.venv/bin/smsai-mcp"  # README's stand-in for a clone's environment


def readme_clone_entry() -> dict[str, Any]:
    """README's host entry for running a clone until the package is on PyPI."""
    [entry] = [
        block["mcpServers"][SERVER_KEY]
        for block in readme_json_blocks()
        if block.get("mcpServers", {}).get(SERVER_KEY, {}).get("command") == CLONE_COMMAND
    ]
    assert isinstance(entry, dict)
    return entry


def test_readme_says_how_to_run_a_clone_until_the_package_is_published() -> None:
    entry = readme_clone_entry()
    assert entry["args"] == []
    assert set(entry["env"]) == {TOKEN_VARIABLE}
    assert not REAL_LOOKING_TOKEN.search(json.dumps(entry))
    assert '"args": ["--from", "/path/to/smsai-mcp", "smsai-mcp"]' in README  # the uv way, built from the clone


@pytest.mark.slow
@pytest.mark.anyio
async def test_readme_clone_entry_serves_when_given_this_environments_command(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """The entry as a host runs it, with this checkout's environment in place of the stand-in path."""
    entry = readme_clone_entry()
    command = Path(sys.executable).parent / SCRIPT
    if not command.exists():
        pytest.skip(f"no {SCRIPT} console script beside {sys.executable}: pip install -e .")
    env = {
        **entry["env"],
        TOKEN_VARIABLE: SANDBOX_TOKEN,
        "SMSAI_BASE_URL": sandbox_url,
        "SMSAI_STATE_DIR": str(tmp_path / "state"),
    }
    params = StdioServerParameters(command=str(command), args=entry["args"], env=env)
    async with Client(params, mode="legacy") as client:
        balance = await client.call_tool("check_balance", {})
    assert not balance.is_error
    assert balance.structured_content is not None
    assert balance.structured_content["credits_usd"] == 25.0


# --- Claude Code -------------------------------------------------------------------------------------------------


def claude_code_lines() -> list[list[str]]:
    lines = [line.strip() for line in README.splitlines() if line.strip().startswith("claude mcp add ")]
    return [shlex.split(line) for line in lines]


def test_readme_has_a_claude_code_line_with_the_server_name_first() -> None:
    lines = claude_code_lines()
    assert lines, "README.md needs a `claude mcp add` line"
    for argv in lines:
        assert argv[:3] == ["claude", "mcp", "add"]
        # -e/--env take any number of values, so a name after them would be read as one more variable.
        assert argv[3] == SERVER_KEY, "the server name must come right after `claude mcp add`"
        separator = argv.index("--")
        assert argv[separator + 1 :] == ["uvx", PACKAGE]
        options = argv[4:separator]
        values = [options[i + 1] for i, option in enumerate(options) if option in ("-e", "--env")]
        assert values, "the token goes in with -e"
        names = {value.split("=", 1)[0] for value in values}
        assert TOKEN_VARIABLE in names
        assert names <= documented_variables()
        assert not REAL_LOOKING_TOKEN.search(" ".join(argv))


# --- MCP Bundle ----------------------------------------------------------------------------------------------------

MCPB = MANIFESTS / "mcpb"


def bundle_manifest() -> dict[str, Any]:
    return load("mcpb/manifest.json")


def user_config_references(value: Any) -> list[str]:
    return re.findall(r"\$\{user_config\.([A-Za-z0-9_]+)\}", json.dumps(value))


def test_bundle_manifest_is_version_0_3_of_this_release() -> None:
    manifest = bundle_manifest()
    assert manifest["manifest_version"] == "0.3"
    assert manifest["name"] == PACKAGE
    assert manifest["version"] == __version__
    assert manifest["server"]["type"] == "python"
    assert (MCPB / manifest["server"]["entry_point"]).is_file()
    assert manifest["server"]["mcp_config"]["args"] == ["${__dirname}/" + manifest["server"]["entry_point"]]


def test_bundle_token_is_sensitive_and_reaches_the_server_through_env_only() -> None:
    manifest = bundle_manifest()
    token = manifest["user_config"]["api_token"]
    assert token["type"] == "string"
    assert token["sensitive"] is True
    assert token["required"] is True
    config = manifest["server"]["mcp_config"]
    assert config["env"][TOKEN_VARIABLE] == "${user_config.api_token}"
    everything_but_env = {key: value for key, value in config.items() if key != "env"}
    for override in config.get("platform_overrides", {}).values():
        assert "env" not in override or override["env"][TOKEN_VARIABLE] == "${user_config.api_token}"
        everything_but_env[f"override:{id(override)}"] = {k: v for k, v in override.items() if k != "env"}
    assert user_config_references(everything_but_env) == [], "no user setting may travel in args or command"


def test_bundle_user_config_is_all_used_and_all_defined() -> None:
    manifest = bundle_manifest()
    used = set(user_config_references(manifest["server"]["mcp_config"]))
    assert used == set(manifest["user_config"])
    for key, option in manifest["user_config"].items():
        assert option["title"], key
        assert option["description"], key
        if not option.get("required"):
            # An optional value without a default would reach the server as the literal ${user_config...}.
            assert "default" in option, key
    assert set(manifest["server"]["mcp_config"]["env"]) - {"PYTHONIOENCODING"} <= documented_variables()


def test_bundle_lists_the_same_tools_as_the_server() -> None:
    golden = [tool["name"] for tool in json.loads(GOLDEN.read_text(encoding="utf-8"))]
    assert [tool["name"] for tool in bundle_manifest()["tools"]] == golden


def test_mcpbignore_keeps_caches_and_environments_out() -> None:
    patterns = (MCPB / ".mcpbignore").read_text(encoding="utf-8").split()
    for needed in ("__pycache__/", "*.py[cod]", ".venv/", "tests/", "*.mcpb"):
        assert needed in patterns


def launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smsai_mcpb_launch", MCPB / "server" / "launch.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_uvx(folder: Path, record: Path) -> Path:
    """A stand-in uvx that records its arguments and exits."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "uvx"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


posix_only = pytest.mark.skipif(os.name == "nt", reason="the stand-in uvx is a POSIX shell script")


@posix_only
def test_launcher_runs_the_pinned_release_through_uvx(tmp_path: Path) -> None:
    record = tmp_path / "argv.txt"
    fake_uvx(tmp_path / "bin", record)
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path / "home")}
    subprocess.run([sys.executable, str(MCPB / "server" / "launch.py"), "--sandbox"], env=env, check=True, timeout=30)
    assert record.read_text(encoding="utf-8").splitlines() == [
        "--from",
        f"{PACKAGE}=={__version__}",
        SCRIPT,
        "--sandbox",
    ]


@posix_only
def test_launcher_finds_uvx_where_a_gui_app_cannot_see_it(tmp_path: Path) -> None:
    """GUI apps on macOS get a bare PATH; uv's installer puts uvx in ~/.local/bin."""
    module = launcher()
    home = tmp_path / "home"
    installed = fake_uvx(home / ".local" / "bin", tmp_path / "unused")
    assert module.find_uvx({"PATH": "/usr/bin:/bin"}, home) == installed
    explicit = fake_uvx(tmp_path / "elsewhere", tmp_path / "unused")
    assert module.find_uvx({"PATH": "/usr/bin:/bin", "SMSAI_UVX": str(explicit)}, home) == explicit


@pytest.fixture
def no_uvx_anywhere(tmp_path: Path) -> dict[str, str]:
    """An environment in which the launcher finds no uvx, so that it falls back to the installed package."""
    module = launcher()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    found = module.find_uvx(env, tmp_path / "home")
    if found is not None:
        pytest.skip(f"this machine has uvx at {found}, where the launcher always looks")
    return env


@pytest.mark.slow
@pytest.mark.anyio
async def test_launcher_falls_back_to_the_installed_package(no_uvx_anywhere: dict[str, str], tmp_path: Path) -> None:
    env = {**no_uvx_anywhere, "SMSAI_STATE_DIR": str(tmp_path / "state")}
    params = StdioServerParameters(
        command=sys.executable, args=[str(MCPB / "server" / "launch.py"), "--sandbox"], env=env
    )
    async with Client(params, mode="legacy") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert names == [tool["name"] for tool in json.loads(GOLDEN.read_text(encoding="utf-8"))]


def test_launcher_explains_what_to_install_when_nothing_can_run(
    no_uvx_anywhere: dict[str, str], tmp_path: Path
) -> None:
    # `python -I -S`: no site-packages, so smsai_mcp cannot be imported either.
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(MCPB / "server" / "launch.py")],
        env=no_uvx_anywhere,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == "", "stdout belongs to the protocol"
    assert "Install uv" in done.stderr
    assert "SMSAI_UVX" in done.stderr


# The bundle through the real mcpb CLI (skipped without the node tools; CI installs them).


@pytest.fixture(scope="module")
def mcpb_bin() -> Path:
    return tools_bin()


def run_node_tool(bin_dir: Path, home: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), env=node_env(bin_dir, home), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_mcpb_validate_accepts_the_manifest(mcpb_bin: Path, tmp_path: Path) -> None:
    done = run_node_tool(mcpb_bin, tmp_path, str(mcpb_bin / "mcpb"), "validate", str(MCPB / "manifest.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Manifest schema validation passes!" in done.stdout


@pytest.mark.slow
def test_mcpb_validate_rejects_a_broken_manifest(mcpb_bin: Path, tmp_path: Path) -> None:
    """The validator is really checking: a misspelt key fails it."""
    broken = bundle_manifest()
    broken["user_config"]["api_token"]["sensitve"] = True
    (tmp_path / "manifest.json").write_text(json.dumps(broken), encoding="utf-8")
    done = run_node_tool(mcpb_bin, tmp_path, str(mcpb_bin / "mcpb"), "validate", str(tmp_path / "manifest.json"))
    assert done.returncode != 0


@pytest.fixture(scope="module")
def packed(mcpb_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scripts/build-mcpb.sh, as a release runs it."""
    out = tmp_path_factory.mktemp("mcpb-dist")
    env = node_env(mcpb_bin, tmp_path_factory.mktemp("home"))
    env["SMSAI_TOOLS_DIR"] = str(mcpb_bin.parent.parent)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-mcpb.sh"), str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bundle = out / f"{PACKAGE}-{__version__}.mcpb"
    assert bundle.is_file(), done.stdout
    return bundle


@pytest.mark.slow
def test_packed_bundle_holds_exactly_the_manifest_and_the_launcher(packed: Path) -> None:
    with zipfile.ZipFile(packed) as bundle:
        assert sorted(bundle.namelist()) == ["manifest.json", "server/launch.py"]
        assert json.loads(bundle.read("manifest.json")) == bundle_manifest()


@pytest.mark.slow
def test_mcpbignore_applies_when_packing_a_dirty_folder(mcpb_bin: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(MCPB, folder)
    junk = ["server/__pycache__/launch.cpython-311.pyc", ".venv/pyvenv.cfg", "tests/test_x.py", "old.mcpb"]
    for name in junk:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("junk", encoding="utf-8")
    out = tmp_path / "out.mcpb"
    done = run_node_tool(mcpb_bin, tmp_path, str(mcpb_bin / "mcpb"), "pack", str(folder), str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(out) as bundle:
        assert sorted(bundle.namelist()) == ["manifest.json", "server/launch.py"]


RESOLVE = """
import { getMcpConfigForManifest } from "@anthropic-ai/mcpb";
import { readFileSync } from "node:fs";
const [manifestPath, extensionPath, userConfig] = process.argv.slice(1);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const config = await getMcpConfigForManifest({
  manifest, extensionPath, systemDirs: {}, userConfig: JSON.parse(userConfig), pathSeparator: "/",
});
process.stdout.write(JSON.stringify(config ?? null));
"""


def resolve_mcp_config(bin_dir: Path, home: Path, extension: Path, user_config: dict[str, Any]) -> Any:
    """What a host makes of mcp_config, through mcpb's own substitution code."""
    done = run_node_tool(
        bin_dir,
        home,
        str(bin_dir / "node"),
        "--input-type=module",
        "--eval",
        RESOLVE,
        str(extension / "manifest.json"),
        str(extension),
        json.dumps(user_config),
        cwd=bin_dir.parent.parent,  # the tools folder, so that the import of @anthropic-ai/mcpb resolves
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def unpacked(packed: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "installed-bundle"
    with zipfile.ZipFile(packed) as bundle:
        bundle.extractall(folder)
    return folder


@pytest.mark.slow
def test_a_host_without_the_token_does_not_start_the_bundle(mcpb_bin: Path, tmp_path: Path, unpacked: Path) -> None:
    assert resolve_mcp_config(mcpb_bin, tmp_path, unpacked, {}) is None


@pytest.mark.slow
@pytest.mark.anyio
async def test_installed_bundle_serves_with_the_token_from_user_config(
    mcpb_bin: Path, tmp_path: Path, unpacked: Path, no_uvx_anywhere: dict[str, str], sandbox: Sandbox, sandbox_url: str
) -> None:
    """Unpack the .mcpb, substitute mcp_config as a host does, start it, and read the balance through it."""
    config = resolve_mcp_config(mcpb_bin, tmp_path, unpacked, {"api_token": SANDBOX_TOKEN})
    assert config["args"] == [f"{unpacked}/server/launch.py"]
    assert SANDBOX_TOKEN not in json.dumps(config["args"])
    env = config["env"]
    assert env[TOKEN_VARIABLE] == SANDBOX_TOKEN
    # The defaults reach the server as strings it accepts.
    assert (env["SMSAI_DAILY_BUDGET_USD"], env["SMSAI_MAX_COST_PER_MESSAGE_USD"], env["SMSAI_ALLOWED_COUNTRIES"]) == (
        "10",
        "1",
        "",
    )
    # The host would run `python3`; here that is this interpreter, which has smsai_mcp installed.
    env = {**no_uvx_anywhere, **env, "SMSAI_BASE_URL": sandbox_url, "SMSAI_STATE_DIR": str(tmp_path / "state")}
    params = StdioServerParameters(command=sys.executable, args=config["args"], env=env)
    async with Client(params, mode="auto") as client:
        balance = await client.call_tool("check_balance", {})
    assert not balance.is_error
    assert balance.structured_content is not None
    assert balance.structured_content["credits_usd"] == 25.0
    assert balance.structured_content["daily_budget_usd"] == 10.0


# --- MCP Registry -----------------------------------------------------------------------------------------------


def registry_schema() -> dict[str, Any]:
    schema = json.loads(REGISTRY_SCHEMA.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def schema_property_names(node: Any) -> set[str]:
    """Every property name the schema declares anywhere."""
    names: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            names |= set(node["properties"])
        for value in node.values():
            names |= schema_property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= schema_property_names(value)
    return names


def keys_not_in_schema(document: Any, known: set[str]) -> list[str]:
    """Keys of server.json that the schema does not declare. The schema allows unknown keys, so it is silent
    about a typo such as `is_secret`; this is not."""
    unknown: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key not in known:
                unknown.append(key)
            unknown += keys_not_in_schema(value, known)
    elif isinstance(document, list):
        for value in document:
            unknown += keys_not_in_schema(value, known)
    return unknown


def validate_server_json(document: dict[str, Any]) -> None:
    Draft7Validator(registry_schema(), format_checker=Draft7Validator.FORMAT_CHECKER).validate(document)


def test_registry_schema_is_the_pinned_2025_12_11_file() -> None:
    assert hashlib.sha256(REGISTRY_SCHEMA.read_bytes()).hexdigest() == REGISTRY_SCHEMA_SHA256
    assert registry_schema()["$id"] == REGISTRY_SCHEMA_URL


def test_server_json_validates_against_the_schema() -> None:
    server = load("server.json")
    assert server["$schema"] == REGISTRY_SCHEMA_URL
    validate_server_json(server)


def test_server_json_uses_only_the_schemas_camel_case_keys() -> None:
    server = load("server.json")
    known = schema_property_names(registry_schema()) | {"$schema"}
    assert keys_not_in_schema(server, known) == []
    assert [key for key in keys_not_in_schema(server, set()) if "_" in key and key != "_meta"] == []


def test_the_schema_alone_lets_a_snake_case_typo_through() -> None:
    """Why the key check above exists."""
    server = load("server.json")
    typo = json.loads(json.dumps(server))
    variable = typo["packages"][0]["environmentVariables"][0]
    variable["is_secret"] = variable.pop("isSecret")
    validate_server_json(typo)  # passes: unknown keys are allowed
    known = schema_property_names(registry_schema()) | {"$schema"}
    assert keys_not_in_schema(typo, known) == ["is_secret"]


def test_server_json_describes_the_pypi_package_over_stdio() -> None:
    server = load("server.json")
    assert server["version"] == __version__
    [package] = server["packages"]
    assert package["registryType"] == "pypi"
    assert package["registryBaseUrl"] == "https://pypi.org"
    assert package["identifier"] == PACKAGE
    assert package["version"] == __version__
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}
    variables = {variable["name"]: variable for variable in package["environmentVariables"]}
    assert set(variables) <= documented_variables()
    token = variables[TOKEN_VARIABLE]
    assert token["isSecret"] is True
    assert token["isRequired"] is True
    assert "default" not in token
    assert "value" not in token
    for name, variable in variables.items():
        assert variable["description"], name
        if name != TOKEN_VARIABLE:
            assert variable.get("isSecret", False) is False, name
            assert variable["isRequired"] is False, name


def test_readme_carries_the_registry_ownership_marker() -> None:
    """The registry checks that the PyPI description (this README) contains `mcp-name: <server name>`."""
    name = load("server.json")["name"]
    assert re.match(r"^io\.github\.[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", name)
    markers = re.findall(r"mcp-name: (\S+)", README)
    assert markers == [name]
