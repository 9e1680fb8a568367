"""The one exception every guard step raises: a sentence the model can act on."""

from __future__ import annotations

from typing import Any

__all__ = ["NOTHING_SENT", "OutcomeUnknown", "Refusal"]

NOTHING_SENT = "Nothing was sent. "


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
