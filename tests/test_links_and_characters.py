"""The shared readers of a text: link hosts and unseen characters, as the question and the estimate show them."""

from __future__ import annotations

import pytest

from smsai_mcp.sms.characters import invisible_characters, is_invisible, visible_name
from smsai_mcp.sms.links import link_hosts


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("Pay at https://Bit.ly/x now", ("bit.ly",)),
        ("www.example.com/a and https://www.example.com/b", ("www.example.com",)),
        ("shop.example.co.uk/path?q=1", ("shop.example.co.uk",)),
        ("Visit example.com.", ("example.com",)),
        ("http://user@evil.example:8080/x", ("evil.example",)),
        ("Read file.txt, e.g. Mr.Smith, at 3.30", ()),
        ("No link here", ()),
    ],
)
def test_link_hosts_are_what_a_phone_makes_tappable(text: str, hosts: tuple[str, ...]) -> None:
    assert link_hosts(text) == hosts


def test_unseen_characters_are_named_and_line_breaks_are_not_hidden() -> None:
    text = "a\u200bb\u202ec\U000e0041d\u2028e\u0085f\ufeff\n\tg"
    assert [visible_name(c) for c in invisible_characters(text)] == [
        "⟨U+200B⟩",
        "⟨U+202E⟩",
        "⟨U+E0041⟩",
        "⟨U+2028⟩",
        "⟨U+0085⟩",
        "⟨U+FEFF⟩",
    ]
    assert not is_invisible("\n")
    assert not is_invisible("é")
    assert not is_invisible(" ")
