"""A release that installs on its own: the sdist and the wheel build and pass `twine check`; the wheel installs
into a fresh virtual environment and serves the sandbox there, away from this checkout; `uvx --from <wheel>`
runs it as hosts do. Built once per run, whichever pytest-xdist worker comes first (the others wait for it and
reuse it); the fresh environment takes its dependencies from the package index like any user's (uv's cache
makes it quick).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from smsai_mcp import __version__
from tests.conftest import ERAS, assert_matches_output_schema, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "tools_list.json"
BUILD_TIMEOUT_SECONDS = 300
INSTALL_TIMEOUT_SECONDS = 600
TO = "+14165550123"


def module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of this checkout's SMSAI_* settings, nothing on PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SMSAI_", "PYTHON", "VIRTUAL_ENV"))}
    env["SMSAI_QUIET_HOURS"] = "off"  # on by default: a send to the test number would be refused at night
    env.update(extra)
    return env


@contextmanager
def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """A folder shared by every pytest-xdist worker of this run, held under a lock: yields it and whether an
    earlier worker already made it (then it is only to be read). Made is marked only once the body succeeds."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, above each worker's
    folder = shared / name
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: each worker makes its own
        folder = tmp_path_factory.mktemp(name)
        yield folder, False
        return
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        made = (folder / ".made").exists()
        if not made:
            shutil.rmtree(folder, ignore_errors=True)  # what a worker that failed left
            folder.mkdir()
        yield folder, made
        (folder / ".made").touch()


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """`python -m build`: the sdist, then the wheel built from the sdist (so the sdist must be complete). Its
    isolated build environments are made by uv rather than pip when uv is there (the same backend, sooner)."""
    for module in ("build", "twine"):
        if not module_available(module):
            pytest.skip(f"{module} is not installed: pip install -e '.[dev]'")
    with once_per_run(tmp_path_factory, "dist") as (out, made):
        if not made:
            installer = ["--installer", "uv"] if module_available("uv") else []
            bin_dir = str(Path(sys.executable).parent)  # where build looks for the uv the dev extra installs
            done = subprocess.run(
                [sys.executable, "-m", "build", *installer, "--outdir", str(out), str(ROOT)],
                cwd=ROOT,
                env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_SECONDS,
                check=False,
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return Dist(sdist=sdist, wheel=wheel)


def test_artifacts_are_named_for_this_version(dist: Dist) -> None:
    assert dist.sdist.name == f"smsai_mcp-{__version__}.tar.gz"
    assert dist.wheel.name == f"smsai_mcp-{__version__}-py3-none-any.whl"


def test_twine_check_passes(dist: Dist) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist.sdist), str(dist.wheel)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def wheel_metadata(wheel: Path) -> tuple[list[str], Any, str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"smsai_mcp-{__version__}.dist-info"
        metadata = HeaderParser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    return names, metadata, entry_points


def test_wheel_holds_the_package_and_its_metadata(dist: Dist) -> None:
    names, metadata, entry_points = wheel_metadata(dist.wheel)
    assert "smsai_mcp/__init__.py" in names
    assert "smsai_mcp/__main__.py" in names
    assert "smsai_mcp/py.typed" in names, "the package says it is typed"
    assert any(name.startswith("smsai_mcp/sandbox/") for name in names), "--sandbox needs the sandbox"
    assert "smsai_mcp/server/preview/message-preview.html" in names, "the preview app serves this page"
    assert not [name for name in names if name.startswith(("tests/", "manifests/", "scripts/"))]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert metadata["Name"] == "smsai-mcp"
    assert metadata["Version"] == __version__
    assert metadata["Requires-Python"] == ">=3.11"
    requires = metadata.get_all("Requires-Dist")
    assert any(re.match(r"mcp\b", requirement) for requirement in requires)
    assert re.search(r"^smsai-mcp = smsai_mcp\.cli:main$", entry_points, flags=re.MULTILINE)


def test_pypi_description_carries_the_registry_ownership_marker(dist: Dist) -> None:
    """The MCP Registry checks PyPI's description of the package for `mcp-name: <server name>`."""
    _, metadata, _ = wheel_metadata(dist.wheel)
    server = json.loads((ROOT / "manifests" / "server.json").read_text(encoding="utf-8"))
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert f"mcp-name: {server['name']}" in metadata.get_payload()


def test_sdist_is_complete_and_holds_nothing_local(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    for needed in (
        "pyproject.toml",
        "README.md",
        "smsai_mcp/__init__.py",
        "smsai_mcp/py.typed",
        "tests/conftest.py",
        "tests/golden/tools_list.json",
        "manifests/server.json",
        "manifests/mcpb/manifest.json",
        "manifests/mcpb/server/launch.py",
    ):
        assert needed in names, needed
    local = [n for n in names if n.startswith((".tools/", ".venv/", "dist/", ".git/")) or "node_modules" in n]
    assert local == []
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


@dataclass(frozen=True)
class Installed:
    python: Path
    script: Path
    home: Path


def venv_bin(root: Path) -> Path:
    return root / ("Scripts" if os.name == "nt" else "bin")


def uv() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("uv is not installed: pip install -e '.[dev]' brings it")
    return found


@pytest.fixture(scope="session")
def installed(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh virtual environment with only the wheel and what it requires, as `pip install smsai-mcp` makes:
    `uv venv` (no system site-packages) then `uv pip install <wheel>`, which resolves the wheel's Requires-Dist
    from the package index as pip would, in a second rather than pip's half a minute."""
    with once_per_run(tmp_path_factory, "fresh-venv") as (root, made):
        bin_dir = venv_bin(root)
        python = bin_dir / ("python.exe" if os.name == "nt" else "python")
        if not made:
            # uv must not fetch a Python of its own (only the package index is reachable): it uses this one.
            env = clean_env(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
            for command in (
                [uv(), "venv", "--quiet", "--python", sys.executable, str(root)],
                [uv(), "pip", "install", "--quiet", "--python", str(python), str(dist.wheel)],
            ):
                done = subprocess.run(
                    command,
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT_SECONDS,
                    check=False,
                )
                assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    script = bin_dir / ("smsai-mcp.exe" if os.name == "nt" else "smsai-mcp")
    assert script.exists()
    return Installed(python=python, script=script, home=tmp_path_factory.mktemp("user-home"))


def test_installed_package_comes_from_the_fresh_environment(installed: Installed) -> None:
    done = subprocess.run(
        [str(installed.python), "-c", "import smsai_mcp, sys; print(smsai_mcp.__file__); print(sys.prefix)"],
        cwd=installed.home,  # not this checkout: its smsai_mcp/ folder must not be what gets imported
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    module_file, prefix = done.stdout.splitlines()
    assert Path(module_file).is_relative_to(Path(prefix))
    assert "site-packages" in Path(module_file).parts
    assert not Path(module_file).is_relative_to(ROOT)


def test_installed_console_script_reports_its_version(installed: Installed) -> None:
    for command in ([str(installed.script), "--version"], [str(installed.python), "-m", "smsai_mcp", "--version"]):
        done = subprocess.run(
            command, cwd=installed.home, env=clean_env(), capture_output=True, text=True, timeout=60, check=True
        )
        assert done.stdout.strip() == f"smsai-mcp {__version__}"


def test_installed_doctor_passes_on_the_sandbox(installed: Installed, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed.script), "doctor", "--sandbox"],
        cwd=installed.home,
        env=clean_env(SMSAI_STATE_DIR=str(tmp_path / "state"), HOME=str(installed.home)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


BODY = "Your table is ready"


async def exercise(params: StdioServerParameters, era: str, errlog: Path) -> None:
    """What a host does first: list the tools, read the balance, estimate, then send through the token flow.

    The server's log (stderr) ends up in the host's log files: it must hold neither the text nor the token."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    with errlog.open("w") as stderr:
        async with Client(stdio_client(params, errlog=stderr), mode=era) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert list(tools) == [tool["name"] for tool in golden]
            balance = assert_matches_output_schema(tools["check_balance"], await client.call_tool("check_balance", {}))
            assert balance["credits_usd"] == 25.0
            estimate = assert_matches_output_schema(
                tools["estimate_sms"], await client.call_tool("estimate_sms", {"to": TO, "body": "Table ready ☕"})
            )
            assert (estimate["country_code"], estimate["encoding"]) == ("CA", "UCS-2")
            message = {"to": TO, "body": BODY}
            first = assert_matches_output_schema(tools["send_sms"], await client.call_tool("send_sms", message))
            assert first["status"] == "confirmation_required"
            sent = assert_matches_output_schema(
                tools["send_sms"],
                await client.call_tool("send_sms", {**message, "confirmation_token": first["confirmation_token"]}),
            )
            assert sent["status"] == "sent"
            refused = await client.call_tool("send_sms", {"to": "12", "body": "x"})
            assert refused.is_error
            assert text_of(refused).startswith("Nothing was sent.")
    log = await anyio.Path(errlog).read_text(encoding="utf-8")
    assert BODY not in log
    assert first["confirmation_token"] not in log


@pytest.mark.parametrize("era", ERAS)
async def test_installed_wheel_serves_the_sandbox_over_stdio(installed: Installed, tmp_path: Path, era: str) -> None:
    params = StdioServerParameters(
        command=str(installed.script),
        args=["--sandbox"],
        env=clean_env(SMSAI_STATE_DIR=str(tmp_path / "state"), HOME=str(installed.home), SMSAI_CONFIRM="token"),
        cwd=installed.home,
    )
    await exercise(params, era, tmp_path / "stderr.log")


def uvx() -> str:
    found = shutil.which("uvx") or shutil.which("uvx", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("uvx is not installed: pip install -e '.[dev]' brings uv")
    return found


@pytest.fixture(scope="session")
def uvx_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # uv must not fetch a Python of its own (only the package index is reachable): it uses this one.
    return clean_env(
        UV_PYTHON=sys.executable,
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
        UV_TOOL_DIR=str(tmp_path_factory.mktemp("uv-tools")),
    )


def test_uvx_from_the_wheel_reports_its_version(dist: Dist, uvx_env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [uvx(), "--from", str(dist.wheel), "smsai-mcp", "--version"],
        cwd=tmp_path,
        env=uvx_env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"smsai-mcp {__version__}"


def test_uvx_from_a_clone_runs_it_before_the_package_is_published(uvx_env: dict[str, str], tmp_path: Path) -> None:
    """README's uv way for a host until smsai-mcp is on PyPI: `uvx --from <clone> smsai-mcp`."""
    done = subprocess.run(
        [uvx(), "--from", str(ROOT), "smsai-mcp", "--version"],
        cwd=tmp_path,
        env=uvx_env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"smsai-mcp {__version__}"


@pytest.mark.parametrize("era", ERAS)
async def test_uvx_from_the_wheel_serves_the_sandbox(
    dist: Dist, uvx_env: dict[str, str], tmp_path: Path, era: str
) -> None:
    """`uvx --from <wheel> smsai-mcp --sandbox`, the command of every host manifest, with the wheel for PyPI."""
    params = StdioServerParameters(
        command=uvx(),
        args=["--from", str(dist.wheel), "smsai-mcp", "--sandbox"],
        env={**uvx_env, "SMSAI_STATE_DIR": str(tmp_path / "state"), "SMSAI_CONFIRM": "token"},
        cwd=tmp_path,
    )
    await exercise(params, era, tmp_path / "stderr.log")
