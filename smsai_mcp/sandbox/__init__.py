"""A local emulator of the SMS for AI REST API, faithful to its Laravel conventions and able to misbehave on demand.

Used by `smsai-mcp --sandbox`, `smsai-mcp sandbox` and the project's tests; it imports only the pure `sms` domain.
"""

from smsai_mcp.sandbox.accounts import SANDBOX_EMPTY_TOKEN, SANDBOX_READONLY_TOKEN, SANDBOX_TOKEN
from smsai_mcp.sandbox.app import Sandbox, create_app
from smsai_mcp.sandbox.config import SandboxConfig
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.sandbox.serve import running, serve
from smsai_mcp.sandbox.state import FAILING_NUMBER, Message, RecordedRequest, SandboxState
from smsai_mcp.sandbox.transport import in_process_transport

__all__ = [
    "FAILING_NUMBER",
    "SANDBOX_EMPTY_TOKEN",
    "SANDBOX_READONLY_TOKEN",
    "SANDBOX_TOKEN",
    "Fault",
    "Message",
    "RecordedRequest",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "create_app",
    "in_process_transport",
    "running",
    "serve",
]
