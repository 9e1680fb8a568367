"""Review round 18: a hostile upstream's JSON nested past Python's stack."""

from __future__ import annotations

import httpx2
import pytest
from pydantic import SecretStr

from smsai_mcp.client.api import SmsApi
from smsai_mcp.client.errors import ApiStatusError, InvalidBalance, InvalidResponse
from smsai_mcp.guard.balance import BalanceReader

pytestmark = pytest.mark.anyio

NESTED_PAST_THE_STACK = b'{"credits_usd": 5, "junk": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def api_answering(status: int, body: bytes) -> SmsApi:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, content=body, headers={"Content-Type": "application/json"})

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    return SmsApi(http, token=SecretStr("t0ken"), base_url="https://upstream.test/api/v1")


async def test_a_balance_nested_past_the_stack_is_an_answer_that_is_not_json() -> None:
    with pytest.raises(InvalidResponse) as raised:
        await api_answering(200, NESTED_PAST_THE_STACK).balance()
    assert not isinstance(raised.value, InvalidBalance)
    assert "not JSON" in raised.value.message


async def test_a_question_leaves_out_a_balance_nested_past_the_stack() -> None:
    # Not an internal error, which a send would have to word as "the message may have been sent".
    assert await BalanceReader(api_answering(200, NESTED_PAST_THE_STACK)).read_now() is None


async def test_an_error_answer_nested_past_the_stack_is_still_its_status() -> None:
    with pytest.raises(ApiStatusError) as raised:
        await api_answering(422, NESTED_PAST_THE_STACK).me()
    assert raised.value.status_code == 422
