"""Issue 9 attacked as a crashing host, a restarted process, processes sharing a state directory and replicas
sharing Redis would. One test per hole found, named after it; each drives real MCP clients (and the real
`smsai-mcp attempts` command) against the sandbox over loopback HTTP and counts the POSTs that reached it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult
from pydantic import SecretStr
from starlette.types import Receive

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from smsai_mcp.sandbox import misbehave as acting_out
from smsai_mcp.sandbox.faults import Fault
from tests.conftest import SEND_PATH, posts, text_of
from tests.guard_helpers import (
    US,
    Person,
    answer,
    asked,
    assert_nothing_sent,
    balance,
    connect,
    ledger,
    send,
    sent,
    structured,
    until,
    upstream_env,
)
from tests.processes import SERVER, free_port, http_server, server_env
from tests.test_attempts_cli import unknown_send
from tests.test_service import connect as connect_http

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


# A fault delay that means "until the test lets it go": a request held with it stays in flight while a person's
# `smsai-mcp attempts` acts, however slowly a loaded machine starts the command, and not a moment longer.
HELD = 3600.0
# The server's SMSAI_TIMEOUT_SECONDS in the tests that hold its POST: longer than any hold.
PATIENT_SECONDS = 120.0


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Set it to let go of the requests held by faults of delay HELD (set again when the test ends, so that none
    outlives it). Other delays are waited out as ever; a held request whose client hangs up ends as theirs do."""
    released = threading.Event()
    wait_out = acting_out._client_left_within  # the sandbox's wait before a faulted answer

    async def held_or_waited_out(seconds: float, receive: Receive) -> bool:
        if seconds != HELD:
            return await wait_out(seconds, receive)
        left = False

        async def client_hangs_up() -> None:
            nonlocal left
            while (await receive())["type"] != "http.disconnect":
                pass
            left = True

        async with anyio.create_task_group() as group:
            group.start_soon(client_hangs_up)
            while not (left or released.is_set()):  # noqa: ASYNC110 - set by the test, on another thread
                await anyio.sleep(0.01)
            group.cancel_scope.cancel()
        return left

    monkeypatch.setattr(acting_out, "_client_left_within", held_or_waited_out)
    try:
        yield released
    finally:
        released.set()


# 1. A person settles a send that is still in flight in a live process


@pytest.mark.slow
async def test_resolve_not_sent_of_a_send_still_in_flight_in_a_live_process_never_lets_it_go_out_twice(
    settings: Settings, sandbox: Sandbox, sandbox_url: str, release: threading.Event
) -> None:
    """The server's POST takes longer than the command's own idea of "in flight" (the host config gives the
    server a longer SMSAI_TIMEOUT_SECONDS than the person's shell has; here the server's clock runs behind by as
    much). The process that owns the pending send is alive: a person's --not-sent must not release it."""
    assert settings.state_dir is not None
    server_settings = settings.model_copy(update={"timeout_seconds": PATIENT_SECONDS})
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=HELD))
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
            release.set()  # the POST answers once the person's command is done
        assert sent(results[0])["message"]["to"] == US
        again = structured(await send(client, body=BODY))
    assert posts(sandbox) == 1, again
    assert verdict.returncode == 2, verdict.stdout + verdict.stderr
    assert "may still be in flight" in verdict.stderr
    assert again["status"] == "duplicate"
    assert [attempt["status"] for attempt in ledger(settings.state_dir)] == ["sent"]
    assert posts(sandbox) == 1


# 2. A person's verdict racing the background reconciliation of a running server


