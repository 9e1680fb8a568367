"""Quiet hours: the daily window, in the recipient's local time, when nothing is sent (CONTRACT section 4).

A `QuietWindow` is what SMSAI_QUIET_HOURS says; a `QuietSchedule` is what applies to one number: the window, widened
by its US state's rules (sms/us_states.py), as spans of local wall-clock minutes on the days of the week they fall on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DAY_MINUTES", "DEFAULT_QUIET_HOURS", "EVERY_DAY", "QuietSchedule", "QuietSpan", "QuietWindow"]

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
DAY_MINUTES = 24 * 60
EVERY_DAY = frozenset(range(7))  # datetime.weekday(): Monday 0 .. Sunday 6


def clock(minutes: int) -> str:
    """Minutes after midnight as HH:MM (1440, the end of a day, reads 00:00)."""
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


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
        return f"{clock(self.start)}-{clock(self.end)}"

    def spans(self, weekdays: frozenset[int] = EVERY_DAY) -> tuple[QuietSpan, ...]:
        """The window as spans within one local day: a window that wraps midnight is its evening and its morning."""
        if self.start < self.end:
            return (QuietSpan(self.start, self.end, weekdays),)
        evening = QuietSpan(self.start, DAY_MINUTES, weekdays)
        return (evening, QuietSpan(0, self.end, weekdays)) if self.end else (evening,)


DEFAULT_QUIET_HOURS = QuietWindow(21 * 60, 8 * 60)


@dataclass(frozen=True, slots=True)
class QuietSpan:
    """Quiet from `start` (included) to `end` (excluded, at most 1440) minutes after local midnight, on the local
    days of the week in `weekdays`: Texas's Sunday morning is a span of Sunday alone."""

    start: int
    end: int
    weekdays: frozenset[int] = EVERY_DAY


@dataclass(frozen=True, slots=True)
class QuietSchedule:
    """The quiet spans that apply to a number, and how a refusal names them (the configured window, or a state's)."""

    spans: tuple[QuietSpan, ...]
    described: str

    @classmethod
    def of(cls, window: QuietWindow) -> QuietSchedule:
        return cls(window.spans(), f"the quiet hours set by SMSAI_QUIET_HOURS ({window})")

    def widened(self, spans: Iterable[QuietSpan], described: str) -> QuietSchedule:
        """The union of this schedule and `spans`: quiet while either is."""
        return QuietSchedule((*self.spans, *spans), described)

    def is_quiet(self, weekday: int, minute: int) -> bool:
        """Whether a local wall-clock minute of a local day of the week is quiet."""
        return any(span.start <= minute < span.end and weekday in span.weekdays for span in self.spans)

    def end_of_span(self, weekday: int, minute: int) -> int | None:
        """The latest end of the spans holding this local minute (1440 is the next midnight), or None if none does."""
        ends = [span.end for span in self.spans if span.start <= minute < span.end and weekday in span.weekdays]
        return max(ends) if ends else None
