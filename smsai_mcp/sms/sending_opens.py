"""When quiet hours end: pure arithmetic over a schedule, time zones and a UTC instant (unix seconds).

A number with several zones is quiet while any of them is, so sending opens at the earliest instant at which none
is. Quiet is judged on the local wall clock (zoneinfo), so a DST change moves the instant, not the local hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smsai_mcp.sms.quiet_hours import QuietSchedule

__all__ = ["HORIZON_SECONDS", "known_zones", "local_wall", "quiet_zones", "sending_opens"]

HORIZON_SECONDS = 8 * 24 * 3600  # a week and a day: past it a schedule is quiet at every hour of some zone


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def known_zones(names: Iterable[str]) -> tuple[ZoneInfo, ...]:
    """The zones zoneinfo knows, in the order given (a name it does not know cannot be judged, so it is left out)."""
    return tuple(zone for zone in map(_zone, names) if zone is not None)


def local_wall(zone: ZoneInfo, at: float) -> datetime:
    """The local wall-clock time at an instant, without its zone (so arithmetic on it is wall-clock arithmetic)."""
    return datetime.fromtimestamp(at, UTC).astimezone(zone).replace(tzinfo=None)


def _is_quiet_in(schedule: QuietSchedule, zone: ZoneInfo, at: float) -> bool:
    wall = local_wall(zone, at)
    return schedule.is_quiet(wall.weekday(), wall.hour * 60 + wall.minute)


def quiet_zones(schedule: QuietSchedule, zones: Iterable[str], at: float) -> tuple[ZoneInfo, ...]:
    """The zones, of those given, in which it is quiet at `at`."""
    return tuple(zone for zone in known_zones(zones) if _is_quiet_in(schedule, zone, at))


def sending_opens(schedule: QuietSchedule, zones: Iterable[str], at: float) -> float | None:
    """The earliest instant at or after `at` at which no zone is quiet; None when none comes within the horizon."""
    known = known_zones(zones)
    opens = at
    while opens - at <= HORIZON_SECONDS:
        ends = [_quiet_end(schedule, zone, opens) for zone in known if _is_quiet_in(schedule, zone, opens)]
        if not ends:
            return opens
        # Each quiet zone stays quiet until its own end, so nothing opens before the last of them; look again there.
        known_ends = [end for end in ends if end is not None]
        if len(known_ends) < len(ends):
            return None
        opens = max(known_ends)
    return None


def _quiet_end(schedule: QuietSchedule, zone: ZoneInfo, at: float) -> float | None:
    """The end of the quiet stretch holding `at` in one zone: the first instant after it whose wall clock is past
    the last back-to-back span; None when the stretch outlasts the horizon."""
    start = local_wall(zone, at)
    wall = start.replace(second=0, microsecond=0)
    while wall - start <= timedelta(seconds=HORIZON_SECONDS):
        end = schedule.end_of_span(wall.weekday(), wall.hour * 60 + wall.minute)
        if end is None:
            return max(_instant_of_wall(zone, wall, after=at), at + 1)
        wall = datetime.combine(wall.date(), datetime.min.time()) + timedelta(minutes=end)
    return None


def _instant_of_wall(zone: ZoneInfo, wall: datetime, *, after: float) -> float:
    """The first instant after `after` at which the wall clock reads `wall`; in a DST gap, where it never does,
    the instant the clocks jump past it."""
    readings = [wall.replace(tzinfo=zone, fold=fold).timestamp() for fold in (0, 1)]
    real = [instant for instant in readings if local_wall(zone, instant) == wall]
    if real:
        later = [instant for instant in real if instant > after]
        return min(later) if later else max(real)
    low, high = int(min(readings)), int(max(readings))  # the gap's jump lies between its two readings
    while low < high:
        middle = (low + high) // 2
        if local_wall(zone, middle) >= wall:
            high = middle
        else:
            low = middle + 1
    return float(low)
