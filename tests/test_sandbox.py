"""The sandbox answers as the SMS for AI API would, over a real socket and in-process, and misbehaves on demand."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from smsai_mcp.sandbox import (
    FAILING_NUMBER,
    SANDBOX_EMPTY_TOKEN,
    SANDBOX_READONLY_TOKEN,
    SANDBOX_TOKEN,
    Fault,
    Sandbox,
    SandboxConfig,
    create_app,
    in_process_transport,
    running,
)
from smsai_mcp.sandbox.serve import _stderr_log_config

pytestmark = pytest.mark.anyio

US_NUMBER = "+12025551234"
SEND = "/api/v1/sms/send"
JSON_ACCEPT = {"Accept": "application/json"}
IN_PROCESS_URL = "http://sandbox.test/api/v1"
BAD_SENDER = "The sender id field format is invalid."


def auth(token: str = SANDBOX_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **JSON_ACCEPT}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def shared_app() -> Sandbox:
    return create_app(SandboxConfig(delivery_seconds=60))


@pytest.fixture(scope="module")
def socket_url(shared_app: Sandbox) -> Iterator[str]:
    with running(shared_app) as url:
        yield url


@pytest.fixture
def app(shared_app: Sandbox) -> Sandbox:
    shared_app.state.reset()
    return shared_app


@pytest.fixture(params=["socket", "in_process"])
async def client(request: pytest.FixtureRequest, app: Sandbox, socket_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    """The shared sandbox reached either over loopback HTTP or in-process; both must behave the same."""
    if request.param == "socket":
        async with httpx2.AsyncClient(base_url=socket_url, headers=auth(), timeout=5) as http:
            yield http
    else:
        transport = in_process_transport(app)
        async with httpx2.AsyncClient(transport=transport, base_url=IN_PROCESS_URL, headers=auth(), timeout=5) as http:
            yield http


@asynccontextmanager
async def own_sandbox(**config: Any) -> AsyncIterator[tuple[Sandbox, httpx2.AsyncClient]]:
    """A fresh in-process sandbox for tests that need their own configuration."""
    sandbox = create_app(SandboxConfig(**config))
    transport = in_process_transport(sandbox)
    async with httpx2.AsyncClient(transport=transport, base_url=IN_PROCESS_URL, headers=auth(), timeout=5) as http:
        yield sandbox, http


async def send(http: httpx2.AsyncClient, to: str = US_NUMBER, body: str = "Hello!", **extra: Any) -> httpx2.Response:
    return await http.post("/sms/send", json={"to": to, "body": body, **extra})


async def credits(http: httpx2.AsyncClient) -> float:
    return float((await http.get("/balance")).json()["credits_usd"])


# Endpoint shapes


async def test_info_endpoint_answers_without_token(client: httpx2.AsyncClient) -> None:
    response = await client.get(str(client.base_url).rstrip("/"), headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"api": "SMS for AI", "version": "1.0", "status": "ok"}


async def test_me_reports_token_permissions_and_user_credits(client: httpx2.AsyncClient) -> None:
    response = await client.get("/me")
    assert response.status_code == 200
    assert response.json() == {
        "token": {"id": 1, "name": "Sandbox Agent", "permissions": ["sms:send"]},
        "user": {"name": "Sandbox User", "email": "sandbox@example.com", "credits": 25.0},
    }


async def test_balance_reports_demo_credits_as_a_float(client: httpx2.AsyncClient) -> None:
    response = await client.get("/balance")
    assert response.json() == {"credits_usd": 25.0}
    assert response.headers["content-type"] == "application/json"


async def test_countries_list_real_prices_by_name_with_both_dial_code_styles(client: httpx2.AsyncClient) -> None:
    countries = (await client.get("/countries")).json()
    by_code = {country["country_code"]: country for country in countries}
    assert [c["country_name"] for c in countries] == sorted(c["country_name"] for c in countries)
    assert len(countries) >= 30
    assert by_code["US"] == {
        "country_code": "US",
        "country_name": "United States",
        "dial_code": "+1",
        "price_usd": 0.01,
    }
    assert by_code["CA"]["dial_code"] == "+1"
    assert by_code["JM"]["dial_code"] == "+1876"
    assert by_code["RU"]["dial_code"] == by_code["KZ"]["dial_code"] == "+7"
    assert "CN" not in by_code
    assert any(len(str(c["price_usd"]).split(".")[1]) >= 5 for c in countries)
    assert all(isinstance(c["price_usd"], float) for c in countries)


async def test_send_answers_laravel_fields_and_charges_the_unit_price(client: httpx2.AsyncClient) -> None:
    response = await send(client)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"id", "status", "to", "price_usd", "nvia_message_id"}
    assert answer["status"] == "sent"
    assert answer["to"] == US_NUMBER
    assert answer["price_usd"] == 0.01
    assert re.fullmatch(r"[0-9a-f]{24}", answer["nvia_message_id"])
    assert await credits(client) == 24.99


async def test_message_record_carries_every_documented_field(client: httpx2.AsyncClient) -> None:
    sent = (await send(client, sender_id="MyApp")).json()
    record = (await client.get(f"/sms/{sent['id']}")).json()
    assert record["id"] == sent["id"]
    assert record["to"] == US_NUMBER
    assert record["body"] == "Hello!"
    assert record["sender_id"] == "MyApp"
    assert record["status"] == "sent"
    assert record["price_usd"] == 0.01
    assert record["segments"] == 1
    assert record["nvia_message_id"] == sent["nvia_message_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["created_at"])
    assert record["updated_at"] == record["created_at"]


async def test_responses_carry_rate_limit_headers(client: httpx2.AsyncClient) -> None:
    first = await client.get("/balance")
    second = await client.get("/balance")
    assert first.headers["X-RateLimit-Limit"] == "600"
    assert int(first.headers["X-RateLimit-Remaining"]) == int(second.headers["X-RateLimit-Remaining"]) + 1


async def test_json_escapes_slashes_as_php_does(client: httpx2.AsyncClient) -> None:
    response = await client.get("/sms")
    assert "http:\\/\\/" in response.text
    assert response.json()["links"]["first"].startswith("http://")


async def test_base_url_with_trailing_slash_reaches_the_info_endpoint(client: httpx2.AsyncClient) -> None:
    response = await client.get(str(client.base_url).rstrip("/") + "/")
    assert response.status_code == 200
    assert response.json()["api"] == "SMS for AI"


# Authentication, permissions and credits


@pytest.mark.parametrize("authorization", [None, "Bearer smsai_nobody", "Basic smsai_sandbox", "Bearer"])
async def test_missing_or_invalid_token_is_401_json(client: httpx2.AsyncClient, authorization: str | None) -> None:
    headers = {"Accept": "application/json", "Authorization": authorization or ""}
    response = await client.get("/balance", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}


async def test_unauthenticated_request_without_json_accept_is_redirected_to_login(client: httpx2.AsyncClient) -> None:
    response = await client.get("/balance", headers={"Authorization": "", "Accept": "*/*"})
    assert response.status_code == 302
    assert response.headers["location"].endswith("/login")
    assert response.headers["content-type"].startswith("text/html")
    assert "Redirecting to" in response.text


async def test_validation_failure_without_json_accept_redirects_back_instead_of_422(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.post("/sms/send", json={}, headers={"Accept": "*/*"})
    assert response.status_code == 302
    assert response.headers["content-type"].startswith("text/html")


async def test_readonly_token_cannot_send(client: httpx2.AsyncClient, app: Sandbox) -> None:
    response = await client.post(
        "/sms/send", json={"to": US_NUMBER, "body": "hi"}, headers=auth(SANDBOX_READONLY_TOKEN)
    )
    assert response.status_code == 403
    assert response.json() == {"message": "This token does not have the sms:send permission."}
    assert app.state.messages == []


async def test_token_without_credits_gets_402_and_nothing_is_stored(client: httpx2.AsyncClient, app: Sandbox) -> None:
    response = await client.post("/sms/send", json={"to": US_NUMBER, "body": "hi"}, headers=auth(SANDBOX_EMPTY_TOKEN))
    assert response.status_code == 402
    assert response.json() == {"message": "Insufficient credits to send SMS."}
    assert app.state.messages == []


async def test_credits_short_of_a_multi_segment_price_are_refused() -> None:
    async with own_sandbox(credits_usd=Decimal("0.015")) as (_, http):
        assert (await send(http, body="x" * 161)).status_code == 402
        assert (await send(http, body="x" * 160)).status_code == 200
        assert await credits(http) == 0.005


async def test_each_token_has_its_own_credits_and_messages(client: httpx2.AsyncClient) -> None:
    sent = (await send(client)).json()
    readonly = auth(SANDBOX_READONLY_TOKEN)
    assert (await client.get(f"/sms/{sent['id']}", headers=readonly)).status_code == 404
    assert (await client.get("/sms", headers=readonly)).json()["data"] == []
    assert (await client.get("/balance", headers=readonly)).json() == {"credits_usd": 25.0}


# Validation


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"body": "hi"}, "to", "The to field is required."),
        ({"to": "2025551234", "body": "hi"}, "to", "The to field format is invalid."),
        ({"to": "+1 202 555 1234", "body": "hi"}, "to", "The to field format is invalid."),
        ({"to": 12025551234, "body": "hi"}, "to", "The to field must be a string."),
        ({"to": "+8613812345678", "body": "hi"}, "to", "Destination country is not supported."),
        ({"to": "+999123456789", "body": "hi"}, "to", "Destination country is not supported."),
        ({"to": US_NUMBER}, "body", "The body field is required."),
        ({"to": US_NUMBER, "body": "   "}, "body", "The body field is required."),
        ({"to": US_NUMBER, "body": "x" * 1601}, "body", "The body field must not be greater than 1600 characters."),
        ({"to": US_NUMBER, "body": "hi", "sender_id": "12345"}, "sender_id", "The sender id field format is invalid."),
        (
            {"to": US_NUMBER, "body": "hi", "sender_id": "TWELVECHARSX"},
            "sender_id",
            "The sender id field format is invalid.",
        ),
        ({"to": US_NUMBER, "body": "hi", "sender_id": "My-App"}, "sender_id", "The sender id field format is invalid."),
        (
            {"to": US_NUMBER, "body": "hi", "include_conversion_url": "yes"},
            "include_conversion_url",
            "The include conversion url field must be true or false.",
        ),
    ],
)
async def test_send_validation_errors_use_laravel_wording(
    client: httpx2.AsyncClient, app: Sandbox, payload: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post("/sms/send", json=payload)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {field: [message]}}
    assert app.state.messages == []


async def test_several_validation_errors_are_summarised_laravel_style(client: httpx2.AsyncClient) -> None:
    answer = (await client.post("/sms/send", json={"sender_id": "!"})).json()
    assert answer["message"] == "The to field is required. (and 2 more errors)"
    assert list(answer["errors"]) == ["to", "body", "sender_id"]


async def test_body_that_is_not_json_counts_as_missing_fields(client: httpx2.AsyncClient) -> None:
    content = json.dumps({"to": US_NUMBER, "body": "hi"})
    response = await client.post("/sms/send", content=content, headers={"Content-Type": "text/plain"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"to", "body"}
    broken = await client.post("/sms/send", content=b'{"to": "+1', headers={"Content-Type": "application/json"})
    assert broken.status_code == 422


async def test_form_encoded_send_is_accepted_as_laravel_does(client: httpx2.AsyncClient) -> None:
    response = await client.post("/sms/send", data={"to": US_NUMBER, "body": "hi"})
    assert response.status_code == 200


async def test_input_strings_are_trimmed_as_laravel_trim_strings_does(client: httpx2.AsyncClient) -> None:
    sent = (await send(client, body="  hi there \n", sender_id=" MyApp ")).json()
    record = (await client.get(f"/sms/{sent['id']}")).json()
    assert record["body"] == "hi there"
    assert record["sender_id"] == "MyApp"


async def test_sender_id_with_letters_digits_and_spaces_is_accepted(client: httpx2.AsyncClient) -> None:
    assert (await send(client, sender_id="My App 2")).status_code == 200


# Charging per segment


async def test_161_character_gsm_body_costs_two_unit_prices(client: httpx2.AsyncClient) -> None:
    answer = (await send(client, body="x" * 161)).json()
    assert answer["price_usd"] == 0.02
    assert (await client.get(f"/sms/{answer['id']}")).json()["segments"] == 2


async def test_ucs2_body_is_charged_per_70_then_67_unit_segment(client: httpx2.AsyncClient) -> None:
    one = (await send(client, body="你" * 70)).json()
    two = (await send(client, body="你" * 71)).json()
    three = (await send(client, body="你" * 135)).json()
    assert (one["price_usd"], two["price_usd"], three["price_usd"]) == (0.01, 0.02, 0.03)


async def test_charge_uses_the_destination_region_not_the_dial_code(client: httpx2.AsyncClient) -> None:
    jamaica = (await send(client, to="+18762345678")).json()  # +1 like the US, priced as JM
    kazakhstan = (await send(client, to="+77012345678")).json()  # +7 like Russia, priced as KZ
    assert jamaica["price_usd"] == 0.1105
    assert kazakhstan["price_usd"] == 0.19875


async def test_conversion_url_is_added_only_when_asked(client: httpx2.AsyncClient, app: Sandbox) -> None:
    plain = (await send(client)).json()
    tracked = (await send(client, include_conversion_url=True)).json()
    assert "conversion_url" not in plain
    assert tracked["conversion_url"].startswith("http")
    report = await client.post("/conversion/report", json={"conversion_url": tracked["conversion_url"], "value": 3})
    assert report.status_code == 200
    assert report.json() == {"message": "Conversion reported."}
    assert app.state.conversion_reports[-1]["value"] == 3


# Delivery


async def test_message_moves_from_sent_to_delivered_after_delivery_seconds() -> None:
    async with own_sandbox(delivery_seconds=0.2) as (sandbox, http):
        sent = (await send(http)).json()
        assert (await http.get(f"/sms/{sent['id']}")).json()["status"] == "sent"
        later = datetime.now(UTC) + timedelta(seconds=0.25)
        sandbox.state.clock = lambda: later  # the delivery time has passed, without waiting for it
        record = (await http.get(f"/sms/{sent['id']}")).json()
        assert record["status"] == "delivered"
        assert record["updated_at"] > record["created_at"]


async def test_documented_failing_number_ends_failed() -> None:
    async with own_sandbox(delivery_seconds=0) as (_, http):
        sent = await send(http, to=FAILING_NUMBER)
        assert sent.json()["status"] == "sent"
        assert (await http.get(f"/sms/{sent.json()['id']}")).json()["status"] == "failed"


# Listing and pagination


async def test_list_is_newest_first_and_paginated_with_laravel_links(client: httpx2.AsyncClient, app: Sandbox) -> None:
    account = app.state.accounts[SANDBOX_TOKEN]
    for number in range(17):  # stored directly: seventeen POSTs over loopback would only slow the suite
        app.state.send(account, US_NUMBER, f"message {number}", None, Decimal("0.01"), 1)
    first = (await client.get("/sms")).json()
    assert [m["body"] for m in first["data"][:2]] == ["message 16", "message 15"]
    assert len(first["data"]) == 15
    meta = first["meta"]
    assert (meta["current_page"], meta["from"], meta["to"], meta["last_page"], meta["per_page"], meta["total"]) == (
        1,
        1,
        15,
        2,
        15,
        17,
    )
    assert meta["path"].endswith("/api/v1/sms")
    assert first["links"]["prev"] is None
    assert first["links"]["next"] == meta["path"] + "?page=2"
    assert [link["label"] for link in meta["links"]] == ["&laquo; Previous", "1", "2", "Next &raquo;"]
    assert [link["active"] for link in meta["links"]] == [False, True, False, False]

    second = (await client.get(first["links"]["next"])).json()
    assert [m["body"] for m in second["data"]] == ["message 1", "message 0"]
    assert (second["meta"]["from"], second["meta"]["to"]) == (16, 17)
    assert second["links"]["next"] is None
    assert second["links"]["prev"] == meta["path"] + "?page=1"


async def test_page_beyond_the_last_is_empty_with_null_from_and_to(client: httpx2.AsyncClient) -> None:
    await send(client)
    beyond = (await client.get("/sms", params={"page": 5})).json()
    assert beyond["data"] == []
    assert (beyond["meta"]["current_page"], beyond["meta"]["from"], beyond["meta"]["to"]) == (5, None, None)
    assert beyond["meta"]["total"] == 1


async def test_empty_list_has_one_page(client: httpx2.AsyncClient) -> None:
    empty = (await client.get("/sms")).json()
    assert empty["data"] == []
    assert (empty["meta"]["last_page"], empty["meta"]["from"], empty["meta"]["total"]) == (1, None, 0)


async def test_many_pages_are_linked_with_laravel_gaps() -> None:
    async with own_sandbox(per_page=1) as (_, http):
        for _ in range(20):
            await send(http)
        meta = (await http.get("/sms", params={"page": 10})).json()["meta"]
        labels = [link["label"] for link in meta["links"][1:-1]]
        assert labels == ["1", "2", "...", "7", "8", "9", "10", "11", "12", "13", "...", "19", "20"]


async def test_list_filters_by_status_and_keeps_the_filter_in_links() -> None:
    async with own_sandbox(delivery_seconds=0, per_page=1) as (_, http):
        await send(http)
        await send(http, to=FAILING_NUMBER)
        await send(http)
        failed = (await http.get("/sms", params={"status": "failed"})).json()
        assert [m["to"] for m in failed["data"]] == [FAILING_NUMBER]
        delivered = (await http.get("/sms", params={"status": "delivered"})).json()
        assert delivered["meta"]["total"] == 2
        assert "status=delivered" in delivered["links"]["next"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"status": "queued"}, "status", "The selected status is invalid."),
        ({"page": "two"}, "page", "The page field must be an integer."),
        ({"page": "0"}, "page", "The page field must be at least 1."),
    ],
)
async def test_list_rejects_bad_status_and_page(
    client: httpx2.AsyncClient, params: dict[str, str], field: str, message: str
) -> None:
    response = await client.get("/sms", params=params)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {field: [message]}}


async def test_unknown_message_id_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.get("/sms/999")
    assert response.status_code == 404
    assert response.json() == {"message": "SMS not found."}


async def test_non_integer_message_id_is_404(client: httpx2.AsyncClient) -> None:
    response = await client.get("/sms/abc")
    assert response.status_code == 404
    assert "message" in response.json()


async def test_unknown_route_and_wrong_method_answer_json(client: httpx2.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"message": "The route api/v1/nowhere could not be found."}
    wrong = await client.get("/sms/send")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/json"
    assert "Supported methods: POST" in wrong.json()["message"]


# Rate limiting


async def test_rate_limit_answers_429_with_retry_after() -> None:
    async with own_sandbox(rate_limit_per_minute=2) as (_, http):
        assert [(await http.get("/balance")).status_code for _ in range(2)] == [200, 200]
        limited = await http.get("/balance")
        assert limited.status_code == 429
        assert limited.json() == {"message": "Too Many Attempts."}
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-RateLimit-Limit"] == "2"
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        other = await http.get("/balance", headers=auth(SANDBOX_READONLY_TOKEN))
        assert other.status_code == 200  # the limit is per token


# Faults, over the socket and in-process


async def test_drop_fault_raises_remote_protocol_error(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(path="/api/v1/balance", response="drop"))
    with pytest.raises(httpx2.RemoteProtocolError):
        await client.get("/balance")
    assert (await client.get("/balance")).status_code == 200  # one time only, and the server survived
    assert [r.status for r in app.state.requests] == [None, 200]


async def test_lost_response_after_processing_still_sends_and_charges(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(method="POST", path=SEND, process=True, response="drop"))
    with pytest.raises(httpx2.RemoteProtocolError):
        await send(client)
    assert len(app.state.messages) == 1
    assert await credits(client) == 24.99
    listed = (await client.get("/sms")).json()["data"]
    assert [m["to"] for m in listed] == [US_NUMBER]


async def test_server_error_after_processing_still_sends(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(path=SEND, process=True, response="status", status=502))
    response = await send(client)
    assert response.status_code == 502
    assert response.json() == {"message": "Server Error"}
    assert len(app.state.messages) == 1


async def test_html_fault_answers_an_nginx_page(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(response="html", status=502))
    response = await client.get("/balance")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<html>\r\n<head><title>502 Bad Gateway</title>")


async def test_status_fault_answers_its_body_and_headers(client: httpx2.AsyncClient, app: Sandbox) -> None:
    body = {"message": "Too Many Attempts."}
    app.state.add_fault(Fault(response="status", status=429, body=body, headers={"Retry-After": "2"}))
    response = await client.get("/balance")
    assert response.status_code == 429
    assert response.json() == body
    assert response.headers["Retry-After"] == "2"


async def test_malformed_fault_answers_truncated_json(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(response="malformed", process=True))
    response = await client.get("/me")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_rewrite_fault_puts_raw_json_in_one_row_of_the_price_list(
    client: httpx2.AsyncClient, app: Sandbox
) -> None:
    app.state.add_fault(
        Fault(path="/api/v1/countries", response="rewrite", rewrite={"price_usd": "NaN"}, where={"country_code": "CA"})
    )
    response = await client.get("/countries")
    assert response.status_code == 200
    assert '"country_code":"CA","country_name":"Canada","dial_code":"+1","price_usd":NaN}' in response.text
    rows = {row["country_code"]: row for row in response.json()}
    assert rows["US"]["price_usd"] == 0.01  # every other row as it was
    assert "NaN" not in (await client.get("/countries")).text  # used up


@pytest.mark.parametrize(
    ("raw", "read_back"), [("1e999", float("inf")), ("-1", -1), ('"abc"', "abc"), ("null", None), ("true", True)]
)
async def test_rewrite_fault_replaces_a_sent_price_after_sending(
    client: httpx2.AsyncClient, app: Sandbox, raw: str, read_back: object
) -> None:
    app.state.add_fault(Fault(method="POST", path=SEND, response="rewrite", rewrite={"price_usd": raw}))
    answer = (await send(client)).json()
    assert answer["price_usd"] == read_back
    assert answer["status"] == "sent"
    assert [float(m.price_usd) for m in app.state.messages] == [0.01]  # sent and charged as usual
    assert await credits(client) == 24.99


async def test_rewrite_fault_with_null_removes_the_field(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(path="/api/v1/balance", response="rewrite", rewrite={"credits_usd": None}))
    assert (await client.get("/balance")).json() == {}


async def test_rewrite_fault_leaves_error_answers_alone(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(path=SEND, response="rewrite", rewrite={"message": "1"}))
    response = await send(client, to="+1")
    assert response.status_code == 422
    assert response.json()["message"] != 1


async def test_delay_longer_than_client_timeout_raises_read_timeout(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(delay_seconds=30, response="normal"))
    started = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout):
        await client.get("/balance", timeout=0.2)
    assert time.monotonic() - started < 2


async def test_slow_answer_arrives_late_but_intact(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(path=SEND, delay_seconds=0.2, response="normal", headers={"X-Slow": "yes"}))
    started = time.monotonic()
    response = await send(client)
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200
    assert response.headers["X-Slow"] == "yes"
    assert response.json()["status"] == "sent"


async def test_faults_match_method_and_path_and_count_down(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(method="POST", path=SEND, times=2, status=503))
    assert (await client.get("/balance")).status_code == 200
    assert [(await send(client)).status_code for _ in range(3)] == [503, 503, 200]
    assert app.state.faults == []


async def test_fault_without_limit_applies_forever(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(path="/api/v1/me", times=None))
    assert [(await client.get("/me")).status_code for _ in range(3)] == [500, 500, 500]
    app.state.clear_faults()
    assert (await client.get("/me")).status_code == 200


async def test_every_request_is_recorded_including_faulted_ones(client: httpx2.AsyncClient, app: Sandbox) -> None:
    app.state.add_fault(Fault(path=SEND, status=500))
    await send(client)
    await send(client)
    await client.get("/balance", headers={"User-Agent": "smsai-mcp/0.1.0 test"})
    assert app.state.count("POST", SEND) == 2
    assert [r.status for r in app.state.requests] == [500, 200, 200]
    last = app.state.requests[-1]
    assert (last.user_agent, last.accept, last.authorized) == ("smsai-mcp/0.1.0 test", "application/json", True)


# Control endpoints


async def test_control_endpoints_add_list_and_clear_faults(socket_url: str, app: Sandbox) -> None:
    root = socket_url.removesuffix("/api/v1")
    async with httpx2.AsyncClient(base_url=root, timeout=5) as http:
        added = await http.post("/_sandbox/faults", json={"path": "/api/v1/me", "response": "html", "status": 503})
        assert added.status_code == 201
        assert added.json()["status"] == 503
        assert len((await http.get("/_sandbox/faults")).json()["faults"]) == 1
        assert (await http.get("/api/v1/me", headers=auth())).status_code == 503
        await http.post("/_sandbox/faults", json={"times": None})
        assert (await http.delete("/_sandbox/faults")).json() == {"cleared": 1}
        assert (await http.get("/api/v1/me", headers=auth())).status_code == 200


async def test_control_endpoint_sets_a_rewrite_fault(socket_url: str, app: Sandbox) -> None:
    fault = {"path": "/api/v1/balance", "response": "rewrite", "rewrite": {"credits_usd": "-1"}, "times": None}
    async with httpx2.AsyncClient(base_url=socket_url.removesuffix("/api/v1"), timeout=5) as http:
        added = await http.post("/_sandbox/faults", json=fault)
        assert added.status_code == 201
        assert added.json()["rewrite"] == {"credits_usd": "-1"}
        assert (await http.get("/api/v1/balance", headers=auth())).text == '{"credits_usd":-1}'


@pytest.mark.parametrize(
    "fault",
    [
        {"response": "explode"},
        {"status": "500"},
        {"times": 0},
        {"colour": "red"},
        {"delay_seconds": -1},
        [1],
        {"response": "rewrite"},
        {"response": "rewrite", "rewrite": {"price_usd": "{not json"}},
        {"response": "rewrite", "rewrite": {"price_usd": 1}},
        {"response": "rewrite", "rewrite": {"price_usd": "1"}, "where": ["CA"]},
    ],
)
async def test_control_refuses_a_bad_fault(socket_url: str, app: Sandbox, fault: object) -> None:
    async with httpx2.AsyncClient(base_url=socket_url.removesuffix("/api/v1"), timeout=5) as http:
        response = await http.post("/_sandbox/faults", json=fault)
    assert response.status_code == 422
    assert app.state.faults == []


async def test_control_requests_lists_upstream_requests_but_not_control_ones(socket_url: str, app: Sandbox) -> None:
    async with httpx2.AsyncClient(base_url=socket_url.removesuffix("/api/v1"), timeout=5) as http:
        await http.get("/api/v1/balance", headers=auth())
        await http.post("/api/v1/sms/send", headers=auth(), json={"to": US_NUMBER, "body": "hi"})
        recorded = (await http.get("/_sandbox/requests")).json()
    assert recorded["counts"] == {"GET /api/v1/balance": 1, "POST /api/v1/sms/send": 1}
    assert recorded["requests"][1] == {
        "method": "POST",
        "path": SEND,
        "query": "",
        "status": 200,
        "user_agent": recorded["requests"][1]["user_agent"],
        "accept": "application/json",
        "authorized": True,
    }


async def test_control_reset_restores_credits_messages_counters_and_faults(socket_url: str, app: Sandbox) -> None:
    async with httpx2.AsyncClient(base_url=socket_url, headers=auth(), timeout=5) as http:
        await send(http)
        app.state.add_fault(Fault(path="/api/v1/nothing"))
        reset = await http.post(socket_url.removesuffix("/api/v1") + "/_sandbox/reset")
        assert reset.status_code == 200
        assert await credits(http) == 25.0
        assert (await http.get("/sms")).json()["data"] == []
        assert (await send(http)).json()["id"] == 1
    assert app.state.faults == []
    assert app.state.count("POST", SEND) == 1


async def test_reset_brings_back_the_configured_faults() -> None:
    async with own_sandbox(faults=[Fault(path="/api/v1/me")]) as (sandbox, http):
        assert (await http.get("/me")).status_code == 500
        assert (await http.get("/me")).status_code == 200
        sandbox.state.reset()
        assert (await http.get("/me")).status_code == 500


async def test_control_credits_sets_one_tokens_balance(socket_url: str, app: Sandbox) -> None:
    root = socket_url.removesuffix("/api/v1")
    async with httpx2.AsyncClient(base_url=root, timeout=5) as http:
        changed = await http.put("/_sandbox/credits", json={"token": SANDBOX_EMPTY_TOKEN, "credits_usd": 1.5})
        assert changed.json() == {"token": SANDBOX_EMPTY_TOKEN, "credits_usd": 1.5}
        balance = await http.get("/api/v1/balance", headers=auth(SANDBOX_EMPTY_TOKEN))
        assert balance.json() == {"credits_usd": 1.5}
        unknown = await http.put("/_sandbox/credits", json={"token": "smsai_nobody", "credits_usd": 1})
        assert unknown.status_code == 404
        negative = await http.put("/_sandbox/credits", json={"token": SANDBOX_TOKEN, "credits_usd": -1})
        assert negative.status_code == 422


# Configuration and serving


def test_config_from_env_reads_every_variable() -> None:
    config = SandboxConfig.from_env(
        {
            "SMSAI_SANDBOX_CREDITS_USD": "1.50",
            "SMSAI_SANDBOX_DELIVERY_SECONDS": "0.5",
            "SMSAI_SANDBOX_RATE_LIMIT_PER_MINUTE": "7",
            "SMSAI_SANDBOX_FAULTS": '[{"path": "/api/v1/sms/send", "response": "drop", "process": true}]',
        }
    )
    assert config.credits_usd == Decimal("1.50")
    assert config.delivery_seconds == 0.5
    assert config.rate_limit_per_minute == 7
    assert config.faults == [Fault(path="/api/v1/sms/send", response="drop", process=True)]


def test_config_from_env_defaults_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CREDITS_USD", "DELIVERY_SECONDS", "RATE_LIMIT_PER_MINUTE", "FAULTS"):
        monkeypatch.delenv(f"SMSAI_SANDBOX_{name}", raising=False)
    config = SandboxConfig.from_env()
    assert dataclasses.replace(config, first_message_id=1) == SandboxConfig()
    assert config.first_message_id > 1_700_000_000_000  # ids that keep rising across restarts (milliseconds)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMSAI_SANDBOX_CREDITS_USD", "lots"),
        ("SMSAI_SANDBOX_CREDITS_USD", "-1"),
        ("SMSAI_SANDBOX_DELIVERY_SECONDS", "soon"),
        ("SMSAI_SANDBOX_RATE_LIMIT_PER_MINUTE", "0"),
        ("SMSAI_SANDBOX_RATE_LIMIT_PER_MINUTE", "1.5"),
        ("SMSAI_SANDBOX_FAULTS", "{not json"),
        ("SMSAI_SANDBOX_FAULTS", '{"response": "drop"}'),
        ("SMSAI_SANDBOX_FAULTS", '[{"response": "explode"}]'),
    ],
)
def test_config_from_env_rejects_a_bad_value_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        SandboxConfig.from_env({name: value})


def test_serve_never_logs_to_stdout() -> None:
    assert "ext://sys.stdout" not in json.dumps(_stderr_log_config(), default=str)


def test_importing_the_sandbox_does_not_import_uvicorn() -> None:
    code = "import sys, smsai_mcp.sandbox; sys.exit('uvicorn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_fault_added_again_counts_down_afresh_each_time() -> None:
    """The sandbox keeps a copy: reusing one Fault object must not turn a one-off fault into a permanent one."""
    state = create_app().state
    fault = Fault(path="/api/v1/balance", status=503, times=1)
    for _ in range(3):
        state.add_fault(fault)
        assert state.take_fault("GET", "/api/v1/balance") is not None
        assert state.take_fault("GET", "/api/v1/balance") is None
    assert fault.times == 1
