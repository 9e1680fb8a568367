"""Human confirmation: the question asked through elicitation, and signed single-use tokens for the rest."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field

from smsai_mcp.config import ConfigError
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.state.private import private_dir, private_file

__all__ = ["ConfirmForm", "ConfirmationTokens", "Question", "load_or_create_secret"]

TOKEN_LIFETIME_SECONDS = 600
SECRET_BYTES = 32
_SECRET_WAIT_SECONDS = 2.0  # how long a secret of the wrong length is given to become whole
_TOKEN_PREFIX = "smsc1"  # noqa: S105 - a format tag, not a secret


class ConfirmForm(BaseModel):
    """The elicitation form: one box, unchecked unless the person checks it."""

    confirm: bool = Field(default=False, title="Send this SMS", description="Check to send this SMS now.")


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
        lines = [
            "Send this SMS?",
            f"To: {self.recipient} ({_one_line(e.country_name)})",  # the country's name is the upstream's text
            f"From: {_one_line(self.sender_id or 'the account default sender')}",
            f"Text: {_one_line(self.body)}",  # every character: a tail the person does not see is not confirmed
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


def _one_line(text: str) -> str:
    """Text from the agent or the upstream as one line of the question: it cannot add lines that look like the
    question's own, and a control or format character (a bidi override, say) is shown by name, not obeyed."""
    joined = " ⏎ ".join(text.splitlines())
    return "".join(f"⟨U+{ord(char):04X}⟩" if unicodedata.category(char) in ("Cc", "Cf") else char for char in joined)


def load_or_create_secret(state_dir: Path) -> bytes:
    """The install's own signing secret, made once and kept private in the state directory.

    It is written whole to a temporary file, flushed to disk, then linked into place, which never replaces a
    secret already there: a reader sees no secret or all of it, and processes starting together share one.
    """
    path = state_dir / "secret"
    secret = _read_secret(path)
    if secret is not None:
        return secret
    private_dir(state_dir)
    descriptor, temporary = tempfile.mkstemp(dir=state_dir, prefix=".secret-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        private_file(Path(temporary), create=False)  # 0600 whatever the umask, before anyone can see the name
        with contextlib.suppress(FileExistsError):  # another process linked its secret first: use theirs
            os.link(temporary, path)
            _sync_directory(state_dir)
    finally:
        os.unlink(temporary)
    secret = _read_secret(path)
    if secret is None:
        raise ConfigError(f"The signing secret in {state_dir} disappeared while it was being made; start again.")
    return secret


def _read_secret(path: Path) -> bytes | None:
    """None when there is no secret yet. A file of the wrong length is never used: it is waited for briefly (an
    older version may still be writing it in place), then refused."""
    deadline = time.monotonic() + _SECRET_WAIT_SECONDS
    while True:
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(secret) == SECRET_BYTES:
            private_file(path, create=False)  # an older version's file may be looser
            return secret
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"The signing secret {path} holds {len(secret)} bytes instead of {SECRET_BYTES}, so it is damaged. "
                "Remove it (a new one is made at the next start; confirmation tokens already issued stop working), "
                "or set SMSAI_STATE_SECRET."
            )
        time.sleep(0.02)


def _sync_directory(directory: Path) -> None:
    """Make the new name durable too; not every platform can open a directory."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ConfirmationTokens:
    """HMAC-signed tokens bound to one message's fingerprint; the store makes each one single-use."""

    def __init__(self, secret: bytes, *, audience: str = "default") -> None:
        # The audience (the tenant) is in the key, so one tenant's token never confirms another's send.
        label = b"smsai-mcp confirmation tokens\x00" + audience.encode() + b"\x00"
        self._key = hashlib.sha256(label + secret).digest()

    def issue(self, fingerprint: str, *, now: float) -> tuple[str, int]:
        expires = int(now) + TOKEN_LIFETIME_SECONDS
        payload = json.dumps({"id": secrets.token_hex(16), "exp": expires, "fp": fingerprint}, separators=(",", ":"))
        signed = f"{_TOKEN_PREFIX}.{_b64(payload.encode())}"
        return f"{signed}.{self._sign(signed)}", expires

    def verify(self, token: str, fingerprint: str, *, now: float) -> str:
        """The token's id if it confirms exactly this message now; a Refusal otherwise."""
        prefix, _, rest = token.partition(".")
        encoded, _, signature = rest.partition(".")
        signed = f"{prefix}.{encoded}"
        expected = self._sign(signed).encode()
        # Compared as bytes: a token is untrusted text and may hold any character.
        if prefix != _TOKEN_PREFIX or not signature or not hmac.compare_digest(signature.encode(), expected):
            raise Refusal(
                "The confirmation_token is not one this server issued. Call send_sms without it to get a new one.",
                code="token_forged",
            )
        claims = json.loads(_unb64(encoded))
        if not hmac.compare_digest(str(claims["fp"]).encode(), fingerprint.encode()):
            raise Refusal(
                "The confirmation_token was issued for a different message (to, body and sender_id must be exactly "
                "the same). Call send_sms without a token to confirm this one.",
                code="token_for_another_message",
            )
        if now >= int(claims["exp"]):
            raise Refusal(
                "The confirmation_token has expired (they last 10 minutes). Ask the user again.", code="token_expired"
            )
        return str(claims["id"])

    def _sign(self, signed: str) -> str:
        return _b64(hmac.new(self._key, signed.encode(), hashlib.sha256).digest())
