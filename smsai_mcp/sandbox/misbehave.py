"""Acting out a fault at the ASGI level, where a slow, broken or lost answer looks as it would on the wire."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.sandbox.laravel import json_text

SERVER_ERROR_BODY = b'{"message":"Server Error"}'


class ConnectionDroppedError(Exception):
    """Raised mid-response so the server closes the connection, as when a proxy or network loses the answer."""


@dataclass
class _Answer:
    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


async def misbehave(fault: Fault, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    body = await _read_body(receive)
    replay = _replaying(body, receive)
    answer = await _capture(app, scope, replay) if fault.process or fault.response == "rewrite" else None
    started = anyio.current_time()
    client_left = fault.delay_seconds > 0 and await _client_left_within(fault.delay_seconds, receive)
    if fault.process_after_delay:
        # The API takes its time whoever still waits, then stores and charges the message all the same.
        await anyio.sleep(max(0.0, started + fault.delay_seconds - anyio.current_time()))
        answer = await _capture(app, scope, replay)
    if client_left:
        return  # nobody is waiting for the answer any more
    extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in fault.headers.items()]
    if fault.response == "normal" and fault.omit_fields:
        answer = answer or await _capture(app, scope, replay)
        answer.body = _without_fields(answer.body, fault.omit_fields)
    if fault.response == "normal" and fault.drip_seconds > 0:
        answer = answer or await _capture(app, scope, replay)
        await _drip(send, answer, extra, fault.drip_seconds)
    elif fault.response == "normal":
        if answer is None:
            await app(scope, replay, _adding_headers(send, extra))
        else:
            await _respond(send, answer.status, answer.headers + extra, answer.body)
    elif fault.response == "status":
        content = json.dumps(fault.body).encode() if fault.body is not None else SERVER_ERROR_BODY
        await _respond(send, fault.status, [(b"content-type", b"application/json"), *extra], content)
    elif fault.response == "html":
        await _respond(send, fault.status, [(b"content-type", b"text/html"), *extra], _error_page(fault.status))
    elif fault.response == "rewrite":
        assert answer is not None  # captured above
        await _respond(send, answer.status, answer.headers + extra, _rewritten(answer, fault))
    elif fault.response == "malformed":
        content = answer.body if answer is not None and len(answer.body) > 1 else SERVER_ERROR_BODY
        await _respond(send, 200, [(b"content-type", b"application/json"), *extra], content[: len(content) // 2])
    else:
        await _drop(send, answer or _Answer(500, [(b"content-type", b"application/json")], SERVER_ERROR_BODY), extra)


def _without_fields(body: bytes, names: list[str]) -> bytes:
    """A JSON answer whose records (the object itself, or each item of it or of its `data`) lack `names`."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    records = document.get("data", [document]) if isinstance(document, dict) else document
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict):
            for name in names:
                record.pop(name, None)
    return json.dumps(document, separators=(",", ":")).encode()


async def _drop(send: Send, answer: _Answer, extra: list[tuple[bytes, bytes]]) -> None:
    """Promise the whole body, deliver half, then fail: the server can only close the connection."""
    headers = [(k, v) for k, v in answer.headers if k.lower() != b"content-length"]
    headers += [(b"content-length", str(len(answer.body)).encode()), *extra]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body[: len(answer.body) // 2], "more_body": True})
    raise ConnectionDroppedError


async def _drip(send: Send, answer: _Answer, extra: list[tuple[bytes, bytes]], seconds: float) -> None:
    """The whole answer, one byte of its body every `seconds`."""
    headers = [(k, v) for k, v in answer.headers if k.lower() != b"content-length"]
    headers += [(b"content-length", str(len(answer.body)).encode()), *extra]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    for index in range(len(answer.body)):
        await send({"type": "http.response.body", "body": answer.body[index : index + 1], "more_body": True})
        await anyio.sleep(seconds)
    await send({"type": "http.response.body", "body": b""})


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _rewritten(answer: _Answer, fault: Fault) -> bytes:
    """The answer's JSON with the fault's raw values spliced in as text, so even NaN and 1e999 arrive verbatim."""
    if not 200 <= answer.status < 300:
        return answer.body
    try:
        data = json.loads(answer.body)
    except ValueError:
        return answer.body
    raw_by_marker: dict[str, str] = {}
    for row in _rows_of(data):
        if any(row.get(name) != value for name, value in (fault.where or {}).items()):
            continue
        for name, raw in (fault.rewrite or {}).items():
            if raw is None:
                row.pop(name, None)
            else:
                marker = f"@@sandbox-rewrite-{len(raw_by_marker)}@@"
                raw_by_marker[marker] = raw
                row[name] = marker
    text = json_text(data)
    for marker, raw in raw_by_marker.items():
        text = text.replace(json.dumps(marker), raw)
    return text.encode()


def _rows_of(data: Any) -> list[dict[str, Any]]:
    """The objects a rewrite applies to: a list's rows, a page's `data` rows, or the answer object itself."""
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    rows = data if isinstance(data, list) else [data]
    return [row for row in rows if isinstance(row, dict)]


def _error_page(status: int) -> bytes:
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the buffered body to the handler once, then listens to the real connection."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> _Answer:
    answer = _Answer()
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    answer.body = b"".join(chunks)
    return answer


def _adding_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def add(message: Message) -> None:
        if message["type"] == "http.response.start" and extra:
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return add


async def _client_left_within(seconds: float, receive: Receive) -> bool:
    """Wait, but stop early if the client hangs up, so a long hang does not outlive its client."""
    with anyio.move_on_after(seconds):
        while (await receive())["type"] != "http.disconnect":
            pass
        return True
    return False
