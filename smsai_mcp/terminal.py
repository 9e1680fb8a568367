"""The stdio server started by hand in a terminal: say what it is, and let Ctrl-C stop it.

Without this it waits in silence, and Ctrl-C does not stop it: the SDK reads stdin in a worker thread that a
signal cannot wake, so the process hangs until Enter is pressed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import TextIO

__all__ = ["TERMINAL_NOTE", "let_ctrl_c_end_terminal_input", "note_if_started_in_a_terminal"]

TERMINAL_NOTE = (
    "smsai-mcp speaks MCP on stdin and stdout, and is waiting for what an MCP host (Claude Desktop, Claude Code, "
    "VS Code, Cursor) sends when it starts the server itself.\n"
    "To try it by hand, use the MCP Inspector (Node 22.19 or newer), in a browser or in this terminal:\n"
    "    npx @modelcontextprotocol/inspector smsai-mcp --sandbox\n"
    "    npx @modelcontextprotocol/inspector --cli smsai-mcp --sandbox --method tools/list\n"
    "Press Ctrl-C to stop this server.\n"
)
CHUNK_BYTES = 65536
LOCK_WAIT_SECONDS = 1.0


def note_if_started_in_a_terminal(stdin: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Write the note to stderr (stdout belongs to the protocol) when stdin is a terminal; say whether it did."""
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    try:
        at_a_terminal = stdin is not None and stdin.isatty()
    except ValueError:  # a closed stdin is no terminal
        at_a_terminal = False
    if at_a_terminal:
        stderr.write(TERMINAL_NOTE)
        stderr.flush()
    return at_a_terminal


class _TerminalFeed:
    """Copies the terminal into a pipe that the server reads as stdin; Ctrl-C closes the pipe."""

    def __init__(self, terminal_fd: int, write_end: int) -> None:
        self._terminal_fd = terminal_fd
        self._write_end: int | None = write_end
        self._lock = threading.Lock()  # the pump and the signal handler both close the pipe; only one may

    def pump(self) -> None:
        while True:
            try:
                chunk = os.read(self._terminal_fd, CHUNK_BYTES)
            except OSError:
                chunk = b""
            with self._lock:
                if self._write_end is None:
                    return
                if not chunk:  # Ctrl-D, or the terminal went away
                    self._close()
                    return
                try:
                    _write_all(self._write_end, chunk)
                except OSError:
                    self._close()
                    return

    def on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        # A lock held by a pump stuck on a full pipe must not freeze the event loop in this handler.
        if not self._lock.acquire(timeout=LOCK_WAIT_SECONDS):
            raise KeyboardInterrupt
        try:
            if self._write_end is None:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self._close()
        finally:
            self._lock.release()

    def _close(self) -> None:
        assert self._write_end is not None
        os.close(self._write_end)
        self._write_end = None


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def let_ctrl_c_end_terminal_input() -> None:
    """Put a pipe between the terminal and the server, so that Ctrl-C ends its input and the server stops as it does
    when a host closes stdin. Call from the main thread, before the server runs."""
    terminal_fd = os.dup(0)
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)
    feed = _TerminalFeed(terminal_fd, write_end)
    threading.Thread(target=feed.pump, name="smsai-mcp terminal input", daemon=True).start()
    signal.signal(signal.SIGINT, feed.on_interrupt)
