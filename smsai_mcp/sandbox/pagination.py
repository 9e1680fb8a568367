"""Laravel's length-aware paginator as an API resource collection renders it: `{data, links, meta}`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

ON_EACH_SIDE = 3  # Laravel's default number of page links either side of the current one
PREVIOUS_LABEL = "&laquo; Previous"
NEXT_LABEL = "Next &raquo;"

Item = TypeVar("Item")


def paginate(
    items: Sequence[Item],
    render: Callable[[Item], dict[str, Any]],
    page: int,
    per_page: int,
    path: str,
    query: Mapping[str, str],
) -> dict[str, Any]:
    """One page of `items`, only its own rendered; `path` is the absolute URL without query, `query` the other
    parameters to keep."""
    total = len(items)
    last_page = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    data = [render(item) for item in items[start : start + per_page]]

    def url(number: int) -> str:
        return f"{path}?{urlencode({**query, 'page': number})}"

    prev_url = url(page - 1) if page > 1 else None
    next_url = url(page + 1) if page < last_page else None
    page_links: list[dict[str, Any]] = [
        {"url": None, "label": "...", "active": False}
        if number is None
        else {"url": url(number), "label": str(number), "active": number == page}
        for number in _page_window(page, last_page)
    ]
    return {
        "data": data,
        "links": {"first": url(1), "last": url(last_page), "prev": prev_url, "next": next_url},
        "meta": {
            "current_page": page,
            "from": start + 1 if data else None,
            "last_page": last_page,
            "links": [
                {"url": prev_url, "label": PREVIOUS_LABEL, "active": False},
                *page_links,
                {"url": next_url, "label": NEXT_LABEL, "active": False},
            ],
            "path": path,
            "per_page": per_page,
            "to": start + len(data) if data else None,
            "total": total,
        },
    }


def _page_window(current: int, last: int) -> list[int | None]:
    """The page numbers Laravel links to, with None where it puts a "..." gap."""
    if last < ON_EACH_SIDE * 2 + 8:
        return list(range(1, last + 1))
    window = ON_EACH_SIDE + 4
    head, tail = [1, 2], [last - 1, last]
    if current <= window:
        return [*range(1, window + ON_EACH_SIDE + 1), None, *tail]
    if current > last - window:
        return [*head, None, *range(last - (window + ON_EACH_SIDE - 1), last + 1)]
    return [*head, None, *range(current - ON_EACH_SIDE, current + ON_EACH_SIDE + 1), None, *tail]
