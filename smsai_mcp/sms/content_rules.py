"""What a text may not carry (CONTRACT section 4, content checks): characters that make it read differently from
what is sent, secrets an injected agent could smuggle out by SMS, and links through public URL shorteners.

The secret patterns follow the provider prefixes that the gitleaks default rule set keys on, written here as one
small table: secret-scanner libraries on PyPI (detect-secrets) scan files, pull in their own dependencies and add
entropy and keyword heuristics that would refuse ordinary messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from smsai_mcp.sms.characters import BIDI_CONTROLS, is_tag, visible_name
from smsai_mcp.sms.links import link_hosts

__all__ = ["SECRET_RULES", "SHORTENER_HOSTS", "ContentProblem", "SecretRule", "content_problem", "passes_luhn"]

_START = r"(?<![A-Za-z0-9_-])"  # a key starts where a word does not go on before it
_END = r"(?![A-Za-z0-9_-])"


def passes_luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_number(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and passes_luhn(digits)


@dataclass(frozen=True, slots=True)
class SecretRule:
    name: str  # what the refusal says the text looks like, never the match itself
    pattern: re.Pattern[str]
    confirm: Callable[[str], bool] | None = None  # a second look at a match, for patterns that cannot say alone


def _rule(name: str, regex: str, confirm: Callable[[str], bool] | None = None) -> SecretRule:
    return SecretRule(name, re.compile(regex), confirm)


# One row per rule; the first that matches names the refusal. More specific prefixes come before general ones.
SECRET_RULES: tuple[SecretRule, ...] = (
    _rule("a PEM private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    _rule("an AWS access key", _START + r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}" + _END),
    _rule("a GitHub token", _START + r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})" + _END),
    _rule("a GitLab token", _START + r"glpat-[A-Za-z0-9_-]{20,}" + _END),
    _rule("a Slack token", _START + r"xox[abposre]-[A-Za-z0-9-]{10,}" + _END),
    _rule("a Slack webhook", r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}"),
    _rule("a Stripe secret key", _START + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _END),
    _rule("a Google API key", _START + r"AIza[0-9A-Za-z_-]{35}" + _END),
    _rule("an Anthropic API key", _START + r"sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{20,}" + _END),
    _rule("an OpenAI API key", _START + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}" + _END),
    _rule("a Twilio API key", _START + r"SK[0-9a-f]{32}" + _END),
    _rule("a SendGrid API key", _START + r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}" + _END),
    _rule("a Hugging Face token", _START + r"hf_[A-Za-z0-9]{34,}" + _END),
    _rule("an npm token", _START + r"npm_[A-Za-z0-9]{36}" + _END),
    _rule("a JSON Web Token (JWT)", _START + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    _rule("an smsai_ token", r"(?<![A-Za-z0-9])smsai_[A-Za-z0-9]{6,}"),
    _rule("a payment card number", r"(?<![\d-])\d(?:[ -]?\d){12,18}(?!\d)", _card_number),
)

# Public URL shorteners: carriers filter their links, and they hide where a link goes (a host and its subdomains).
SHORTENER_HOSTS = frozenset(
    [
        "bit.ly",
        "bitly.com",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "v.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "tiny.cc",
        "t.ly",
        "rb.gy",
        "bl.ink",
        "s.id",
        "lnkd.in",
        "shorte.st",
        "adf.ly",
        "tr.im",
        "qrco.de",
    ]
)


@dataclass(frozen=True, slots=True)
class ContentProblem:
    """Why a text is refused, in words that never repeat what it carries."""

    rule: str  # for the audit line and tests: bidi, tag, secret, shortener
    reason: str


def content_problem(text: str) -> ContentProblem | None:
    """The first content rule the text breaks, or None."""
    bidi = next((c for c in text if c in BIDI_CONTROLS), None)
    if bidi is not None:
        return ContentProblem(
            "bidi",
            f"the text contains a bidirectional control character ({visible_name(bidi)}), which can make it read "
            "in a different order from what is sent",
        )
    tag = next((c for c in text if is_tag(c)), None)
    if tag is not None:
        return ContentProblem(
            "tag", f"the text contains an invisible tag character ({visible_name(tag)}), which can hide words"
        )
    for rule in SECRET_RULES:
        if any(rule.confirm is None or rule.confirm(m.group(0)) for m in rule.pattern.finditer(text)):
            return ContentProblem(
                "secret",
                f"the text looks like it carries {rule.name}; an SMS must not carry credentials or card numbers",
            )
    for host in link_hosts(text):
        if any(host == s or host.endswith("." + s) for s in SHORTENER_HOSTS):
            return ContentProblem(
                "shortener",
                f"the text links through the URL shortener {host}, which carriers filter and which hides where "
                "the link goes",
            )
    return None
