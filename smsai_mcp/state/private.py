"""Private state on disk: directories the server makes are 0700 and its files 0600, whatever the umask.

A directory the user chose may hold other things or be shared on purpose, so it is never loosened and only
tightened when it lies in the server's own tree (the platform's data directory for smsai-mcp).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "private_dir", "private_file"]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path, *, own_root: Path | None = None) -> Path:
    """`path`, made with any missing parents, each 0700; existing directories inside `own_root` (the server's own
    tree) lose their group and other permissions, and any other existing directory is left as it is."""
    missing = [directory for directory in (path, *path.parents) if not directory.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it a moment ago
        os.chmod(directory, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    if own_root is not None and (path == own_root or own_root in path.parents):
        for directory in (path, *path.parents):
            _tighten(directory)
            if directory == own_root:
                break
    return path


def private_file(path: Path, *, create: bool = True) -> None:
    """Make `path` 0600 (created empty when missing and `create`); a file another user owns is left alone."""
    try:
        current = os.lstat(path)
    except FileNotFoundError:
        current = None
    if current is not None and stat.S_ISREG(current.st_mode) and stat.S_IMODE(current.st_mode) == PRIVATE_FILE_MODE:
        # Already private: no descriptor is opened, since closing one drops every POSIX lock this process holds on
        # the file, SQLite's included (another connection of this process may have the ledger open).
        return
    # Never through a symbolic link: in a shared directory one could point the chmod at another file.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | (os.O_CREAT if create else 0)
    try:
        descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    except FileNotFoundError:
        if create:
            raise
        return
    try:
        status = os.fstat(descriptor)
        if _mine(status) and stat.S_IMODE(status.st_mode) != PRIVATE_FILE_MODE:
            os.chmod(descriptor if os.chmod in os.supports_fd else path, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)


def _tighten(directory: Path) -> None:
    status = directory.stat()
    current = stat.S_IMODE(status.st_mode)
    if _mine(status) and current & 0o077:
        os.chmod(directory, current & ~0o077)


def _mine(status: os.stat_result) -> bool:
    return not hasattr(os, "geteuid") or status.st_uid == os.geteuid()  # no owners to compare on Windows
