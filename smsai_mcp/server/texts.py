"""What the model reads about the tools: the server's instructions, each tool's description, argument types
and annotations. Changing any of these changes tests/golden/tools_list.json."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.types import ToolAnnotations
from pydantic import Field

__all__ = [
    "ADD_OPT_OUT_DESCRIPTION",
    "BALANCE_DESCRIPTION",
    "BATCH_DESCRIPTION",
    "COUNTRIES_DESCRIPTION",
    "ESTIMATE_DESCRIPTION",
    "GET_MESSAGE_DESCRIPTION",
    "INSTRUCTIONS",
    "LIST_MESSAGES_DESCRIPTION",
    "LIST_OPT_OUTS_DESCRIPTION",
    "MESSAGE_RESOURCE_DESCRIPTION",
    "OPT_OUT_ADDS",
    "OPT_OUT_LISTS",
    "OPT_OUT_REMOVES",
    "READ_ONLY",
    "REMOVE_OPT_OUT_DESCRIPTION",
    "SENDS",
    "SEND_DESCRIPTION",
    "BodyArg",
    "ConfirmationTokenArg",
    "CountryQueryArg",
    "IdempotencyKeyArg",
    "MessageIdArg",
    "NoteArg",
    "PageArg",
    "RecipientsArg",
    "SenderArg",
    "StatusArg",
    "ToArg",
    "WaitSecondsArg",
]

INSTRUCTIONS = """\
smsai-mcp sends SMS through the user's SMS for AI account. Sending costs the user money and reaches a real \
person, so only send what the user asked for. Use estimate_sms to see the cost first; send_sms runs the same \
checks (cost caps, allowed destinations, duplicates) and may ask the user to confirm. Every error says whether \
anything was sent: never retry a send whose outcome is unknown."""


ToArg = Annotated[
    str,
    Field(
        description="Recipient phone number in international E.164 form: + then the country code and number, "
        "e.g. +14155550123.",
        pattern=r"^\+[1-9][0-9 ().\-]{5,25}$",
    ),
]
BodyArg = Annotated[
    str,
    Field(
        description="The message text, 1 to 1600 characters. One character outside the GSM-7 alphabet (emoji, "
        "most non-Latin scripts) switches the whole message to UCS-2: 70 characters per segment instead of 160.",
        min_length=1,
        max_length=1600,
    ),
]
SenderArg = Annotated[
    str | None,
    Field(
        description="Optional sender name shown to the recipient: 1 to 11 letters, digits or spaces, with at least "
        "one letter. Leave it out to use the account's default.",
        pattern=r"^[A-Za-z0-9 ]*[A-Za-z][A-Za-z0-9 ]*$",
        min_length=1,
        max_length=11,
    ),
]
IdempotencyKeyArg = Annotated[
    str | None,
    Field(
        description="Optional key you choose for this exact message, such as a UUID. A repeated call with the same "
        "key within 24 hours returns the first result instead of sending again.",
        pattern=r"^[\x21-\x7e]+$",
        min_length=1,
        max_length=128,
    ),
]
ConfirmationTokenArg = Annotated[
    str | None,
    Field(
        description="Only after a call returned status confirmation_required: its confirmation_token, sent back "
        "with the same to, body and sender_id once the user has agreed.",
        min_length=1,
        max_length=512,
    ),
]

SEND_DESCRIPTION = """\
Send one SMS to a phone number. It costs the user money and reaches a real person; it cannot be undone.
Before anything goes out the server works out the cost (country, encoding, segments), checks the user's caps \
and destination rules, and may ask the user to confirm; the result's status is sent, duplicate or \
confirmation_required. On confirmation_required nothing was sent: show the user the estimate and call again \
with confirmation_token only after they agree. On an error, read it: it says whether anything was sent. Never \
retry a send whose outcome is unknown."""

RecipientsArg = Annotated[
    list[ToArg],
    Field(
        description="The recipients, 1 to SMSAI_MAX_BATCH_SIZE (50 unless the server says otherwise) phone numbers in "
        "E.164 form, each once. Results come back in this order.",
        min_length=1,
        max_length=500,
    ),
]

