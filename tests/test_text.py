"""One normalisation, Laravel's Str::trim as its TrimStrings middleware applies it, for the guard and the sandbox."""

from __future__ import annotations

import httpx2
import pytest

from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from smsai_mcp.sms.text import TRIMMED, as_the_api_keeps_it

pytestmark = pytest.mark.anyio

# Every character Laravel's Str::trim removes at either end: PCRE's \s under /u, its invisible characters, NUL.
LARAVEL_TRIMS = (
    "\x00\t\n\x0b\x0c\r \x85\xa0\xad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180e"
    + "".join(chr(code) for code in range(0x2000, 0x2010))
    + "\u2028\u2029\u202f\u205f\u2060\u2061\u2062\u2063\u2064\u2065"
    + "".join(chr(code) for code in range(0x206A, 0x2070))
    + "\u2800\u3000\u3164\ufeff\uffa0\U0001d159"
    + "".join(chr(code) for code in range(0x1D173, 0x1D17B))
    + "\U000e0020"
)


def test_every_character_laravel_trims_is_trimmed_and_no_other() -> None:
    assert set(LARAVEL_TRIMS) == TRIMMED
    for character in LARAVEL_TRIMS:
        assert as_the_api_keeps_it(f"{character}Hi{character}") == "Hi", f"U+{ord(character):04X}"


@pytest.mark.parametrize(
    "kept",
    [
        pytest.param("\x1c", id="file-separator: Python's str.strip removes it, Laravel keeps it"),
        pytest.param("\u00b7", id="middle dot"),
        pytest.param("\U000e0041", id="tag letter A"),
        pytest.param("\u034e", id="combining mark beside the grapheme joiner"),
    ],
)
def test_characters_laravel_keeps_stay(kept: str) -> None:
    assert as_the_api_keeps_it(f" {kept}Hi{kept} ") == f"{kept}Hi{kept}"


def test_only_the_ends_are_trimmed() -> None:
    assert as_the_api_keeps_it("\u3000 Hi\u00a0\u200bthere \ufeff\n") == "Hi\u00a0\u200bthere"
    assert as_the_api_keeps_it("\u200b\u3000\ufeff") == ""
    assert as_the_api_keeps_it("") == ""


async def test_the_sandbox_keeps_text_and_sender_as_the_api_does(sandbox: Sandbox, sandbox_url: str) -> None:
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Accept": "application/json"}
    async with httpx2.AsyncClient(base_url=sandbox_url, headers=headers) as client:
        response = await client.post(
            "/sms/send", json={"to": "+12025551234", "body": "\ufeffHi there\u200b\u3000", "sender_id": "Acme\u00a0"}
        )
        assert response.status_code == 200, response.text
        blank = await client.post("/sms/send", json={"to": "+12025551234", "body": "\u200b\u3000"})
    [message] = sandbox.state.messages
    assert (message.body, message.sender_id) == ("Hi there", "Acme")
    assert blank.status_code == 422
    assert blank.json()["errors"]["body"] == ["The body field is required."]
