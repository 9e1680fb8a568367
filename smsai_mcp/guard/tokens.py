"""Signed confirmation tokens, bound to one message's fingerprint; the ledger makes each one single-use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from smsai_mcp.guard.refusal import Refusal

__all__ = ["TOKEN_LIFETIME_SECONDS", "ConfirmationTokens"]

TOKEN_LIFETIME_SECONDS = 600
_TOKEN_PREFIX = "smsc1"  # noqa: S105 - a format tag, not a secret


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
