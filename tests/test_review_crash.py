"""Issue 9 attacked as a crashing host, a restarted process, processes sharing a state directory and replicas
sharing Redis would. One test per hole found, named after it; each drives real MCP clients (and the real
`smsai-mcp attempts` command) against the sandbox over loopback HTTP and counts the POSTs that reached it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from tests.conftest import SEND_PATH, posts
from tests.guard_helpers import US, connect, ledger, send, sent, structured, until, upstream_env
from tests.processes import SERVER, server_env

pytestmark = pytest.mark.anyio

BODY = "Gate code 4821"


class Clock:
    """A server's clock, `offset` seconds from the real one."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


async def attempts(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`smsai-mcp attempts ...` as a person runs it, off the event loop so that in-memory servers keep serving."""
    command = [*SERVER, "attempts", *args]
    return await anyio.to_thread.run_sync(
        lambda: subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    )


def person_env(sandbox_url: str, state_dir: Path, **extra: str) -> dict[str, str]:
    """The person's shell: the same state and token as the server, and no SMSAI_TIMEOUT_SECONDS of its own."""
    return server_env(upstream_env(sandbox_url, state_dir, **extra))


# 1. A person settles a send that is still in flight in a live process


@pytest.mark.slow
async def test_resolve_not_sent_of_a_send_still_in_flight_in_a_live_process_never_lets_it_go_out_twice(
    settings: Settings, sandbox: Sandbox, sandbox_url: str
) -> None:
    """The server's POST takes longer than the command's own idea of "in flight" (the host config gives the
    server a longer SMSAI_TIMEOUT_SECONDS than the person's shell has; here the server's clock runs behind by as
    much). The process that owns the pending send is alive: a person's --not-sent must not release it."""
    assert settings.state_dir is not None
    server_settings = settings.model_copy(update={"timeout_seconds": 10.0})
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=3.0))
    results: list[Any] = []
    async with connect(server_settings, "auto", clock=Clock(-400)) as client:

        async def send_slowly() -> None:
            results.append(await send(client, body=BODY))

        async with anyio.create_task_group() as group:
            group.start_soon(send_slowly)
            await until(lambda: posts(sandbox) == 1)
            [attempt] = ledger(settings.state_dir)
            assert attempt["status"] == "pending"
            person = person_env(sandbox_url, settings.state_dir)
            verdict = await attempts(person, "resolve", attempt["id"], "--not-sent")
        assert sent(results[0])["message"]["to"] == US
        again = structured(await send(client, body=BODY))
    assert posts(sandbox) == 1, again
    assert verdict.returncode == 2, verdict.stdout + verdict.stderr
    assert "may still be in flight" in verdict.stderr
    assert again["status"] == "duplicate"
    assert [attempt["status"] for attempt in ledger(settings.state_dir)] == ["sent"]
    assert posts(sandbox) == 1