@pytest.mark.slow
async def test_resolve_sent_racing_background_reconciliation_never_books_one_message_on_two_sends(
    settings: Settings, sandbox: Sandbox, sandbox_url: str, release: threading.Event
) -> None:
    """Two open sends of one text (two senders); the message goes out after all, and the list does not say its
    sender. While the person's command reads it from the API, a server starts and its reconciliation claims it
    for the other send."""
    assert settings.state_dir is not None
    state_dir = settings.state_dir
    first = await unknown_send(settings, sandbox, sender_id="Acme")
    second = await unknown_send(settings, sandbox, sender_id="Bistro")
    late = sandbox.state.send(sandbox.state.accounts[SANDBOX_TOKEN], US, BODY, "Bistro", Decimal("0.0200"), 2)
    show = f"/api/v1/sms/{late.id}"
    sandbox.state.add_fault(Fault(method="GET", path=show, response="normal", delay_seconds=HELD))
    unsaid = Fault(method="GET", path="/api/v1/sms", response="normal", omit_fields=["sender_id"], times=None)
    sandbox.state.add_fault(unsaid)
    verdicts: list[subprocess.CompletedProcess[str]] = []

    async def person_says_second_went_out() -> None:
        person = person_env(sandbox_url, state_dir)
        verdicts.append(await attempts(person, "resolve", second, "--sent", str(late.id)))

    async with anyio.create_task_group() as group:
        group.start_soon(person_says_second_went_out)
        await until(lambda: sandbox.state.count("GET", show) == 1)  # the command is reading the message
        async with connect(settings, "auto", reconcile_every_seconds=0.2):
            await until(lambda: "sent" in {attempt["status"] for attempt in ledger(state_dir)})
        release.set()  # the command's read answers once the server's reconciliation has claimed the message
    [verdict] = verdicts
    rows = {attempt["id"]: attempt for attempt in ledger(state_dir)}
    booked = [attempt["id"] for attempt in rows.values() if attempt["message_id"] == late.id]
    assert len(booked) == 1, rows  # one message settles one send, and its charge is booked once
    assert booked == [first]  # the reconciliation came first
    assert rows[second]["status"] == "unknown"
    assert verdict.returncode != 0, verdict.stdout
    assert "already matched to another send" in verdict.stderr
    assert posts(sandbox) == 2


# 3. Two servers sharing one state directory reconcile the same open send


def audited(state_dir: Path, attempt_id: str) -> list[str]:
    """The outcomes the audit log records for one attempt, in order."""
    lines = [json.loads(line) for line in (state_dir / "audit.jsonl").read_text().splitlines()]
    return [line["outcome"] for line in lines if line.get("attempt") == attempt_id]


@pytest.mark.slow
@pytest.mark.parametrize("went_out", [True, False], ids=["went-out", "never-went-out"])
async def test_two_servers_reconciling_one_open_send_together_audit_its_outcome_once(
    settings: Settings, sandbox: Sandbox, went_out: bool
) -> None:
    assert settings.state_dir is not None
    state_dir = settings.state_dir
    attempt_id = await unknown_send(settings, sandbox)
    if went_out:  # the API took it after all; the list leaves the text out, so each lookup asks for it (slowly)
        late = sandbox.state.send(sandbox.state.accounts[SANDBOX_TOKEN], US, BODY, None, Decimal("0.0100"), 1)
        sandbox.state.add_fault(
            Fault(method="GET", path="/api/v1/sms", response="normal", omit_fields=["body"], times=None)
        )
        sandbox.state.add_fault(
            Fault(method="GET", path=f"/api/v1/sms/{late.id}", response="normal", delay_seconds=1.0, times=2)
        )
        clock = Clock()
    else:  # a full lookup 15 minutes on, slow enough that the two overlap
        sandbox.state.add_fault(Fault(method="GET", path="/api/v1/sms", response="normal", delay_seconds=1.0, times=2))
        clock = Clock(960)
    outcome = "sent" if went_out else "released"
    async with connect(settings, "legacy", clock=clock), connect(settings, "auto", clock=clock):
        await until(lambda: outcome in audited(state_dir, attempt_id))
        await anyio.sleep(1.0)  # the slower of the two passes ends too
    assert [attempt["status"] for attempt in ledger(state_dir)] == [outcome]
    assert audited(state_dir, attempt_id).count(outcome) == 1, audited(state_dir, attempt_id)
    assert posts(sandbox) == 1


@pytest.mark.slow
async def test_resolve_sent_while_the_sending_server_looks_the_message_up_audits_it_once(
    settings: Settings, sandbox: Sandbox, sandbox_url: str, release: threading.Event
) -> None:
    """The API took the message but its answer was lost; while the server looks it up (the list leaves the text
    out, so it asks for the message itself, slowly), a person who saw it on the phone settles it. Both find the
    same message: its outcome is recorded once."""
    assert settings.state_dir is not None
    state_dir = settings.state_dir
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=502, process=True))
    listing = Fault(method="GET", path="/api/v1/sms", response="normal", delay_seconds=1.0, omit_fields=["body"])
    sandbox.state.add_fault(listing)
    results: list[Any] = []
    async with connect(settings.model_copy(update={"timeout_seconds": PATIENT_SECONDS}), "auto") as client:

        async def send_and_look_it_up() -> None:
            results.append(await send(client, body=BODY))

        async with anyio.create_task_group() as group:
            group.start_soon(send_and_look_it_up)
            await until(lambda: posts(sandbox) == 1)
            [message] = sandbox.state.messages
            show = f"/api/v1/sms/{message.id}"
            sandbox.state.add_fault(Fault(method="GET", path=show, response="normal", delay_seconds=HELD))
            await until(lambda: sandbox.state.count("GET", show) == 1)  # the lookup is reading the message
            [attempt] = ledger(state_dir)
            person = person_env(sandbox_url, state_dir)
            verdict = await attempts(person, "resolve", attempt["id"], "--sent", str(message.id))
            release.set()  # the lookup's read answers once the person's command is done
    assert verdict.returncode == 0, verdict.stderr
    assert sent(results[0])["message"]["id"] == message.id
    assert audited(state_dir, attempt["id"]).count("sent") == 1, audited(state_dir, attempt["id"])
    assert posts(sandbox) == 1


