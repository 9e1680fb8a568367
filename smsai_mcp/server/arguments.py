"""Invalid tool arguments become one plain sentence, checked against each tool's own input schema.

The SDK would answer with pydantic's multi-line report; a model (and a person reading the log) does better
with "`to` has the wrong form: <what the argument should be>", and a send refusal must say nothing was sent.
The validators (and jsonschema, slow to import) are built in a background thread once `tools/list` is answered,
so the first tool call does not pay for them.
"""

from __future__ import annotations

import functools
import gc
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import anyio.to_thread
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, TextContent

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

__all__ = ["ArgumentCheck", "describe_problem", "is_error"]

_RESOLVER_NAME = re.compile(r"^Resolver '[^']*': ")  # the SDK names our internals; the model needs no such detail
_JSON_TYPE_NAMES = {
    bool: "true or false",
    int: "a number",
    float: "a number",
    str: "text",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


class ArgumentCheck:
    """Server middleware: refuse a `tools/call` whose arguments break the tool's input schema, and reword the
    SDK's own errors ("Error executing tool X: ..."), which arise before the tool body runs."""

    def __init__(
        self,
        input_schemas: Callable[[], Awaitable[Mapping[str, dict[str, Any]]]],
        refusal_prefixes: Mapping[str, str],
    ) -> None:
        self._input_schemas = input_schemas
        self._prefixes = refusal_prefixes
        self._validators: dict[str, Draft202012Validator] | None = None
        self._warming: threading.Thread | None = None
        self._warm_up_started = False
        self._nothing_required: frozenset[str] = frozenset()  # tools for which no arguments are valid arguments

    @property
    def ready(self) -> bool:
        """Whether the validators are built (after the first `tools/list`, or the first call if none came)."""
        return self._validators is not None

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        if ctx.method == "tools/list" and not self._warm_up_started:
            self._warm_up_started = True  # before any await: concurrent sessions list the tools at once
            result = await call_next(ctx)
            schemas = await self._input_schemas()
            self._warming = threading.Thread(target=self._build, args=(schemas,), name="smsai-warm-up", daemon=True)
            self._warming.start()
            return result
        if ctx.method == "tools/call" and isinstance(params, Mapping):
            name, arguments = str(params.get("name")), params.get("arguments")
            validator = (await self._validators_by_tool()).get(name)
            no_arguments = arguments is None or (isinstance(arguments, Mapping) and not arguments)
            if validator is not None and not (no_arguments and name in self._nothing_required):
                problem = describe_problem(validator, arguments if arguments is not None else {})
                if problem is not None:
                    prefix = self._prefixes.get(name, "")
                    return CallToolResult(content=[TextContent(type="text", text=prefix + problem)], is_error=True)
            return self._reworded(name, await call_next(ctx))
        return await call_next(ctx)

    def _reworded(self, tool: str, result: HandlerResult) -> HandlerResult:
        if not is_error(result):  # the common case, without dumping the whole result
            return result
        wire = result.model_dump(by_alias=True, exclude_none=True) if isinstance(result, CallToolResult) else result
        if not isinstance(wire, dict):
            return result
        content = wire.get("content") or [{}]
        first = content[0].get("text") if isinstance(content[0], dict) else None
        sdk_prefix = f"Error executing tool {tool}"
        if not isinstance(first, str) or not first.startswith(sdk_prefix):
            return result
        detail = _RESOLVER_NAME.sub("", first.removeprefix(sdk_prefix).removeprefix(": ")).strip()
        text = self._prefixes.get(tool, "") + (
            f"The request could not be completed: {detail}." if detail else "smsai-mcp hit an internal error."
        )
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)

    async def _validators_by_tool(self) -> dict[str, Draft202012Validator]:
        if self._validators is None and self._warming is not None:
            await anyio.to_thread.run_sync(self._warming.join)  # a call right after tools/list: nearly built
        if self._validators is None:  # a client that called without listing the tools first
            self._build(await self._input_schemas())
        assert self._validators is not None
        return self._validators

    def _build(self, schemas: Mapping[str, dict[str, Any]]) -> None:
        """Every tool's validator (tools are fixed once the server runs), and the phone number metadata a send needs."""
        from smsai_mcp.sms.phone import parse_e164
        from smsai_mcp.sms.time_zones import recipient_time_zones

        validator = _anchored_validator()
        validators = {name: validator(schema) for name, schema in schemas.items()}
        for built in validators.values():
            describe_problem(built, {})  # compiles its patterns and formats now, not on a call
        recipient_time_zones(parse_e164("+12025550123").e164, "US")  # loads phonenumbers and its metadata
        self._nothing_required = frozenset(name for name, schema in schemas.items() if not schema.get("required"))
        self._validators = validators
        _freeze_what_start_up_built()


