"""The links in a message's text, as a person (and a carrier's filter) would see them: by their host names."""

from __future__ import annotations

import re

__all__ = ["link_hosts"]

# A scheme link, a www. link, or a bare domain with a path or a well-known top-level domain: what phones make tappable.
_LINK = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[^\s<>\"']+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^(?:(?:https?|ftp)://)", re.IGNORECASE)
# Bare words like "file.txt" or "e.g." are not links; a bare domain counts when its ending is a common web one.
_BARE_DOMAIN_ENDINGS = frozenset(
    [
        "com",
        "net",
        "org",
        "io",
        "co",
        "me",
        "ly",
        "gl",
        "gd",
        "to",
        "app",
        "dev",
        "info",
        "biz",
        "link",
        "click",
        "site",
        "online",
        "xyz",
        "top",
        "shop",
        "store",
        "us",
        "uk",
        "ca",
        "de",
        "fr",
        "es",
        "it",
        "nl",
        "eu",
        "au",
        "in",
        "ru",
        "cn",
        "jp",
        "br",
        "mx",
        "ai",
        "gg",
        "tv",
        "cc",
        "ws",
        "is",
        "su",
        "la",
    ]
)


def link_hosts(text: str) -> tuple[str, ...]:
    """The host names of the links in `text`, lower-cased, in order of first appearance, without repeats."""
    hosts: dict[str, None] = {}
    for match in _LINK.finditer(text):
        link = match.group(0)
        explicit = bool(_SCHEME.match(link)) or link.lower().startswith("www.")
        host = _SCHEME.sub("", link).split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".,;:!?)]}").lower()
        if not host or "." not in host:
            continue
        if not explicit and host.rsplit(".", 1)[-1] not in _BARE_DOMAIN_ENDINGS:
            continue
        hosts.setdefault(host, None)
    return tuple(hosts)
