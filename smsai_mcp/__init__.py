"""smsai-mcp: an MCP server that texts people through the SMS for AI API, and only when it is safe to."""

__version__ = "0.1.0"
