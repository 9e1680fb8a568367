"""The window arithmetic of quiet hours (sms/quiet_hours.py, sms/sending_opens.py, sms/us_states.py), as pure
functions: tables of known instants, and properties against a minute-by-minute oracle across wrapping windows, DST
changes and zones 14 hours apart."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsai_mcp.sms.quiet_hours import DEFAULT_QUIET_HOURS, QuietSchedule, QuietWindow
from smsai_mcp.sms.sending_opens import local_wall, quiet_zones, sending_opens
from smsai_mcp.sms.time_zones import recipient_time_zones
from smsai_mcp.sms.us_states import AREA_CODES, STATE_NAMES, recipient_schedule, us_state

DEFAULT = QuietSchedule.of(DEFAULT_QUIET_HOURS)
AUSTRALIAN_MOBILE = "+61412345678"


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(instant: float | None) -> str | None:
    return None if instant is None else datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%d %H:%M")


def quiet_somewhere(schedule: QuietSchedule, zones: tuple[str, ...], at: float) -> bool:
    return bool(quiet_zones(schedule, zones, at))


def oracle(schedule: QuietSchedule, zones: tuple[str, ...], at: float, minutes: int) -> float | None:
    """The first instant, `at` or a whole UTC minute after it, at which no zone is quiet: a plain scan."""
    if not quiet_somewhere(schedule, zones, at):
        return at
    first = (int(at) // 60 + 1) * 60
    for step in range(minutes):
        instant = float(first + 60 * step)
        if not quiet_somewhere(schedule, zones, instant):
            return instant
    return None


# --- tables -------------------------------------------------------------------------------------------------------

STATE_NUMBERS = [  # both forms the geocoder gives: the state's name, or "City, XX"
    ("+13055550123", "FL"),  # Florida
    ("+13053741234", "FL"),  # Miami, FL
    ("+14055550123", "OK"),  # Oklahoma
    ("+14053254567", "OK"),  # Norman, OK
    ("+14105550123", "MD"),  # Maryland
    ("+14109871234", "MD"),  # Millersville, MD
    ("+16015550123", "MS"),  # Mississippi
    ("+16017651234", "MS"),  # Collins, MS
    ("+12015550123", "NJ"),  # New Jersey
    ("+12014341234", "NJ"),  # Jersey City, NJ
    ("+12035550123", "CT"),  # Connecticut
    ("+12034321234", "CT"),  # New Haven, CT
    ("+12145550123", "TX"),  # Texas
    ("+12143431234", "TX"),  # Dallas, TX
    ("+19157654321", "TX"),  # El Paso: Texas, on Mountain time
    ("+12025551234", None),  # Washington D.C.
    ("+12125550123", None),  # New York, NY
    ("+14165550123", None),  # Toronto: Canada, although it dials +1
    ("+447400123456", None),
]


@pytest.mark.parametrize(("number", "state"), STATE_NUMBERS)
def test_the_state_of_a_us_number_is_the_one_the_geocoder_names_in_either_form(number: str, state: str | None) -> None:
    import phonenumbers
    from phonenumbers import geocoder

    region = "CA" if number == "+14165550123" else "GB" if number.startswith("+44") else "US"
    assert us_state(number, region) == state
    if state is not None:
        assert geocoded_state(geocoder.description_for_number(phonenumbers.parse(number), "en")) == state


def geocoded_state(description: str) -> str:
    """The state in what the geocoder says: "Florida", or a place in it, "Miami, FL"."""
    if "," in description:
        return description.rsplit(",", 1)[1].strip()
    return {name: code for code, name in STATE_NAMES.items()}.get(description, description)


def test_the_area_code_table_is_what_the_geocoder_says() -> None:
    """Every area code the installed phonenumbers' geocoder places (mostly) in one of the states is in the table,
    under that state, and no other; and each table entry is one the geocoder places there."""
    import phonenumbers
    from phonenumbers import geocoder

    named: dict[str, Counter[str]] = defaultdict(Counter)
    for prefix in range(200, 1000):
        area = str(prefix)
        number = phonenumbers.parse(f"+1{area}5550123", None)
        if phonenumbers.region_code_for_number(number) != "US":
            continue
        named[area][geocoded_state(geocoder.description_for_number(number, "en"))] += 1
        for exchange in ("234", "374", "431", "631", "765", "987"):  # places within the area code, "City, XX"
            place = geocoder.description_for_number(phonenumbers.parse(f"+1{area}{exchange}1234", None), "en")
            if place:
                named[area][geocoded_state(place)] += 1
    expected = {
        state: sorted(area for area, states in named.items() if states.most_common(1)[0][0] == state)
        for state in STATE_NAMES
    }
    assert {state: codes.split() for state, codes in AREA_CODES.items()} == expected


OPENS = [
    # (number, region, configured window, UTC now, when sending opens in UTC or None when it is open now)
    ("+12125550123", "US", "21:00-08:00", "2026-11-30 03:00", "2026-11-30 13:00"),  # New York 22:00 -> 08:00 EST
    ("+12125550123", "US", "21:00-08:00", "2026-11-30 15:00", None),  # 10:00 in New York
    ("+447400123456", "GB", "21:00-08:00", "2026-11-29 14:00", None),  # a GB afternoon
    ("+447400123456", "GB", "21:00-08:00", "2026-11-29 23:30", "2026-11-30 08:00"),
    ("+13055550123", "US", "21:00-08:00", "2026-11-30 01:30", "2026-11-30 13:00"),  # Florida 20:30: FL starts at 20:00
    ("+12125550123", "US", "21:00-08:00", "2026-11-30 01:30", None),  # New York 20:30: the plain window allows it
    ("+12035550123", "US", "21:00-08:00", "2026-11-30 13:30", "2026-11-30 14:00"),  # Connecticut 08:30 -> 09:00
    ("+12145550123", "US", "21:00-08:00", "2026-11-29 04:00", "2026-11-29 18:00"),  # Texas Sat 22:00 -> Sun 12:00
    ("+12145550123", "US", "21:00-08:00", "2026-11-29 16:00", "2026-11-29 18:00"),  # Texas Sun 10:00 -> Sun 12:00
    ("+12145550123", "US", "21:00-08:00", "2026-11-28 16:00", None),  # Texas Sat 10:00
    ("+12145550123", "US", "21:00-08:00", "2026-11-27 14:30", "2026-11-27 15:00"),  # Texas Fri 08:30 -> 09:00
    ("+12145550123", "US", "21:00-08:00", "2026-11-30 04:00", "2026-11-30 15:00"),  # Texas Sun 22:00 -> Mon 09:00
    ("+12145550123", "US", "22:00-07:00", "2026-11-29 03:30", "2026-11-29 18:00"),  # the union: TX's 21:00 start
    ("+12145550123", "US", "13:00-14:00", "2026-11-30 19:30", "2026-11-30 20:00"),  # and the configured hour too
    ("+12125550123", "US", "09:00-17:00", "2026-11-30 15:00", "2026-11-30 22:00"),  # a window that does not wrap
    (AUSTRALIAN_MOBILE, "AU", "21:00-08:00", "2026-11-29 11:00", "2026-11-30 01:30"),  # Sydney to Cocos: all day
    # DST: New York springs forward on 2026-03-08; 21:00 EST to 08:00 EDT is ten hours of real time.
    ("+12125550123", "US", "21:00-08:00", "2026-03-08 02:00", "2026-03-08 12:00"),
    # and falls back on 2026-11-01: 21:00 EDT to 08:00 EST is twelve.
    ("+12125550123", "US", "21:00-08:00", "2026-11-01 01:00", "2026-11-01 13:00"),
    # A window ending in the spring gap (02:30 never happens): sending opens when the clocks jump, 03:00 EDT.
    ("+12125550123", "US", "21:00-02:30", "2026-03-08 06:00", "2026-03-08 07:00"),
    # A window ending in the hour that happens twice: the first 01:30, then open until the second 01:00 starts.
    ("+12125550123", "US", "21:00-01:30", "2026-11-01 05:00", "2026-11-01 05:30"),
]


@pytest.mark.parametrize(("number", "region", "window", "now", "opens"), OPENS)
def test_sending_opens_at_the_known_instant(number: str, region: str, window: str, now: str, opens: str | None) -> None:
    schedule = recipient_schedule(QuietWindow.parse(window), number, region)
    assert schedule is not None
    zones = recipient_time_zones(number, region)
    at = utc(now)
    assert iso(sending_opens(schedule, zones, at)) == (opens or iso(at))
    assert bool(quiet_zones(schedule, zones, at)) == (opens is not None)


def test_the_hour_that_happens_twice_is_quiet_again_the_second_time() -> None:
    """21:00-01:30 in New York on the night clocks fall back: 01:00-01:30 comes round again, in EST."""
    schedule = QuietSchedule.of(QuietWindow.parse("21:00-01:30"))
    zones = ("America/New_York",)
    second_one_ten = utc("2026-11-01 06:10")  # 01:10 EST, after 01:10 EDT an hour earlier
    assert local_wall(ZoneInfo("America/New_York"), second_one_ten).strftime("%H:%M") == "01:10"
    assert iso(sending_opens(schedule, zones, second_one_ten)) == "2026-11-01 06:30"


def test_quiet_hours_off_is_no_schedule_even_for_a_texas_number() -> None:
    assert recipient_schedule(None, "+12145550123", "US") is None


def test_a_schedule_quiet_at_every_hour_in_some_zone_never_opens() -> None:
    """Zones 14 hours apart under a 13-hour window: every hour is night somewhere."""
    schedule = QuietSchedule.of(QuietWindow.parse("20:00-09:00"))
    zones = ("Pacific/Kiritimati", "Europe/London")  # UTC+14 and, in June, UTC+1
    at = utc("2026-06-01 00:00")
    assert sending_opens(schedule, zones, at) is None
    assert oracle(schedule, zones, at, 3 * 24 * 60) is None


# --- properties ---------------------------------------------------------------------------------------------------

ZONES = [
    "America/New_York",  # DST in March and November
    "America/Chicago",
    "Europe/London",  # DST on other dates than the US
    "Australia/Lord_Howe",  # a DST change of 30 minutes
    "Australia/Sydney",  # southern summer time
    "Asia/Kathmandu",  # UTC+5:45
    "America/St_Johns",  # UTC-3:30, with DST
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11: 25 hours from Kiritimati
    "Asia/Tokyo",  # no DST
]
# Instants near the DST changes of 2026 in the zones above, so that many examples cross one.
CHANGES = [utc(text) for text in ("2026-03-08 07:00", "2026-03-29 01:00", "2026-04-05 15:00", "2026-10-04 16:00")]
CHANGES += [utc(text) for text in ("2026-10-25 01:00", "2026-11-01 06:00", "2026-03-08 05:30", "2026-11-01 03:30")]

minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)
windows = st.tuples(minutes_of_day, minutes_of_day).filter(lambda p: p[0] != p[1]).map(lambda p: QuietWindow(*p))
zone_sets = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True).map(tuple)
instants = st.one_of(
    st.floats(min_value=utc("2025-01-01 00:00"), max_value=utc("2028-12-31 00:00")).map(int).map(float),
    st.tuples(st.sampled_from(CHANGES), st.integers(min_value=-2 * 86400, max_value=2 * 86400)).map(
        lambda pair: pair[0] + pair[1]
    ),
)
texas_or_not = st.sampled_from([None, "+12145550123", "+13055550123", "+12035550123"])


def schedule_of(window: QuietWindow, state_number: str | None) -> QuietSchedule:
    if state_number is None:
        return QuietSchedule.of(window)
    schedule = recipient_schedule(window, state_number, "US")
    assert schedule is not None
    return schedule


@settings(max_examples=40, deadline=None)  # the oracle scans two days minute by minute
@given(window=windows, state_number=texas_or_not, zones=zone_sets, at=instants)
def test_sending_opens_at_the_first_instant_no_zone_is_quiet(
    window: QuietWindow, state_number: str | None, zones: tuple[str, ...], at: float
) -> None:
    """The same instant as a minute-by-minute scan, over two days, whatever the window, state, zones and DST."""
    schedule = schedule_of(window, state_number)
    opens = sending_opens(schedule, zones, at)
    expected = oracle(schedule, zones, at, 2 * 24 * 60)
    if expected is not None:
        assert opens == expected
    else:  # past the scan: it opens later, or never
        assert opens is None or opens > at + 2 * 86400 - 60


@settings(max_examples=150, deadline=None)
@given(window=windows, zones=zone_sets, at=instants)
def test_when_sending_opens_no_zone_is_quiet_and_just_before_one_was(
    window: QuietWindow, zones: tuple[str, ...], at: float
) -> None:
    schedule = QuietSchedule.of(window)
    opens = sending_opens(schedule, zones, at)
    if opens is None:
        return
    assert opens >= at
    assert not quiet_somewhere(schedule, zones, opens)
    if opens > at:
        assert quiet_somewhere(schedule, zones, opens - 1)


@settings(max_examples=100, deadline=None)
@given(window=windows, zone=st.sampled_from(ZONES), at=instants)
def test_one_zone_is_quiet_no_longer_than_its_window_plus_a_dst_change(
    window: QuietWindow, zone: str, at: float
) -> None:
    opens = sending_opens(QuietSchedule.of(window), (zone,), at)
    assert opens is not None  # one zone always has a minute outside the window
    length = (window.end - window.start) % (24 * 60)
    assert opens - at <= timedelta(minutes=length + 60).total_seconds()


@settings(max_examples=100, deadline=None)
@given(at=instants, zones=zone_sets)
def test_texas_is_quiet_whenever_the_default_window_is_and_on_sunday_mornings(
    at: float, zones: tuple[str, ...]
) -> None:
    texas = schedule_of(DEFAULT_QUIET_HOURS, "+12145550123")
    if quiet_somewhere(DEFAULT, zones, at):
        assert quiet_somewhere(texas, zones, at)
    for zone in zones:
        wall = local_wall(ZoneInfo(zone), at)
        if wall.weekday() == 6 and wall.hour < 12:
            assert quiet_somewhere(texas, (zone,), at)
