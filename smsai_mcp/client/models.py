"""One model per upstream resource, tolerant of fields the API adds later and of optional ones it leaves out."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from smsai_mcp.client.amounts import AmountOrNone, UsableAmount


class _Resource(BaseModel):
    # Extra fields are kept (and passed through to the model) rather than rejected; a number where text was
    # expected (an id, a timestamp) is read as its text rather than failing the whole answer.
    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)


class ApiInfo(_Resource):
    api: str | None = None
    version: str | None = None
    status: str | None = None


class TokenInfo(_Resource):
    id: int | None = None
    name: str | None = None
    permissions: list[str] = Field(default_factory=list)


class UserInfo(_Resource):
    name: str | None = None
    email: str | None = None
    credits: AmountOrNone = None


class Me(_Resource):
    token: TokenInfo = Field(default_factory=TokenInfo)
    user: UserInfo = Field(default_factory=UserInfo)

    @property
    def can_send(self) -> bool:
        return "sms:send" in self.token.permissions


class Balance(_Resource):
    credits_usd: UsableAmount


class Country(_Resource):
    country_code: str
    country_name: str
    dial_code: str | None = None
    price_usd: UsableAmount


class Message(_Resource):
    id: int
    to: str
    status: str  # sent, delivered, failed; any other value is passed through as the API gave it
    price_usd: AmountOrNone = None
    body: str | None = None
    sender_id: str | None = None
    nvia_message_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True, slots=True)
class PriceRows:
    """The price list as read row by row: the usable rows, and the countries listed without a usable price."""

    countries: list[Country]
    unpriced: dict[str, str] = field(default_factory=dict)  # country code -> its name as listed, or the code


class PageMeta(_Resource):
    current_page: int = 1
    last_page: int = 1
    per_page: int = 15
    total: int = 0


class PageLinks(_Resource):
    next: str | None = None


class MessagePage(_Resource):
    data: list[Message]
    meta: PageMeta = Field(default_factory=PageMeta)
    links: PageLinks = Field(default_factory=PageLinks)

    @property
    def has_more(self) -> bool:
        return self.meta.current_page < self.meta.last_page or self.links.next is not None
