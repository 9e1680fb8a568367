"""The recipient's local time: the time zones phonenumbers gives for the number, read at a moment the guard chose."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["local_time"]


def local_time(zones: tuple[str, ...], now: float, *, home_region: str = "") -> str:
    """What a person reads: one time to the minute, or the range the zones span; never seconds (guard/question.py).
    Of several zones showing one time, the one named is the home region's own (London for a UK mobile)."""
    moments: list[tuple[datetime, str]] = []
    for zone in zones:
        try:
            moments.append((datetime.fromtimestamp(now, UTC).astimezone(ZoneInfo(zone)), zone))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    if not moments:
        return "unknown (no time zone is known for this number)"
    home = _home_zones(home_region)
    moments.sort(key=lambda moment: (moment[0].utcoffset(), moment[1] not in home, moment[1]))
    shown = [(f"{moment:%a %H:%M}", zone) for moment, zone in moments]
    distinct = list(dict.fromkeys(time for time, _ in shown))
    if len(distinct) == 1:
        more = f" and {len(shown) - 1} more" if len(shown) > 1 else ""
        return f"{distinct[0]} ({shown[0][1]}{more})"
    return f"between {distinct[0]} and {distinct[-1]}, depending on the time zone ({len(shown)} possible)"


def _home_zones(region: str) -> frozenset[str]:
    """The zones of the region's own example landline: its main zone (Europe/London for GB)."""
    if not region:
        return frozenset()
    import phonenumbers
    from phonenumbers import timezone

    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE)
    return frozenset(timezone.time_zones_for_number(example)) if example is not None else frozenset()
