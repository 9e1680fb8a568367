"""The US states whose law widens quiet hours (CONTRACT section 4), and which state a US number belongs to.

The state is the area code's, as phonenumbers' geocoder names it ("Florida", or a place in it: "Miami, FL").
A state's window applies whatever SMSAI_QUIET_HOURS says, as the union with it, unless that is off.
"""

from __future__ import annotations

from smsai_mcp.sms.quiet_hours import EVERY_DAY, QuietSchedule, QuietSpan, QuietWindow

__all__ = ["AREA_CODES", "STATE_NAMES", "STATE_QUIET_SPANS", "recipient_schedule", "us_state"]

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
# The area codes phonenumbers' geocoder places in each state, as "Florida" or "Miami, FL" (an area code never
# crosses a state line). Copied here because loading the geocoder costs a second and about 100 MB per process;
# tests/test_quiet_hours_arithmetic.py checks the copy against the geocoder of the installed phonenumbers.
AREA_CODES = {
    "FL": "239 305 321 324 352 386 407 448 561 645 656 689 727 728 754 772 786 813 850 863 904 941 954",
    "OK": "405 539 572 580 918",
    "MD": "227 240 301 410 443 667",
    "MS": "228 601 662 769",
    "NJ": "201 551 609 640 732 848 856 862 908 973",
    "CT": "203 475 860 959",
    "TX": "210 214 254 281 325 346 361 409 430 432 469 512 682 713 726 737 806 817 830 832 903 915 936 940 945 956 "
    "972 979",
}
_STATE_OF_AREA_CODE = {code: state for state, codes in AREA_CODES.items() for code in codes.split()}


def us_state(e164: str, region: str) -> str | None:
    """The two-letter code of the number's state, when it is a US number of one of the states above."""
    if region != "US" or not e164.startswith("+1"):
        return None
    return _STATE_OF_AREA_CODE.get(e164[2:5])


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
