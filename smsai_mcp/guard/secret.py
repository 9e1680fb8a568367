"""The install's signing secret for confirmation tokens, made once, whole, and private."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from pathlib import Path

from smsai_mcp.config import ConfigError
from smsai_mcp.state.private import private_dir, private_file

__all__ = ["SECRET_BYTES", "load_or_create_secret"]

SECRET_BYTES = 32
_SECRET_WAIT_SECONDS = 2.0  # how long a secret of the wrong length is given to become whole


def load_or_create_secret(state_dir: Path) -> bytes:
    """The install's own signing secret, made once and kept private in the state directory.

    It is written whole to a temporary file, flushed to disk, then linked into place, which never replaces a
    secret already there: a reader sees no secret or all of it, and processes starting together share one.
    """
    path = state_dir / "secret"
    secret = _read_secret(path)
    if secret is not None:
        return secret
    private_dir(state_dir)
    descriptor, temporary = tempfile.mkstemp(dir=state_dir, prefix=".secret-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        private_file(Path(temporary), create=False)  # 0600 whatever the umask, before anyone can see the name
        with contextlib.suppress(FileExistsError):  # another process linked its secret first: use theirs
            os.link(temporary, path)
            _sync_directory(state_dir)
    finally:
        os.unlink(temporary)
    secret = _read_secret(path)
    if secret is None:
        raise ConfigError(f"The signing secret in {state_dir} disappeared while it was being made; start again.")
    return secret


def _read_secret(path: Path) -> bytes | None:
    """None when there is no secret yet. A file of the wrong length is never used: it is waited for briefly (an
    older version may still be writing it in place), then refused."""
    deadline = time.monotonic() + _SECRET_WAIT_SECONDS
    while True:
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(secret) == SECRET_BYTES:
            private_file(path, create=False)  # an older version's file may be looser
            return secret
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"The signing secret {path} holds {len(secret)} bytes instead of {SECRET_BYTES}, so it is damaged. "
                "Remove it (a new one is made at the next start; confirmation tokens already issued stop working), "
                "or set SMSAI_STATE_SECRET."
            )
        time.sleep(0.02)


def _sync_directory(directory: Path) -> None:
    """Make the new name durable too; not every platform can open a directory."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