@functools.cache  # once a process: freezing again would also keep whatever garbage came since
def _freeze_what_start_up_built() -> None:
    """Modules, tools, validators and phone metadata live as long as the process: moved out of the collector's
    generations, so its full passes stop walking them (about 1.5% of a tool call's CPU over HTTP). The start's
    garbage is collected first, or it would be kept for good."""
    gc.collect()
    gc.freeze()


def is_error(result: HandlerResult) -> bool:
    """Whether a tool's result is an error, read without serialising it."""
    if isinstance(result, CallToolResult):
        return result.is_error
    return isinstance(result, Mapping) and bool(result.get("isError"))


@functools.cache  # a class of its own each time costs 2 ms of CPU, and every server made one
def _anchored_validator() -> type[Draft202012Validator]:
    """Draft 2020-12 whose `pattern` reads a final `$` as the end of the text, as pydantic and JSON Schema's own
    regular expressions do: Python's `$` also matches before a final line break, so a number followed by one passed
    here and came back from pydantic as its raw report."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, regex: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
        anchored = regex[:-1] + r"\Z" if regex.endswith("$") and not regex.endswith(r"\$") else regex
        if validator.is_type(instance, "string") and not re.search(anchored, instance):
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    extended = validators.extend(Draft202012Validator, {"pattern": pattern})  # type: ignore[no-untyped-call]
    return cast("type[Draft202012Validator]", extended)


def describe_problem(validator: Draft202012Validator, arguments: Any) -> str | None:
    """The first thing wrong with the arguments, as a sentence; None when they are valid."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        return "The arguments must be a JSON object of named arguments."
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    schema = validator.schema
    return _sentence(error, schema if isinstance(schema, Mapping) else {})


def _sentence(error: ValidationError, schema: Mapping[str, Any]) -> str:
    properties: Mapping[str, Any] = schema.get("properties", {})
    if error.validator == "required":
        given = error.instance if isinstance(error.instance, Mapping) else {}
        missing = next((name for name in schema.get("required", []) if name not in given), "?")
        return f"The argument `{missing}` is required: {_expected(properties.get(missing, {}))}"
    if not error.absolute_path:
        return f"The arguments are invalid: {error.message}."
    name = str(error.absolute_path[0])
    field = properties.get(name, {})
    return f"The argument `{name}` is invalid ({_reason(error)}). Expected: {_expected(field)}"


def _reason(error: ValidationError) -> str:
    value = error.instance
    match error.validator:
        case "type" | "anyOf" | "oneOf" if not _matches_any_type(error):
            return f"got {_JSON_TYPE_NAMES.get(type(value), 'a value of the wrong type')}"
        case "minLength" | "maxLength" if isinstance(value, str):
            return f"it has {len(value)} characters"
        case "pattern":
            return "it does not have the expected form"
        case "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum":
            return f"{value!r} is out of range"
        case "enum" | "const":
            return "it is not one of the allowed values"
    return error.message if len(error.message) <= 120 else "it is not an allowed value"


def _matches_any_type(error: ValidationError) -> bool:
    # For anyOf, a value of a right type that broke a bound deserves the bound's reason, not "wrong type".
    return bool(error.context) and any(sub.validator != "type" for sub in error.context or [])


def _expected(field: Mapping[str, Any]) -> str:
    description = field.get("description")
    return str(description) if description else "see the tool's input schema."
