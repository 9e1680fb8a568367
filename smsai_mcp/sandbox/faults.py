"""What the sandbox can be told to do wrong, and to which requests: the description of a fault, not its acting out."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

FaultResponse = Literal["normal", "status", "html", "malformed", "drop", "rewrite"]
FAULT_RESPONSES: tuple[str, ...] = get_args(FaultResponse)


@dataclass
class Fault:
    """One misbehaviour. `times` counts down as matching requests arrive; None means forever."""

    method: str | None = None  # None matches any method
    path: str | None = None  # exact path including /api/v1; None matches any
    times: int | None = 1
    delay_seconds: float = 0.0  # before answering; longer than the client's timeout is a hang
    # Between the bytes of the answer's body: each one arrives in time, the whole answer does not (a slow drip).
    drip_seconds: float = 0.0
    process: bool = False  # run the real handler first: the message is sent and charged, then the answer goes wrong
    # Run the real handler once the delay is over, even if the client has gone: the API was still working on it.
    process_after_delay: bool = False
    omit_fields: list[str] = field(default_factory=list)  # left out of each record of a "normal" answer
    response: FaultResponse = "status"
    status: int = 500  # for "status" and "html"
    body: dict[str, Any] | None = None  # for "status"; None means {"message": "Server Error"}
    headers: dict[str, str] = field(default_factory=dict)
    # For "rewrite": the real answer, with each named field replaced by this raw JSON text verbatim (NaN, 1e999,
    # "0.01", null...) or removed where the text is None; in a list answer (or its "data"), only in the rows
    # whose fields equal `where`. A broken or hostile upstream's numbers, on demand.
    rewrite: dict[str, str | None] | None = None
    where: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.method is not None:
            self.method = self.method.upper()
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"fault path must start with '/', got {self.path!r}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"fault times must be at least 1 or null (forever), got {self.times}")
        if not math.isfinite(self.delay_seconds) or self.delay_seconds < 0:
            raise ValueError(f"fault delay_seconds must be a finite number >= 0, got {self.delay_seconds}")
        if not math.isfinite(self.drip_seconds) or self.drip_seconds < 0:
            raise ValueError(f"fault drip_seconds must be a finite number >= 0, got {self.drip_seconds}")
        if self.response not in FAULT_RESPONSES:
            raise ValueError(f"fault response must be one of {', '.join(FAULT_RESPONSES)}, got {self.response!r}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP status 100-599, got {self.status}")
        if self.process and self.process_after_delay:
            raise ValueError("a fault runs the real handler before its delay (process) or after it, not both")
        if not all(isinstance(name, str) for name in self.omit_fields):
            raise ValueError("fault omit_fields must be a list of field names")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ValueError("fault headers must map strings to strings")
        if self.response == "rewrite" and not self.rewrite:
            raise ValueError('a "rewrite" fault needs rewrite: {"field": "raw JSON text", or null to remove it}')
        for name, raw in (self.rewrite or {}).items():
            if raw is not None:
                try:
                    json.loads(raw)  # Python's reading, which takes NaN and Infinity as a lax upstream might send
                except ValueError:
                    raise ValueError(f"fault rewrite of {name!r} is not a JSON value: {raw!r}") from None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """A fault from its JSON object (env var or control endpoint); unknown keys and wrong types are refused."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(map(str, unknown))}")
        for name, value in data.items():
            if not _has_type(name, value):
                raise ValueError(f"fault field {name!r} has the wrong type: {value!r}")
        fault = cls(**data)
        fault.headers = dict(fault.headers)
        fault.omit_fields = list(fault.omit_fields)
        return fault


def _has_type(name: str, value: object) -> bool:
    if name in ("method", "path"):
        return value is None or isinstance(value, str)
    if name == "times":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if name in ("delay_seconds", "drip_seconds"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name in ("process", "process_after_delay"):
        return isinstance(value, bool)
    if name == "omit_fields":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if name == "response":
        return isinstance(value, str)
    if name == "status":
        return isinstance(value, int) and not isinstance(value, bool)
    if name in ("body", "where"):
        return value is None or isinstance(value, dict)
    if name == "rewrite":
        return value is None or (
            isinstance(value, dict) and all(raw is None or isinstance(raw, str) for raw in value.values())
        )
    return isinstance(value, dict)  # headers
