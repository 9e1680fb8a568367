"""The REST client against the sandbox over real loopback HTTP: one test per upstream fault it must survive."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx2
import pytest
from pydantic import SecretStr

from smsai_mcp.client.api import USER_AGENT, RetryPolicy, SmsApi, create_http_client
from smsai_mcp.client.errors import (
    AuthenticationError,
    ConnectFailed,
    ConnectionLost,
    InsufficientCredits,
    InvalidResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    UnprocessableEntity,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from smsai_mcp.sandbox import SANDBOX_TOKEN, Fault, Sandbox
from tests.conftest import SEND_PATH, posts

pytestmark = pytest.mark.anyio

FAST_RETRY = RetryPolicy(attempts=3, backoff_base_seconds=0.01, backoff_cap_seconds=0.05)
BALANCE_PATH = "/api/v1/balance"


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with create_http_client(timeout_seconds=2.0) as client:
        yield client


def api_for(http: httpx2.AsyncClient, base_url: str, token: str = SANDBOX_TOKEN) -> SmsApi:
    return SmsApi(http, token=SecretStr(token), base_url=base_url, retry=FAST_RETRY)


@pytest.fixture
def api(http: httpx2.AsyncClient, sandbox_url: str) -> SmsApi:
    return api_for(http, sandbox_url)


async def test_every_endpoint_parses(api: SmsApi) -> None:
    assert (await api.info()).status == "ok"
    me = await api.me()
    assert me.can_send
    assert (await api.balance()).credits_usd > 0
    countries = await api.countries()
    assert {"US", "CA", "JM", "GB"} <= {c.country_code for c in countries}
    sent = await api.send(to="+12025551234", body="hello", sender_id="Acme")
    assert sent.status == "sent"
    assert (await api.get_message(sent.id)).to == "+12025551234"
    page = await api.list_messages(status="sent")
    assert [m.id for m in page.data] == [sent.id]


async def test_requests_carry_bearer_accept_and_user_agent(api: SmsApi, sandbox: Sandbox) -> None:
    await api.balance()
    recorded = sandbox.state.requests[-1]
    assert recorded.authorized
    assert recorded.accept == "application/json"
    assert recorded.user_agent is not None
    assert recorded.user_agent.startswith("smsai-mcp/")
    assert USER_AGENT.startswith("smsai-mcp/")


async def test_invalid_token_is_401_and_names_the_variable(http: httpx2.AsyncClient, sandbox_url: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await api_for(http, sandbox_url, token="smsai_wrong_secret_value").balance()
    assert "SMSAI_API_TOKEN" in str(caught.value)
    assert "smsai_wrong_secret_value" not in str(caught.value)


async def test_token_never_appears_in_repr_or_errors(http: httpx2.AsyncClient, sandbox_url: str) -> None:
    secret = "smsai_this_must_never_leak_123"
    api = api_for(http, sandbox_url, token=secret)
    assert secret not in repr(api)
    with pytest.raises(AuthenticationError) as caught:
        await api.me()
    assert secret not in repr(caught.value)
    assert secret not in str(caught.value)


async def test_no_credits_is_402(http: httpx2.AsyncClient, sandbox_url: str, sandbox: Sandbox) -> None:
    with pytest.raises(InsufficientCredits):
        await api_for(http, sandbox_url, token="smsai_sandbox_empty").send(to="+12025551234", body="hi")
    assert posts(sandbox) == 1


async def test_token_without_send_permission_is_403_with_upstream_reason(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await api_for(http, sandbox_url, token="smsai_sandbox_readonly").send(to="+12025551234", body="hi")
    assert "sms:send" in str(caught.value)
    assert caught.value.upstream_message


async def test_unknown_message_is_404(api: SmsApi) -> None:
    with pytest.raises(NotFound):
        await api.get_message(987654)


async def test_422_carries_the_field_messages(api: SmsApi) -> None:
    with pytest.raises(UnprocessableEntity) as caught:
        await api.send(to="+8613812345678", body="hi")  # a country the sandbox does not list
    assert "to" in caught.value.field_errors
    assert "to:" in str(caught.value)


async def test_read_retries_a_429_after_retry_after(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(path=BALANCE_PATH, status=429, headers={"Retry-After": "0"}, times=1))
    assert (await api.balance()).credits_usd > 0
    assert sandbox.state.count("GET", BALANCE_PATH) == 2


async def test_long_retry_after_is_reported_not_waited(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(path=BALANCE_PATH, status=429, headers={"Retry-After": "120"}, times=None))
    with pytest.raises(RateLimited) as caught:
        await api.balance()
    assert caught.value.retry_after == 120
    assert "120 seconds" in str(caught.value)
    assert sandbox.state.count("GET", BALANCE_PATH) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_read_retries_gateway_errors_then_succeeds(api: SmsApi, sandbox: Sandbox, status: int) -> None:
    sandbox.state.add_fault(Fault(path=BALANCE_PATH, status=status, times=2))
    assert (await api.balance()).credits_usd > 0
    assert sandbox.state.count("GET", BALANCE_PATH) == 3


async def test_read_retries_are_bounded(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(path=BALANCE_PATH, status=503, times=None))
    with pytest.raises(UpstreamUnavailable):
        await api.balance()
    assert sandbox.state.count("GET", BALANCE_PATH) == FAST_RETRY.attempts


async def test_html_error_page_never_reaches_the_caller_raw(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(path=BALANCE_PATH, response="html", status=502, times=None))
    with pytest.raises(UpstreamUnavailable) as caught:
        await api.balance()
    assert "<" not in str(caught.value)
    assert "502" in str(caught.value)


async def test_malformed_json_is_an_invalid_response(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(path=BALANCE_PATH, response="malformed", times=None))
    with pytest.raises(InvalidResponse):
        await api.balance()


async def test_dropped_connection_on_read_is_retried(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(path=BALANCE_PATH, response="drop", times=1))
    assert (await api.balance()).credits_usd > 0
    assert sandbox.state.count("GET", BALANCE_PATH) == 2


async def test_send_500_is_not_retried(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=500, times=None))
    with pytest.raises(UpstreamUnavailable) as caught:
        await api.send(to="+12025551234", body="hi")
    assert caught.value.request_may_have_been_processed
    assert posts(sandbox) == 1


async def test_send_503_is_not_retried(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=503, times=None))
    with pytest.raises(UpstreamUnavailable):
        await api.send(to="+12025551234", body="hi")
    assert posts(sandbox) == 1


async def test_send_timeout_is_not_retried(http: httpx2.AsyncClient, sandbox_url: str, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=5, times=None))
    async with create_http_client(timeout_seconds=0.3) as impatient:
        with pytest.raises(UpstreamTimeout) as caught:
            await api_for(impatient, sandbox_url).send(to="+12025551234", body="hi")
    assert caught.value.request_may_have_been_processed
    assert posts(sandbox) == 1


async def test_send_response_lost_after_processing_is_not_retried(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="drop", process=True, times=None))
    with pytest.raises(ConnectionLost) as caught:
        await api.send(to="+12025551234", body="hi")
    assert caught.value.request_may_have_been_processed
    assert posts(sandbox) == 1
    assert len(sandbox.state.messages) == 1  # it went out: exactly why the client must not resend


async def test_send_malformed_success_body_counts_as_maybe_sent(api: SmsApi, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="malformed", process=True, times=None))
    with pytest.raises(InvalidResponse) as caught:
        await api.send(to="+12025551234", body="hi")
    assert caught.value.request_may_have_been_processed
    assert posts(sandbox) == 1


async def test_connection_refused_is_connect_failed_and_nothing_left(http: httpx2.AsyncClient) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = api_for(http, f"http://127.0.0.1:{port}/api/v1")
    with pytest.raises(ConnectFailed) as caught:
        await api.send(to="+12025551234", body="hi")
    assert not caught.value.request_may_have_been_processed


async def test_401_names_the_variable_the_token_came_from(http: httpx2.AsyncClient, sandbox_url: str) -> None:
    api = SmsApi(http, token=SecretStr("smsai_wrong"), base_url=sandbox_url, token_variable="ACME_SMSAI_TOKEN")
    with pytest.raises(AuthenticationError, match="ACME_SMSAI_TOKEN"):
        await api.balance()