# 4. The state directory removed or full while the server runs


async def test_a_state_dir_removed_mid_run_refuses_saying_nothing_was_sent(
    settings: Settings, sandbox: Sandbox
) -> None:
    assert settings.state_dir is not None
    async with connect(settings, "auto") as client:
        sent(await send(client, body="before the directory went"))
        shutil.rmtree(settings.state_dir)  # a clean-up script, or a person tidying their home
        result = await send(client, body="after the directory went")
    assert_nothing_sent(result, sandbox, posts_so_far=1)
    assert "SMSAI_STATE_DIR removed" in text_of(result)


async def test_a_server_whose_state_dir_was_removed_and_made_anew_never_sends_from_a_ledger_of_its_own(
    settings: Settings, sandbox: Sandbox
) -> None:
    """A host session keeps running after its state directory was removed; a new session makes it anew. The old one
    must not go on in a ledger nobody else can see: the same message would go out twice."""
    assert settings.state_dir is not None
    async with connect(settings, "auto") as old_session:
        sent(await send(old_session, body="before the directory went"))
        shutil.rmtree(settings.state_dir)
        async with connect(settings, "legacy") as new_session:
            sent(await send(new_session, body=BODY))
            result = await send(old_session, body=BODY)  # identical, inside the duplicate window
    assert_nothing_sent(result, sandbox, posts_so_far=2)


# Blocks of 1 KiB a server process may write to any file: room for the ledger (its schema and migration now take over
# 200 KiB of log) and its first few sends, then a full disk.
FULL_AFTER_KIB = 400


