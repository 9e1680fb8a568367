"""What the Redis store's calls share: a Redis that does not answer in time is the store out of reach."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from smsai_mcp.state.store import StoreUnavailable

__all__ = ["reachable"]

P = ParamSpec("P")
T = TypeVar("T")


def reachable(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """A Redis that does not answer in time is the store out of reach, whatever the client library calls it."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        from redis.exceptions import ConnectionError, TimeoutError

        try:
            return await method(*args, **kwargs)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise StoreUnavailable("unreachable") from exc

    return guarded
