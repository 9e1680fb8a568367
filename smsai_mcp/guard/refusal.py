"""The one exception every guard step raises: a sentence the model can act on."""

from __future__ import annotations

from typing import Any

from smsai_mcp.state.store import StoreUnavailable

__all__ = [
    "AUDIT_UNWRITABLE",
    "LEDGER_UNWRITABLE",
    "NOTHING_SENT",
    "OutcomeUnknown",
    "Refusal",
    "ledger_refusal",
    "ledger_trouble",
]

NOTHING_SENT = "Nothing was sent. "
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

    def __init__(self, message: str, *, code: str = "refused", audited: bool = False, estimate: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.audited = audited
        self.estimate = estimate  # the Estimate, when the refusing step knew it

    def text(self) -> str:
        return NOTHING_SENT + str(self)


class OutcomeUnknown(Exception):
    """The message may have gone out; it must not be sent again."""

    def text(self) -> str:
        return str(self)


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
