"""Review round 18: a hostile upstream's JSON nested past Python's stack, and what a client writes to stdio that the
SDK runs: request ids used twice, lines ended by a lone CR, bytes that are not UTF-8, lines nested past the stack."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr

from smsai_mcp.client.api import SmsApi
from smsai_mcp.client.errors import ApiStatusError, InvalidBalance, InvalidResponse
from smsai_mcp.guard.balance import BalanceReader
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.stdio import Unanswered, _copy_stdin, _lines
from tests.conftest import SEND_PATH, posts
from tests.guard_helpers import upstream_env
from tests.processes import stdio_server

pytestmark = pytest.mark.anyio

NESTED_PAST_THE_STACK = b'{"credits_usd": 5, "junk": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def api_answering(status: int, body: bytes) -> SmsApi:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=body, headers={"Content-Type": "application/json"})

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    return SmsApi(http, token=SecretStr("t0ken"), base_url="https://upstream.test/api/v1")


async def test_a_balance_nested_past_the_stack_is_an_answer_that_is_not_json() -> None:
    with pytest.raises(InvalidResponse) as raised:
        await api_answering(200, NESTED_PAST_THE_STACK).balance()
    assert not isinstance(raised.value, InvalidBalance)
    assert "not JSON" in raised.value.message


async def test_a_question_leaves_out_a_balance_nested_past_the_stack() -> None:
    # Not an internal error, which a send would have to word as "the message may have been sent".
    assert await BalanceReader(api_answering(200, NESTED_PAST_THE_STACK)).read_now() is None


async def test_an_error_answer_nested_past_the_stack_is_still_its_status() -> None:
    with pytest.raises(ApiStatusError) as raised:
        await api_answering(422, NESTED_PAST_THE_STACK).me()
    assert raised.value.status_code == 422


def _line(message: dict[str, object]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **message}).encode()


def test_a_request_id_used_twice_stays_in_flight_until_both_are_answered() -> None:
    # The SDK runs both requests and answers each; the first answer must not drop the send still in flight.
    unanswered = Unanswered()
    unanswered.read(_line({"id": 3, "method": "tools/call", "params": {"name": "send_sms"}}))
    unanswered.read(_line({"id": 3, "method": "ping"}))
    unanswered.written(_line({"id": 3, "result": {}}))
    assert len(unanswered) == 1
    unanswered.written(_line({"id": 3, "result": {"content": []}}))
    assert len(unanswered) == 0


def test_a_refused_listen_sharing_a_send_s_id_does_not_drop_the_send() -> None:
    # A listen is not counted as in flight; an error answer to one must not count as the send's answer.
    for listen_first in (True, False):
        unanswered = Unanswered()
        listen = _line({"id": "s", "method": "subscriptions/listen", "params": {}})
        call = _line({"id": "s", "method": "tools/call", "params": {"name": "send_sms"}})
        for line in (listen, call) if listen_first else (call, listen):
            unanswered.read(line)
        unanswered.written(_line({"id": "s", "error": {"code": -32602, "message": "refused"}}))
        assert len(unanswered) == 1, listen_first


def test_a_batch_of_a_listen_and_a_send_counts_the_send() -> None:
    unanswered = Unanswered()
    listen = {"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": {}}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "send_sms"}}
    unanswered.read(json.dumps([listen, call]).encode())
    assert len(unanswered) == 1


SEND = _line({"id": 5, "method": "tools/call", "params": {"name": "send_sms", "arguments": {"body": "hi"}}})


def test_requests_split_by_a_lone_carriage_return_are_each_counted() -> None:
    # The SDK reads stdin with universal newlines: it runs both; a send it runs but nobody counted was dropped.
    complete, rest = _lines(b"", _line({"id": 4, "method": "ping"}) + b"\r" + SEND + b"\r")
    unanswered = Unanswered()
    for line in [*complete, rest]:
        unanswered.read(line)
    assert len(unanswered) == 2


def test_a_request_with_bytes_that_are_not_utf8_is_counted() -> None:
    # The SDK replaces such a byte and runs the call all the same.
    unanswered = Unanswered()
    unanswered.read(SEND.replace(b"hi", b"hi \xff"))
    assert len(unanswered) == 1


def _copied(sent: bytes) -> tuple[bytes, Unanswered]:
    """What `_copy_stdin` hands the SDK of `sent`, and the requests it noted."""
    wire_read, wire_write = os.pipe()
    sdk_read, sdk_write = os.pipe()
    unanswered = Unanswered()
    copier = threading.Thread(target=_copy_stdin, args=(wire_read, sdk_write, unanswered, 0.0))
    copier.start()
    with os.fdopen(wire_write, "wb") as wire:
        wire.write(sent)
    received = b""
    with os.fdopen(sdk_read, "rb") as sdk:
        while chunk := sdk.read(65_536):
            received += chunk
    copier.join(10)
    os.close(wire_read)
    return received, unanswered


def test_a_line_nested_past_the_stack_does_not_stop_stdin_reaching_the_server() -> None:
    # Its RecursionError ended the copy of stdin: the SDK saw stdin end and cancelled the send in flight.
    sent = SEND + b"\n" + b"[" * 100_000 + b"\n" + _line({"id": 6, "method": "ping"}) + b"\n"
    received, unanswered = _copied(sent)
    assert received == sent
    assert len(unanswered) == 2


@pytest.mark.parametrize("method", [["subscriptions/listen"], {"name": "x"}])
def test_a_method_that_is_no_name_does_not_stop_stdin_reaching_the_server(method: object) -> None:
    # `method in _NEVER_ANSWERED` raised on a list or an object: stdin's copy ended and the send in flight with it.
    sent = SEND + b"\n" + _line({"id": 6, "method": method}) + b"\n" + _line({"id": 7, "method": "ping"}) + b"\n"
    received, unanswered = _copied(sent)
    assert received == sent
    assert len(unanswered) == 2


# The same over a real stdio server: a send whose POST is in flight when stdin closes still gets its answer.

HOSTILE_AFTER_THE_SEND = {
    "a method that is a list": _line({"id": 9, "method": ["subscriptions/listen"]}) + b"\n",
    "a line nested past the stack": b"[" * 100_000 + b"\n",
}


def _send_line(body: bytes = b"stdin closes mid-send") -> bytes:
    call = {"name": "send_sms", "arguments": {"to": "+12025551234", "body": "BODY"}}
    return _line({"id": 2, "method": "tools/call", "params": call}).replace(b"BODY", body)


@pytest.mark.slow
@pytest.mark.parametrize(
    "wire",
    [pytest.param(_send_line() + b"\n" + hostile, id=name) for name, hostile in HOSTILE_AFTER_THE_SEND.items()]
    + [
        pytest.param(
            _line({"id": 8, "method": "ping"})
            + b"\r"
            + _send_line()
            + b"\r"
            + _line({"id": 10, "method": "ping"})
            + b"\r",
            id="lines ended by a lone CR",
        ),
        pytest.param(_send_line(b"caf\xe9 at eight") + b"\n", id="a byte that is not UTF-8"),
    ],
)
def test_a_send_in_flight_is_answered_whatever_else_stdin_carried(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, wire: bytes
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=1.5))
    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    opening = _line({"id": 1, "method": "initialize", "params": hello}) + b"\n"
    opening += _line({"method": "notifications/initialized"}) + b"\n"
    process = stdio_server([], upstream_env(sandbox_url, tmp_path))
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(opening + wire)
    process.stdin.flush()
    deadline = time.monotonic() + 20
    while posts(sandbox) == 0:  # the POST is in flight at the sandbox, held for 1.5 s
        assert time.monotonic() < deadline, "the send never reached the upstream"
        assert process.poll() is None
        time.sleep(0.02)
    process.stdin.close()
    answers = [json.loads(line) for line in process.stdout.read().splitlines() if line.strip()]
    process.wait(timeout=30)
    [answer] = [message for message in answers if message.get("id") == 2]
    assert answer["result"]["structuredContent"]["status"] == "sent", answer
    assert posts(sandbox) == 1


@pytest.mark.slow
@pytest.mark.parametrize("end", [b"", b"\r"], ids=["no line end", "a lone CR"])
def test_a_last_request_without_a_newline_is_answered_when_stdin_closes(tmp_path: Path, end: bytes) -> None:
    """`printf` with no final newline: the SDK reads that line only past stdin's end, which waited for its answer
    (a minute, then the request went unanswered)."""
    hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    wire = _line({"id": 1, "method": "initialize", "params": hello}) + b"\n"
    wire += _line({"method": "notifications/initialized"}) + b"\n" + _line({"id": "list", "method": "tools/list"})
    process = stdio_server(["--sandbox"], {"SMSAI_STATE_DIR": str(tmp_path / "state")})
    started = time.monotonic()
    try:
        answered, _ = process.communicate(wire + end, timeout=50)
    finally:
        process.kill()  # none outlives the test when it fails
    answers = [json.loads(line) for line in answered.splitlines()]
    assert [answer.get("id") for answer in answers] == [1, "list"], answers
    assert "tools" in answers[1]["result"]
    assert time.monotonic() - started < 20
    assert process.returncode == 0
