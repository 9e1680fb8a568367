"""The US states whose law widens quiet hours (CONTRACT section 4), and which state a US number belongs to.

The state comes from phonenumbers' geocoder, which names an area code's state ("Florida") or a place in it
("Miami, FL"). A state's window applies whatever SMSAI_QUIET_HOURS says, as the union with it, unless that is off.
"""

from __future__ import annotations

from smsai_mcp.sms.quiet_hours import EVERY_DAY, QuietSchedule, QuietSpan, QuietWindow

__all__ = ["STATE_NAMES", "STATE_QUIET_SPANS", "recipient_schedule", "us_state"]

SUNDAY = 6
STATE_NAMES = {
    "FL": "Florida",
    "OK": "Oklahoma",
    "MD": "Maryland",
    "MS": "Mississippi",
    "NJ": "New Jersey",
    "CT": "Connecticut",
    "TX": "Texas",
}
_EIGHT_TO_EIGHT = QuietWindow.parse("20:00-08:00").spans()
STATE_QUIET_SPANS: dict[str, tuple[tuple[QuietSpan, ...], str]] = {
    **{state: (_EIGHT_TO_EIGHT, "20:00-08:00") for state in ("FL", "OK", "MD", "MS", "NJ")},
    "CT": (QuietWindow.parse("20:00-09:00").spans(), "20:00-09:00"),
    # Texas: 21:00-09:00, and until noon on Sundays: a Saturday 21:00 start runs on into Sunday noon.
    "TX": (
        (*QuietWindow.parse("21:00-09:00").spans(EVERY_DAY), QuietSpan(0, 12 * 60, frozenset({SUNDAY}))),
        "21:00-09:00, and on Sundays until 12:00",
    ),
}
_STATE_OF_NAME = {name.lower(): code for code, name in STATE_NAMES.items()}


def us_state(e164: str, region: str) -> str | None:
    """The two-letter code of the number's state, when it is a US number of one of the states above."""
    if region != "US":
        return None
    import phonenumbers  # loaded on first use, like phone.py: its metadata is large
    from phonenumbers import geocoder

    place = geocoder.description_for_number(phonenumbers.parse(e164, None), "en").strip()
    if "," in place:  # "Miami, FL"
        code = place.rsplit(",", 1)[1].strip().upper()
        return code if code in STATE_NAMES else None
    return _STATE_OF_NAME.get(place.lower())  # "Florida"


def recipient_schedule(window: QuietWindow | None, e164: str, region: str) -> QuietSchedule | None:
    """What is quiet for this number: the configured window, widened by its state's; None when quiet hours are off."""
    if window is None:
        return None
    schedule = QuietSchedule.of(window)
    state = us_state(e164, region)
    if state is None:
        return schedule
    spans, described = STATE_QUIET_SPANS[state]
    name = STATE_NAMES[state]
    return schedule.widened(
        spans, f"the quiet hours {name} law sets ({described}), on top of SMSAI_QUIET_HOURS ({window})"
    )
