"""The confirmation question: exactly what will be sent, where, and what it costs, on lines the text cannot forge.

Its lines are fixed: the text, whatever it holds, is one line between « and », and every value from the agent or
the upstream (the text, the country name, the sender, link hosts) is shown without anything that could start a
line or reorder one. In the 2026-07-28 era the SDK renders the question again on each round and honours an answer
only for the question it answered: the local time is therefore shown to the minute (a round that crosses a minute,
or a balance that changed between rounds, re-asks the person with the new question rather than send on the old).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from smsai_mcp.sms.characters import invisible_characters, is_invisible, visible_name
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.sms.links import link_hosts
from smsai_mcp.sms.segments import GSM7_MULTIPART_SEPTETS, GSM7_SINGLE_PART_SEPTETS

__all__ = ["LINE_BREAK_MARK", "BatchQuestion", "BatchRecipient", "Question", "shown_text", "single_line"]

LINE_BREAK_MARK = "⏎"
_TEXT_OPEN, _TEXT_CLOSE = "«", "»"
_MARKS = frozenset([LINE_BREAK_MARK, "⟨", "⟩"])  # typed in a text, they are named so none is mistaken for a mark
_TIMES = "\u00d7"  # the multiplication sign, as a person writes "3 times" with it
_MOST_LISTED = 12  # characters or hosts named on one line; the rest are counted


def shown_text(text: str) -> str:
    """Every character of the text on one line: a line feed as ⏎, every other unseen character by name."""
    return "".join(
        LINE_BREAK_MARK
        if c == "\n"
        else visible_name(c)
        if c in _MARKS or is_invisible(c) or not (c.isprintable() or c == " ")
        else c
        for c in text
    )


def single_line(value: str, longest: int = 80) -> str:
    """A value the agent or the upstream supplied, as plain characters on one line: nothing it holds can add,
    end or reorder a line of the question."""
    kept = "".join(c if c.isprintable() and not is_invisible(c) else " " for c in value)
    kept = " ".join(kept.split())
    return kept if len(kept) <= longest else kept[: longest - 1] + "…"


def _listed(items: list[str]) -> str:
    if len(items) <= _MOST_LISTED:
        return " ".join(items)
    return " ".join(items[:_MOST_LISTED]) + f" and {len(items) - _MOST_LISTED} more"


def _hidden_characters(body: str) -> str:
    counts = Counter(c for c in body if is_invisible(c))
    return _listed([f"{visible_name(c)} {_TIMES}{counts[c]}" for c in invisible_characters(body)])


@dataclass(frozen=True, slots=True)
class Question:
    """Everything a person needs to decide, read at one moment; rendered the same for the same reading."""

    recipient: str
    estimate: Estimate
    sender_id: str | None
    body: str
    local_time: str
    balance_usd: Decimal | None  # read from the upstream for this question; None when it could not say
    budget_left_usd: Decimal
    daily_budget_usd: Decimal

    def render(self) -> str:
        e = self.estimate
        lines = [
            "Send this SMS?",
            f"To: {self.recipient} ({single_line(e.country_name)})",
            f"Their local time: {single_line(self.local_time)}",
            f"From: {single_line(self.sender_id) if self.sender_id else 'the account default sender'}",
            f"Text, every character exactly as sent, between {_TEXT_OPEN} and {_TEXT_CLOSE}:",
            _TEXT_OPEN + shown_text(self.body) + _TEXT_CLOSE,
            f"Links go to: {_listed([single_line(host) for host in link_hosts(self.body)]) or 'no links'}",
            f"Hidden characters: {self._hidden() or 'none'}",
            f"Segments: {e.segments} ({e.encoding}, {e.characters} characters)",
            f"Special characters: {self._special()}",
            f"Estimated cost: ${e.estimated_cost_usd:.4f}",
        ]
        if self.balance_usd is not None:
            lines.append(f"Balance after: ${self.balance_usd - e.estimated_cost_usd:.4f}")
        lines.append(
            f"Today's budget left after: ${self.budget_left_usd - e.estimated_cost_usd:.4f} "
            f"of ${self.daily_budget_usd:.2f}"
        )
        return "\n".join(lines)

    def _hidden(self) -> str:
        return _hidden_characters(self.body)

    def _special(self) -> str:
        e = self.estimate
        if e.encoding != "UCS-2":
            return "none (plain GSM-7)"
        named = _listed([shown_text(c) for c in e.non_gsm_characters])
        plain_segments = (
            1 if e.characters <= GSM7_SINGLE_PART_SEPTETS else math.ceil(e.characters / GSM7_MULTIPART_SEPTETS)
        )
        suggestion = e.gsm7_suggestion
        if suggestion is not None:
            plain_segments = suggestion.segments  # what the same text costs with plain equivalents, exactly
        times = e.segments / plain_segments
        cost = (
            f"these make this message cost {times:.3g}{_TIMES} (UCS-2): {named}"
            if times > 1
            else f"these switch this message to UCS-2, at no extra cost at this length: {named}"
        )
        if suggestion is not None and suggestion.saving_usd > 0:
            cost += f"; with plain quotes and dashes it would cost ${suggestion.estimated_cost_usd:.4f}"
        return cost


@dataclass(frozen=True, slots=True)
class BatchRecipient:
    """One recipient as a batch question lists it: formatted, with its country and estimate."""

    formatted: str
    estimate: Estimate


@dataclass(frozen=True, slots=True)
class BatchQuestion:
    """One question for every recipient of a batch the guard let through: the text once, each recipient on a line
    of its own (formatted by the server, so the agent can add none), the total, the balance and budget after."""

    recipients: tuple[BatchRecipient, ...]
    refused: int  # recipients the guard refused: not sent, not asked about
    sender_id: str | None
    body: str
    balance_usd: Decimal | None
    budget_left_usd: Decimal
    daily_budget_usd: Decimal

    @property
    def total_usd(self) -> Decimal:
        return sum((recipient.estimate.estimated_cost_usd for recipient in self.recipients), Decimal(0))

    def render(self) -> str:
        first = self.recipients[0].estimate
        count = len(self.recipients)
        lines = [
            f"Send this SMS to {count} recipient{'s' if count != 1 else ''}?",
            *(
                f"{index}. {r.formatted} ({single_line(r.estimate.country_name)}) ${r.estimate.estimated_cost_usd:.4f}"
                for index, r in enumerate(self.recipients, start=1)
            ),
            f"Not sent (refused by the guard): {self.refused}",
            f"From: {single_line(self.sender_id) if self.sender_id else 'the account default sender'}",
            f"Text, every character exactly as sent, between {_TEXT_OPEN} and {_TEXT_CLOSE}:",
            _TEXT_OPEN + shown_text(self.body) + _TEXT_CLOSE,
            f"Links go to: {_listed([single_line(host) for host in link_hosts(self.body)]) or 'no links'}",
            f"Hidden characters: {self._hidden() or 'none'}",
            f"Segments each: {first.segments} ({first.encoding}, {first.characters} characters)",
            f"Total estimated cost: ${self.total_usd:.4f} for {count} SMS",
        ]
        if self.balance_usd is not None:
            lines.append(f"Balance after: ${self.balance_usd - self.total_usd:.4f}")
        lines.append(
            f"Today's budget left after: ${self.budget_left_usd - self.total_usd:.4f} of ${self.daily_budget_usd:.2f}"
        )
        return "\n".join(lines)

    def _hidden(self) -> str:
        return _hidden_characters(self.body)