BATCH_DESCRIPTION = """\
Send one SMS text to several phone numbers. Each one costs the user money and reaches a real person; it cannot \
be undone.
Each recipient gets the same checks as send_sms; those refused are listed with the reason and not sent. The rest \
are confirmed once, by one question (or one confirmation_token) listing them all with the total cost, then sent \
one each. Each result, in the order given, is sent, duplicate, refused, unknown, or pending while confirmation is \
required. On an error, read it: it says whether anything was sent. Pass an idempotency_key to make a retry safe: \
it replays what went out and sends only the rest. Never retry a recipient whose outcome is unknown."""

ESTIMATE_DESCRIPTION = """\
Work out what an SMS would cost without sending it: the recipient's country, GSM-7 or UCS-2 encoding, the \
number of segments, the characters that force UCS-2, and the estimated cost in USD. Free; sends nothing. \
Use it to shorten or rephrase a message before send_sms."""

BALANCE_DESCRIPTION = """\
Show the SMS for AI account's credits and this server's spending guard: the daily budget, what has been \
spent today (UTC), what remains, the monthly budget and this month's spend, and the largest cost one message \
may have. Free; changes nothing."""

COUNTRIES_DESCRIPTION = """\
List the countries SMS for AI delivers to, with each one's dial code and price per SMS segment in USD. \
Filter with query (a country code, name or dial code). Free; changes nothing."""

GET_MESSAGE_DESCRIPTION = """\
Look up one sent SMS by its id: recipient, status (sent, delivered or failed) and price. Free; changes nothing. \
Use list_messages to find ids. To wait for delivery in one call, give wait_seconds: the server checks again \
until the status is delivered or failed, or the time runs out; then the message comes back with the status it \
still has (sent) and a wait_note saying it is not final yet."""

MESSAGE_RESOURCE_DESCRIPTION = """\
One sent SMS as JSON: id, recipient, status (sent, delivered or failed), price. Listen to this URI \
(subscriptions/listen) to hear when its status changes."""

LIST_MESSAGES_DESCRIPTION = """\
List SMS sent from this account, newest first, a page at a time; filter by status (sent, delivered, failed). \
Free; changes nothing. has_more tells whether to ask for the next page."""

MAX_SAFE_INTEGER = 2**53 - 1  # the largest id a JavaScript host can hold exactly
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
SENDS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
CountryQueryArg = Annotated[
    str | None,
    Field(
        description="Optional filter: a country code (CA), part of a name (king) or a dial code (+44); "
        "case-insensitive.",
        min_length=1,
        max_length=64,
    ),
]
MessageIdArg = Annotated[
    int, Field(description="The message id that send_sms or list_messages gave.", ge=1, le=MAX_SAFE_INTEGER)
]
WaitSecondsArg = Annotated[
    float,
    Field(
        description="Optional: how many seconds (0 to 120) to wait for the status to become delivered or failed. "
        "0, the default, answers at once.",
        ge=0,
        le=120,
    ),
]
StatusArg = Annotated[
    Literal["sent", "delivered", "failed"] | None,
    Field(description="Optional: only messages with this status (sent, delivered or failed)."),
]
PageArg = Annotated[
    int | None, Field(description="Optional page number, from 1 (the newest messages).", ge=1, le=100_000)
]

ADD_OPT_OUT_DESCRIPTION = """\
Put a phone number on the do-not-text list: from then on send_sms refuses it, in every process sharing this \
server's state. Use it as soon as a person asks not to be texted (they replied STOP, or said so). Free; sends \
nothing, and takes effect at once without confirmation. Adding a number again keeps it listed since the first time."""

REMOVE_OPT_OUT_DESCRIPTION = """\
Take a phone number off the do-not-text list, so that it may be texted again. Only a person may do this: the \
server asks the user to confirm through the client, whatever the confirmation setting, and refuses a client that \
cannot ask (the user can run `smsai-mcp opt-outs remove NUMBER` instead). Free; sends nothing."""

LIST_OPT_OUTS_DESCRIPTION = """\
List the do-not-text list, oldest first, 50 numbers a page: each number, since when (UTC) and its note. \
Free; changes nothing. has_more tells whether to ask for the next page."""

# The do-not-text list lives in this server's state, not upstream: no tool of it reaches the outside world.
OPT_OUT_ADDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
OPT_OUT_LISTS = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
OPT_OUT_REMOVES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
NoteArg = Annotated[
    str | None,
    Field(
        description="Optional: why the number is on the list, up to 200 characters (e.g. replied STOP on 2 May).",
        min_length=1,
        max_length=200,
    ),
]