@pytest.mark.slow
@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_a_state_dir_that_fills_up_mid_run_refuses_saying_nothing_was_sent_and_loses_no_charge(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    state_dir = tmp_path / "state"
    env = server_env(upstream_env(sandbox_url, state_dir, SMSAI_DUPLICATE_WINDOW_SECONDS="0"))
    command = f"ulimit -f {FULL_AFTER_KIB}; exec {' '.join(SERVER)}"  # the disk is full for this process alone
    params = StdioServerParameters(command="bash", args=["-c", command], env=env)
    refusals = 0
    with (tmp_path / "full.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=era) as client:
            for n in range(20):
                before = posts(sandbox)
                result = await send(client, body=f"message {n}")
                if result.is_error and posts(sandbox) == before:
                    assert_nothing_sent(result, sandbox, posts_so_far=before)
                    refusals += 1
                if refusals == 2:
                    break
    assert refusals == 2, "the ledger never filled up"
    # Started again with room to write, the server books every message the API took, once.
    async with connect(Settings.from_env(env), era):
        await until(lambda: {attempt["status"] for attempt in ledger(state_dir)} <= {"sent", "released"})
    booked = sorted(attempt["message_id"] for attempt in ledger(state_dir) if attempt["status"] == "sent")
    assert booked == sorted(message.id for message in sandbox.state.messages)
    assert posts(sandbox) == len(sandbox.state.messages)


# 5. Redis restarted (or flushed) while a send is in flight


class OwnRedis:
    """A redis-server of this test's own, on a free port and without persistence, that it may restart."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = folder
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen([*command, "--dir", str(self._folder)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout != b"PONG\n":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()  # the server this test started, by its id
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on the PATH")
    redis = OwnRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.mark.slow
async def test_redis_restarted_while_a_send_is_in_flight_still_books_it_and_never_sends_it_twice(
    settings: Settings, sandbox: Sandbox, own_redis: OwnRedis
) -> None:
    replica = settings.model_copy(update={"state_url": SecretStr(own_redis.url)})
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=2.0))
    results: list[Any] = []
    async with connect(replica, "auto") as client:

        async def send_slowly() -> None:
            results.append(await send(client, body=BODY))

        async with anyio.create_task_group() as group:
            group.start_soon(send_slowly)
            await until(lambda: posts(sandbox) == 1)
            await anyio.to_thread.run_sync(own_redis.restart)  # every key is gone, the reservation too
        first = sent(results[0])
        again = structured(await send(client, body=BODY))
        spent = (await balance(client))["spent_today_usd"]
    assert (again["status"], again["message"]["id"]) == ("duplicate", first["message"]["id"])
    assert spent == float(sandbox.state.messages[0].price_usd)
    assert posts(sandbox) == 1


# 6. A crashed server that its host has not reaped yet


@pytest.mark.slow
async def test_a_retry_while_the_crashed_servers_host_has_not_reaped_it_yet_is_refused_as_unknown(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """A server dies mid-send (SIGKILL) and its parent has not waited for it yet: a zombie still answers kill(pid,
    0). The agent at once retries through another server on the same state, without a duplicate window."""
    state_dir = tmp_path / "state"
    env = upstream_env(sandbox_url, state_dir, SMSAI_DUPLICATE_WINDOW_SECONDS="0")
    slow = Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=3.0, process_after_delay=True)
    sandbox.state.add_fault(slow)
    with http_server([], env, tmp_path / "crashed.log", keep_process=True) as (url, process):

        async def send_and_lose_the_answer() -> None:
            with contextlib.suppress(Exception):  # the server dies under the call
                async with connect_http(url, None, "auto") as doomed:
                    await send(doomed, body=BODY)

        async with anyio.create_task_group() as group:
            group.start_soon(send_and_lose_the_answer)
            await until(lambda: posts(sandbox) == 1)
            os.kill(process.pid, signal.SIGKILL)  # the server this test started, by its id; not waited for yet
            async with connect(Settings.from_env(server_env(env)), "legacy") as other_session:
                retry = await send(other_session, body=BODY)
    assert retry.is_error
    assert "must not be retried" in text_of(retry), text_of(retry)
    assert posts(sandbox) == 1


# 7. A person on another host settles a replica's send that is still in flight


@pytest.fixture
def another_host() -> list[str]:
    """The start of a command run as if on another machine: a host name of its own, in a new UTS namespace."""
    if subprocess.run(["unshare", "--uts", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot make a UTS namespace here")
    return ["unshare", "--uts", "sh", "-c", 'hostname another-host && exec "$@"', "sh"]


@pytest.mark.slow
async def test_resolve_not_sent_from_another_host_of_a_replicas_send_still_in_flight_never_lets_it_go_out_twice(
    settings: Settings,
    sandbox: Sandbox,
    sandbox_url: str,
    own_redis: OwnRedis,
    another_host: list[str],
    release: threading.Event,
) -> None:
    """Replicas share Redis; a person runs the command on another machine, where no process list can tell whether
    the replica is alive. Only the age of the send can, and it must allow for the longest send a replica may make."""
    from smsai_mcp.state.redis import RedisStore

    assert settings.state_dir is not None
    replica = settings.model_copy(update={"timeout_seconds": PATIENT_SECONDS, "state_url": SecretStr(own_redis.url)})
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=HELD))
    results: list[Any] = []
    store = RedisStore.from_url(own_redis.url)
    try:
        async with connect(replica, "auto", clock=Clock(-400)) as client:

            async def send_slowly() -> None:
                results.append(await send(client, body=BODY))

            async with anyio.create_task_group() as group:
                group.start_soon(send_slowly)
                await until(lambda: posts(sandbox) == 1)
                [attempt] = await store.unresolved()
                person = person_env(sandbox_url, settings.state_dir, SMSAI_STATE_URL=own_redis.url)
                command = [*another_host, *SERVER, "attempts", "resolve", attempt.id, "--not-sent"]
                verdict = await anyio.to_thread.run_sync(
                    lambda: subprocess.run(command, env=person, capture_output=True, text=True, timeout=60, check=False)
                )
                release.set()  # the POST answers once the person's command is done
            assert sent(results[0])["message"]["to"] == US
            again = structured(await send(client, body=BODY))
    finally:
        await store.close()
    assert posts(sandbox) == 1, again
    assert verdict.returncode == 2, verdict.stdout + verdict.stderr
    assert "may still be in flight" in verdict.stderr
    assert again["status"] == "duplicate"


# 8. A restart between the question and the person's answer (2026-07-28)


@pytest.mark.slow
async def test_a_confirmation_answered_after_the_server_restarted_is_a_tool_error_saying_nothing_was_sent(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """stdio servers restart with every host session: the person's answer comes back to a new process, which cannot
    open the request state the old one sealed. A protocol error would leave the agent guessing; nothing went out."""
    env = server_env(upstream_env(sandbox_url, tmp_path / "state", SMSAI_CONFIRM="auto"))
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    arguments = {"to": US, "body": BODY}
    with (tmp_path / "server.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="auto", elicitation_callback=Person()) as before:
            first = await asked(before, arguments)
        async with Client(stdio_client(params, errlog=errlog), mode="auto", elicitation_callback=Person()) as after:
            retry = await answer(after, arguments, first)
            assert isinstance(retry, CallToolResult), retry
            again = await asked(after, arguments)  # asking afresh works
    text = assert_nothing_sent(retry, sandbox, posts_so_far=0)
    assert "again" in text
    assert again.input_requests


# 9. Two processes sharing one ledger file


def open_and_close_the_ledger(database: Path, until_stopped: threading.Event) -> int:
    """Another process arriving at the ledger again and again (a new host session, `smsai-mcp attempts list`, a
    person's sqlite3 shell): each opens it, reads, and closes it."""
    opened = 0
    while not until_stopped.is_set():
        connection = sqlite3.connect(database, timeout=5)
        try:
            connection.execute("SELECT COUNT(*) FROM attempts").fetchone()
        finally:
            connection.close()
        opened += 1
    return opened


@pytest.mark.slow
@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_other_processes_opening_the_ledger_while_a_server_runs_never_crash_or_blind_it(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    """SQLite tells the processes sharing a ledger apart by locks on its -shm file. A server that opens and closes
    that file itself drops its own lock, and the next process to open the ledger believes it is alone: it resets
    the -shm under the server, which dies of a bus error or reads a ledger that is not there."""
    state_dir = tmp_path / "state"
    env = server_env(upstream_env(sandbox_url, state_dir))
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    with (tmp_path / "earlier.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=era) as earlier:
            sent(await send(earlier, body="from an earlier session"))
    holder = sqlite3.connect(state_dir / "state.db")  # another session has the ledger open as the server starts
    holder.execute("SELECT COUNT(*) FROM attempts").fetchone()
    stop = threading.Event()
    results: list[Any] = []
    with (tmp_path / "server.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=era) as client:
            await client.list_tools()
            holder.close()
            async with anyio.create_task_group() as group:
                group.start_soon(anyio.to_thread.run_sync, open_and_close_the_ledger, state_dir / "state.db", stop)
                try:
                    for n in range(15):
                        results.append(await send(client, body=f"message {n}"))
                finally:
                    stop.set()
    assert "Bus error" not in (tmp_path / "server.log").read_text()
    assert [sent(result)["message"]["to"] for result in results] == [US] * 15
    assert posts(sandbox) == 16


# 10. Two open sends of one text from two senders


@pytest.mark.slow
async def test_a_lookup_never_settles_a_send_with_another_senders_message(settings: Settings, sandbox: Sandbox) -> None:
    """Two sends of one text to one number, from two senders, both lost with their answers; only the second went
    out. Settling the first with it tells the agent that the first went out (a duplicate of the other's message)
    when it never did, and leaves the second to be released 15 minutes on although it went out."""
    assert settings.state_dir is not None
    state_dir = settings.state_dir
    acme = await unknown_send(settings, sandbox, sender_id="Acme")
    bistro = await unknown_send(settings, sandbox, sender_id="Bistro")
    late = sandbox.state.send(sandbox.state.accounts[SANDBOX_TOKEN], US, BODY, "Bistro", Decimal("0.0100"), 1)
    clock = Clock()
    async with connect(settings, "auto", clock=clock) as client:
        await until(lambda: "sent" in {attempt["status"] for attempt in ledger(state_dir)})
        retry_acme = await send(client, body=BODY, sender_id="Acme")
        retry_bistro = await send(client, body=BODY, sender_id="Bistro")
    rows = {attempt["id"]: attempt for attempt in ledger(state_dir)}
    assert (rows[bistro]["status"], rows[bistro]["message_id"]) == ("sent", late.id)
    assert rows[acme]["status"] == "unknown"
    assert "must not be retried" in text_of(retry_acme), text_of(retry_acme)
    assert (structured(retry_bistro)["status"], structured(retry_bistro)["message"]["id"]) == ("duplicate", late.id)
    clock.offset = 960  # a full lookup 15 minutes on: the first never went out, so it may go now, once
    async with connect(settings, "legacy", clock=clock, reconcile_every_seconds=0.2) as client:
        await until(lambda: "released" in {attempt["status"] for attempt in ledger(state_dir)})
        assert sent(await send(client, body=BODY, sender_id="Acme"))["message"]["to"] == US
    assert [message.sender_id for message in sandbox.state.messages] == ["Bistro", "Acme"]
    assert posts(sandbox) == 3
