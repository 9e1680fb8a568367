"""How a send is turned down: every refusal of the guard, its code (for the audit log) and its sentence.

    Exception
    ├── Refusal                    nothing was sent: "Nothing was sent. " + why + what to do
    │   pause                      paused (before anything else: `smsai-mcp pause`; checked again before the POST)
    │   input validation           invalid_number, invalid_body
    │   content checks             content (the audit line names the rule: bidi, tag, secret, shortener)
    │   destination policy         opted_out (the do-not-text list), blocked_country, country_not_allowed,
    │                              recipient_not_allowed, premium_rate, quiet_hours (it is night for the
    │                              recipient: says their time and when sending opens), hourly_limit,
    │                              recipients_per_hour, number_block (in a batch the velocity codes count the
    │                              batch's earlier recipients, guard/batch_velocity.py)
    │   estimate                   country_not_listed, country_unpriced, price_list_unavailable
    │   per-message cap            cost_cap
    │   daily budget               daily_budget
    │   monthly budget             monthly_budget
    │   duplicate and idempotency  idempotency_key_reused
    │   confirmation               declined, cancelled, unchecked, cannot_elicit, elicitation_failed,
    │                              token_forged, token_for_another_message, token_expired, confirmation_used
    │   before the POST            paused, opted_out, quiet_hours again (guard/last_look.py: what changed while
    │                              the person read the question)
    │   send                       upstream_refused (the API said no: 402, 403, 422, 429...)
    │   batch (guard/batch.py)     batch_empty, batch_too_large, duplicate_recipients (before any recipient's
    │                              steps), idempotency_key_reused (the key stands for another batch),
    │                              recipients_per_hour and number_block (a recipient past the limit once its
    │                              batch-mates count), batch_unsendable (every recipient refused), daily_budget and
    │                              monthly_budget (the batch's total, before anyone is asked), batch_reservation
    │                              (the ledger changed between the checks and the one reservation of them all),
    │                              batch_too_slow (a recipient not yet posted when its reservation ages out)
    │   any step                   ledger_locked, ledger_unreachable, internal_error
    │   reservation                ledger_unwritable, audit_unwritable (a full disk, a state directory removed)
    └── OutcomeUnknown             the message may have gone out and must not be retried: the answer to the POST
                                   was lost, or an identical message's (or key's) earlier outcome is still unknown

The MCP layer adds one refusal of its own before any of these: a read-only server or tenant
(server/failures.py), which asks no one and audits nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from smsai_mcp.state.store import StoreUnavailable

if TYPE_CHECKING:
    from smsai_mcp.sms.estimate import Estimate

__all__ = [
    "AUDIT_UNWRITABLE",
    "LEDGER_UNWRITABLE",
    "NOTHING_SENT",
    "READ_ONLY_REASON",
    "OutcomeUnknown",
    "Refusal",
    "ledger_refusal",
    "ledger_trouble",
    "utc_time",
]

NOTHING_SENT = "Nothing was sent. "
READ_ONLY_REASON = "This service is read-only for your access key: it may not send SMS."
_STATE_DIR_TROUBLE = (
    "(the disk may be full, or SMSAI_STATE_DIR removed or made read-only; the server's log has the details)"
)
LEDGER_UNWRITABLE = (
    f"The spend ledger could not record this send {_STATE_DIR_TROUBLE}. Free some space or restore the directory, "
    "then try again; if the directory was removed, restart the server."
)
AUDIT_UNWRITABLE = (
    f"The audit log could not be written {_STATE_DIR_TROUBLE}, and no SMS goes out unrecorded. Free some space or "
    "restore the directory, then restart the server."
)


class Refusal(Exception):
    """Nothing was sent; the message says why and what to do. The prefix is added once, when shown.

    `code` names the step that refused, for the audit log, which must not hold the message's words or numbers.
    """

    def __init__(
        self, message: str, *, code: str, estimate: Estimate | None = None, audit: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.estimate = estimate  # when the refusing step knew it, for the audit line
        self.audit = dict(audit or {})  # more for the audit line: the attempt, the upstream's answer

    def text(self) -> str:
        return NOTHING_SENT + str(self)


class OutcomeUnknown(Exception):
    """The message may have gone out; it must not be sent again."""

    def text(self) -> str:
        return str(self)


def utc_time(seconds: float) -> str:
    """A moment as a refusal says it: to the minute, in UTC."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def ledger_trouble(error: StoreUnavailable) -> str:
    """Why the ledger could not be used, and what to do, for any tool that needs it."""
    if error.why == "locked":
        return (
            "The spend ledger is locked by another smsai-mcp process sharing SMSAI_STATE_DIR and did not free up in "
            "time; try again in a moment. If it stays locked, look for a stuck process using that directory."
        )
    return (
        "The spend ledger is out of reach (the Redis server in SMSAI_STATE_URL does not answer); try again in a "
        "moment, and if it persists check that Redis is running and reachable from this server."
    )


def ledger_refusal(error: StoreUnavailable) -> Refusal:
    """A send refused before its POST because the ledger could not be checked or written."""
    code = "ledger_locked" if error.why == "locked" else "ledger_unreachable"
    return Refusal(ledger_trouble(error), code=code)
