"""Tools collected as SDK `Tool`s rather than onto one server, so that every server of a process can share them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.tools import Tool
from mcp.types import Icon, ToolAnnotations

__all__ = ["ToolSet"]

F = TypeVar("F", bound=Callable[..., Any])


class ToolSet:
    """Collects tools through the same decorator as `MCPServer.tool`."""

    def __init__(self) -> None:
        self.tools: list[Tool] = []

    def tool(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> Callable[[F], F]:
        def register(fn: F) -> F:
            tool = Tool.from_function(
                fn,
                name=name,
                title=title,
                description=description,
                annotations=annotations,
                icons=icons,
                meta=meta,
                structured_output=structured_output,
            )
            self.tools.append(tool)
            return fn

        return register
