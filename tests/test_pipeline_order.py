"""guard/pipeline.py lists the steps before confirmation in the order of CONTRACT section 4."""

from __future__ import annotations

from smsai_mcp.guard.pipeline import STEPS


def test_pipeline_lists_the_steps_in_the_contracts_order() -> None:
    assert [step.__name__ for step in STEPS] == [
        "content_checks",  # right after input validation (prepare), before anything else reads the text
        "replay_under_key",  # a known key answers first, whatever the limits say now
        "still_unknown",
        "opted_out",  # the first destination-policy step (the pause runs before input validation)
        "blocked_countries",
        "allowed_countries",
        "allowed_recipients",
        "premium_rate",
        "quiet_hours",  # after allowed recipients, before the per-recipient hourly limit
        "per_recipient_hourly_limit",
        "recipients_per_hour",
        "number_block",
        "estimate",
        "per_message_cap",
        "daily_budget",
        "monthly_budget",
        "duplicate_in_window",
    ]
