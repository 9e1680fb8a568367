"""The time zones a recipient may be in: those of the number (phonenumbers), or of its country when it has none."""

from __future__ import annotations

__all__ = ["recipient_time_zones"]


def recipient_time_zones(e164: str, region: str) -> tuple[str, ...]:
    """IANA time zone names, sorted. A number with several zones (an Idaho area code, an Australian mobile) lists them
    all, so a later quiet-hours check can be quiet while any of them is."""
    import phonenumbers  # loaded on first use, like phone.py: its metadata is large
    from phonenumbers import timezone

    number = phonenumbers.parse(e164, None)
    zones = _known(timezone.time_zones_for_number(number))
    geographical = phonenumbers.is_number_geographical(number)
    shared_code = phonenumbers.region_code_for_country_code(number.country_code or 0) != region
    if zones and (geographical or not shared_code):
        return zones
    # No zone of its own, or only its calling code's (all of +1 for a Jamaican mobile): the zones of its country.
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE)
    country_zones = _known(timezone.time_zones_for_number(example)) if example is not None else ()
    return country_zones or zones


def _known(zones: tuple[str, ...]) -> tuple[str, ...]:
    from phonenumbers import timezone

    return tuple(sorted(zone for zone in zones if zone != timezone.UNKNOWN_TIMEZONE))
