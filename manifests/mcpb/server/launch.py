"""Start smsai-mcp for the MCP Bundle (MCPB).

The host (Claude Desktop) runs this file with its Python and passes the user's settings in the environment
(SMSAI_API_TOKEN and the others, from manifest.json's mcp_config.env). It then:

1. runs the published package through uvx, pinned to this bundle's version: uvx brings a Python 3.11+ and
   the dependencies itself, so the Python that runs this file may be old (macOS ships 3.9);
2. failing that, runs smsai-mcp if it is installed for this Python;
3. failing that, says on stderr what to install, and exits 1.

GUI apps on macOS do not see the PATH of a login shell, so uvx is also looked for where its installers put
it. SMSAI_UVX may name it explicitly. Nothing here writes to stdout: stdout carries the MCP protocol.
This file must stay runnable on Python 3.8.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "smsai-mcp"
BUNDLE_ROOT = Path(__file__).resolve().parent.parent


def bundle_version(root: Path = BUNDLE_ROOT) -> str:
    """The version in manifest.json: the bundle runs exactly the package it was released with."""
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return str(manifest["version"])


def uvx_candidates(environ: dict[str, str], home: Path) -> list[Path]:
    """Where uvx may be, in order: SMSAI_UVX, PATH, then the places uv's installers use."""
    exe = "uvx.exe" if os.name == "nt" else "uvx"
    found: list[Path] = []
    explicit = environ.get("SMSAI_UVX", "").strip()
    if explicit:
        found.append(Path(explicit).expanduser())
    on_path = shutil.which(exe, path=environ.get("PATH"))
    if on_path:
        found.append(Path(on_path))
    folders = [home / ".local" / "bin", home / ".cargo" / "bin"]
    if os.name != "nt":
        folders += [Path("/opt/homebrew/bin"), Path("/usr/local/bin"), Path("/home/linuxbrew/.linuxbrew/bin")]
    found += [folder / exe for folder in folders]
    return found


def find_uvx(environ: dict[str, str], home: Path) -> Path | None:
    for candidate in uvx_candidates(environ, home):
        if candidate.is_file() and os.access(str(candidate), os.X_OK):
            return candidate
    return None


def uvx_command(uvx: Path, version: str, argv: list[str]) -> list[str]:
    return [str(uvx), "--from", f"{PACKAGE}=={version}", PACKAGE, *argv]


def main() -> int:
    argv = sys.argv[1:]
    environ = dict(os.environ)
    uvx = find_uvx(environ, Path.home())
    if uvx is not None:
        command = uvx_command(uvx, bundle_version(), argv)
        if os.name == "nt":
            # exec on Windows does not keep the host's pipes attached; run it as a child instead.
            return subprocess.call(command)  # noqa: S603 - a fixed command line, no shell
        os.execv(command[0], command)  # noqa: S606 - replaces this process; stdio stays the host's
    if importlib.util.find_spec("smsai_mcp") is not None:
        from smsai_mcp.cli import main as serve

        return serve(argv)
    sys.stderr.write(
        "smsai-mcp: cannot start. uvx was not found (looked at SMSAI_UVX, PATH, ~/.local/bin, ~/.cargo/bin, "
        "/opt/homebrew/bin and /usr/local/bin) and smsai-mcp is not installed for "
        f"{sys.executable}. Install uv (https://docs.astral.sh/uv/), then restart the app; or set SMSAI_UVX "
        "to the absolute path of uvx.\n"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
