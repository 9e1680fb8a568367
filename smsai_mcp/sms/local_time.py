"""The recipient's local time: the time zones phonenumbers gives for the number, read at a moment the guard chose."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["local_time", "time_zones"]

_UNKNOWN_ZONE = "Etc/Unknown"  # phonenumbers' answer for a number it cannot place


def time_zones(e164: str) -> tuple[str, ...]:
    """The IANA time zones of the number; empty when phonenumbers cannot place it."""
    import phonenumbers  # loaded on the first number (its metadata is large)
    from phonenumbers import timezone

    zones = timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    return tuple(zone for zone in zones if zone != _UNKNOWN_ZONE)


def local_time(zones: tuple[str, ...], now: float) -> str:
    """What a person reads: one time to the minute, or the range the zones span; never seconds (guard/question.py)."""
    moments: list[tuple[datetime, str]] = []
    for zone in zones:
        try:
            moments.append((datetime.fromtimestamp(now, UTC).astimezone(ZoneInfo(zone)), zone))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    if not moments:
        return "unknown (no time zone is known for this number)"
    moments.sort(key=lambda moment: (moment[0].utcoffset(), moment[1]))
    shown = [(f"{moment:%a %H:%M}", zone) for moment, zone in moments]
    distinct = list(dict.fromkeys(time for time, _ in shown))
    if len(distinct) == 1:
        more = f" and {len(shown) - 1} more" if len(shown) > 1 else ""
        return f"{distinct[0]} ({shown[0][1]}{more})"
    return f"between {distinct[0]} and {distinct[-1]}, depending on the time zone ({len(shown)} possible)"
