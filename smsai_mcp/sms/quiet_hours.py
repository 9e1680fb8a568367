"""Quiet hours: the daily window, in the recipient's local time, when nothing is sent (CONTRACT section 4)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DEFAULT_QUIET_HOURS", "QuietWindow"]

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """From `start` to `end`, in minutes after local midnight; wraps midnight when `end` is not after `start`."""

    start: int
    end: int

    @classmethod
    def parse(cls, raw: str) -> QuietWindow:
        """`HH:MM-HH:MM`, such as 21:00-08:00; raises ValueError for anything else or an empty window."""
        match = _WINDOW.match(raw.strip())
        if match is None:
            raise ValueError(raw)
        start_hour, start_minute, end_hour, end_minute = (int(part) for part in match.groups())
        window = cls(start_hour * 60 + start_minute, end_hour * 60 + end_minute)
        if window.start == window.end:
            raise ValueError(raw)
        return window

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


DEFAULT_QUIET_HOURS = QuietWindow(21 * 60, 8 * 60)
