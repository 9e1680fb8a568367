"""A deadline for request headers: uvicorn's h11 protocol waits for them forever.

uvicorn closes idle keep-alive connections, but a client that sends a byte now and then is never idle, and h11
has no header timeout of its own; a few hundred such clients hold every socket of the service (slowloris).
Here a connection whose request line and headers are not complete in time is closed.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_HEADER_TIMEOUT_SECONDS", "HeaderDeadlineProtocol", "with_header_deadline"]

logger = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT_SECONDS = 5.0


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers take longer than the deadline."""

    header_timeout_seconds = DEFAULT_HEADER_TIMEOUT_SECONDS
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and sends nothing is waited for no longer than one that dribbles

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_headers()  # the next request on this connection may already be half read

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        """Armed while the connection waits on the client with no timer of uvicorn's watching: part of a request
        has come but not all its headers. A request that arrives whole arms nothing; between requests, uvicorn's
        keep-alive timeout watches the idle connection."""
        if not self.transport.is_closing() and self._waiting_on_client():
            self._arm()
        else:
            self._disarm()

    def _waiting_on_client(self) -> bool:
        their_state = self.conn.their_state
        if their_state is h11.IDLE:
            # Headers begun; or idle with no keep-alive timer, which a byte of a body that ended after its
            # answer (a 401 sent before the body is read) has cancelled.
            return bool(self.conn.trailing_data[0]) or self.timeout_keep_alive_task is None
        # Answered, and the rest of the request's body is still awaited: no timer of uvicorn's watches that either.
        return their_state is h11.SEND_BODY and self.conn.our_state is h11.DONE

    def _arm(self) -> None:
        if self._header_deadline is None:  # armed once per request: more bytes do not buy more time
            self._header_deadline = self.loop.call_later(self.header_timeout_seconds, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing() and self._waiting_on_client():
            logger.info("closed a connection that kept its request waiting over %.0fs", self.header_timeout_seconds)
            self.transport.close()


def with_header_deadline(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's `http=`, with this deadline."""
    return type("HeaderDeadline", (HeaderDeadlineProtocol,), {"header_timeout_seconds": seconds})
