"""The confirmation question: exactly what will be sent, where, and what it costs, on lines the text cannot forge."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from smsai_mcp.sms.estimate import Estimate

__all__ = ["Question"]

_TEXT_PREVIEW = 160


@dataclass(frozen=True, slots=True)
class Question:
    """Everything a person needs to decide; rendered without a clock or random ids, so each round matches."""

    recipient: str
    estimate: Estimate
    sender_id: str | None
    body: str
    balance_usd: Decimal | None
    budget_left_usd: Decimal
    daily_budget_usd: Decimal

    def render(self) -> str:
        e = self.estimate
        text = self.body if len(self.body) <= _TEXT_PREVIEW else self.body[:_TEXT_PREVIEW] + "…"
        text = " ⏎ ".join(text.splitlines())  # the text cannot add lines that look like the question's own
        lines = [
            "Send this SMS?",
            f"To: {self.recipient} ({e.country_name})",
            f"From: {self.sender_id or 'the account default sender'}",
            f"Text: {text}",
            f"Segments: {e.segments} ({e.encoding}, {e.characters} characters)",
            f"Estimated cost: ${e.estimated_cost_usd:.4f}",
        ]
        if self.balance_usd is not None:
            lines.append(f"Balance after: ${self.balance_usd - e.estimated_cost_usd:.4f}")
        lines.append(
            f"Today's budget left after: ${self.budget_left_usd - e.estimated_cost_usd:.4f} "
            f"of ${self.daily_budget_usd:.2f}"
        )
        return "\n".join(lines)
