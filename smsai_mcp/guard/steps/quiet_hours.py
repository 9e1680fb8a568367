"""Quiet hours: nothing is sent while it is night for the recipient, in any of the number's time zones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from smsai_mcp.config import Settings
from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.sms.quiet_hours import QuietSchedule
from smsai_mcp.sms.sending_opens import local_wall, quiet_zones, sending_opens
from smsai_mcp.sms.time_zones import recipient_time_zones
from smsai_mcp.sms.us_states import recipient_schedule

__all__ = ["QuietNow", "quiet_hours", "quiet_hours_refusal", "quiet_now", "quiet_until"]


@dataclass(frozen=True, slots=True)
class QuietNow:
    """It is quiet for the recipient: in which zone (the first of those quiet), by which schedule, until when."""

    zone: ZoneInfo
    zone_count: int
    schedule: QuietSchedule
    opens: float | None  # unix seconds; None when no hour within a week is outside quiet hours in every zone


def quiet_now(number: PhoneNumber, settings: Settings, now: float) -> QuietNow | None:
    """Why the number may not be texted now, or None when quiet hours allow it (or are off)."""
    schedule = recipient_schedule(settings.quiet_hours, number.e164, number.region)
    if schedule is None:
        return None
    zones = recipient_time_zones(number.e164, number.region)
    quiet = quiet_zones(schedule, zones, now)
    if not quiet:
        return None
    return QuietNow(quiet[0], len(zones), schedule, sending_opens(schedule, zones, now))


def quiet_until(number: PhoneNumber, settings: Settings, now: float) -> str | None:
    """The Estimate's `quiet_until`: when sending opens (ISO 8601 UTC), or None when it is open now."""
    quiet = quiet_now(number, settings, now)
    if quiet is None or quiet.opens is None:
        return None
    return datetime.fromtimestamp(quiet.opens, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def quiet_hours(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    quiet = quiet_now(prepared.number, context.settings, context.now)
    if quiet is not None:
        raise quiet_hours_refusal(quiet, context.now)
    return None


def quiet_hours_refusal(quiet: QuietNow, now: float) -> Refusal:
    local = local_wall(quiet.zone, now)
    zone = quiet.zone.key if quiet.zone_count == 1 else f"{quiet.zone.key}, one of its {quiet.zone_count} time zones"
    why = f"It is {local:%H:%M} ({local:%A}) for the recipient ({zone}), inside {quiet.schedule.described}."
    if quiet.opens is None:
        return Refusal(
            f"{why} No hour of the week is outside quiet hours in every time zone of this number. "
            "Ask the user to narrow SMSAI_QUIET_HOURS.",
            code="quiet_hours",
        )
    opens_local = local_wall(quiet.zone, quiet.opens)
    opens_utc = datetime.fromtimestamp(quiet.opens, UTC)
    return Refusal(
        f"{why} Sending opens at {opens_local:%H:%M} ({opens_local:%A}) their time ({opens_utc:%Y-%m-%d %H:%M} UTC). "
        "Wait until then and send it again (estimate_sms gives the time as quiet_until); only the user can change "
        "SMSAI_QUIET_HOURS or turn it off.",
        code="quiet_hours",
    )
