"""mcp_server.py serves the cited answer (tool.CitedAnswerTool) as an MCP server with exactly one tool,
ask_medical_question, over streamable HTTP at /mcp on the app's own web server (MEDGEMMA_MCP=true).

It knows the MCP protocol and the HTTP request (the client's address); the answer is tool.py's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp.types as types
from mcp.server.fastmcp.server import StreamableHTTPASGIApp
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from medgemma.auth import client_address, trusted_networks
from medgemma.chat.services import Services
from medgemma.chat.tool import CitedAnswerTool
from medgemma.config import Settings, env_var
from medgemma.errors import UserFacingError

logger = logging.getLogger(__name__)

TOOL_NAME = "ask_medical_question"
PATH = "/mcp"
CONCURRENT = 4  # answers written at once through MCP, as the Chat tab's own event (concurrency_limit=4)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
INTERNAL_ERROR = "The answer could not be written because of an internal error (it was logged); try again."

SOURCE_SCHEMA = {
    "type": "object",
    "properties": {
        "n": {"type": "integer", "description": "the number the answer's [n] markers use"},
        "title": {"type": "string"},
        "url": {"type": "string", "description": "the page's URL; empty for an uploaded file"},
        "location": {"type": "string", "description": "the URL, else 'file, page N'"},
        "passage": {"type": "string", "description": "the passage the answer was checked against"},
    },
    "required": ["n", "title", "url", "location", "passage"],
}
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "description": "the verified answer, with [n] markers into sources"},
        "sources": {"type": "array", "items": SOURCE_SCHEMA},
        "safety": {
            "type": "object",
            "properties": {
                "label": {"enum": ["allowed", "urgent", "personal_advice", "emergency", "harmful"]},
                "kind": {"enum": ["answer", "no_source", "stopped", "emergency", "refusal"]},
            },
            "required": ["label", "kind"],
        },
    },
    "required": ["answer", "sources", "safety"],
}


def describe(settings: Settings) -> types.Tool:
    """The one tool, as list_tools shows it."""
    return types.Tool(
        name=TOOL_NAME,
        title="Ask MedGemma a medical question",
        description=(
            "Answer a general medical question from the platform's trusted, cited sources. Returns the "
            "answer (each sentence checked against a source, with [n] markers), the numbered sources it "
            "cites (title, url, passage) and the safety verdict on the question: kind 'emergency' is the "
            "fixed call-your-emergency-number response and 'refusal' a refused harmful request. General "
            "information only: no diagnosis, doses or treatment choices. At most "
            f"{settings.max_question_chars} characters and {settings.chat_rate_per_minute} questions per "
            "minute per client."
        ),
        inputSchema={
            "type": "object",
            "properties": {"question": {"type": "string", "description": "the question, in plain words"}},
            "required": ["question"],
            "additionalProperties": False,
        },
        outputSchema=OUTPUT_SCHEMA,
        annotations=types.ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False),
    )


def transport_security(host: str) -> TransportSecuritySettings:
    """DNS-rebinding protection (the Host and Origin headers must name localhost) when the app listens on
    loopback only, where a web page could otherwise reach it through a rebound name. Listening on all
    addresses (behind a load balancer) the Host is the public name, and the tool is as public as the chat."""
    if host in LOOPBACK:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


class McpEndpoint:
    """The MCP server with its one tool, served on the Gradio app's own FastAPI.

    Why not Gradio's own MCP server (`launch(mcp_server=True)`): gradio/mcp.py makes a tool of every public
    named endpoint (`get_tool_to_endpoint` walks `api_info["named_endpoints"]`), the admin tabs' included,
    so "one tool, nothing admin" would rest on every tab's api_visibility staying right; its tool calls
    loop back through gradio_client into the queue; and its `mcp` extra pins pydantic<=2.12.5 (a downgrade
    here). Here the tool list is this class: `list_tools` returns one Tool and `call_tool` answers no other
    name, so nothing else of the app can be reached through /mcp, whatever the tabs declare.

    The route and the session manager's lifespan go in through `launch(app_kwargs=...)`, so they are part
    of the FastAPI app before it starts (a route mounted after launch would miss the lifespan startup that
    runs the session manager). Stateless JSON responses: each POST is one request, any replica can answer.
    """

    def __init__(self, settings: Settings, services: Services, on_space: bool | None = None) -> None:
        if on_space is None:  # as AdminAuth decides it: a Space's proxy is trusted by default
            on_space = env_var("SYSTEM") == "spaces" and bool(env_var("SPACE_ID"))
        self.settings, self.tool = settings, CitedAnswerTool(settings, services)
        self.trusted = trusted_networks(settings.trusted_proxies, on_space)
        self.server: Server = Server("MedGemma", instructions="One tool: ask_medical_question.")
        self.server.list_tools()(self.list_tools)
        self.server.call_tool()(self.call_tool)
        self.manager = StreamableHTTPSessionManager(
            app=self.server,
            json_response=True,
            stateless=True,
            security_settings=transport_security(settings.host),
        )
        self.slots: anyio.CapacityLimiter | None = None  # made in the lifespan, inside the event loop

    async def list_tools(self) -> list[types.Tool]:
        return [describe(self.settings)]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run the one tool; an error is a tool result with isError and a message meant for the caller."""
        if name != TOOL_NAME:
            raise LookupError(f"Unknown tool '{name}': this server has one tool, {TOOL_NAME}.")
        client, stop = self.client(), threading.Event()
        try:
            result = await anyio.to_thread.run_sync(
                self.tool.ask,
                arguments.get("question"),
                client,
                stop,
                limiter=self.slots,
                abandon_on_cancel=True,
            )
        except UserFacingError:
            raise  # its message names the problem (too long, too many questions, ...)
        except Exception:
            logger.exception("MCP tool %s failed", TOOL_NAME)
            raise RuntimeError(INTERNAL_ERROR) from None
        finally:
            stop.set()  # a caller that went away stops the answer being written
        return result.to_dict()

    def client(self) -> str:
        """The caller's address (X-Forwarded-For only from a trusted proxy): its rate-limit key."""
        request = self.server.request_context.request
        peer = request.client.host if request is not None and request.client else None
        forwarded = request.headers.get("x-forwarded-for") if request is not None else None
        return client_address(peer, forwarded, self.trusted)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self.slots = anyio.CapacityLimiter(CONCURRENT)
        async with self.manager.run():
            yield

    def announce(self, local_url: str) -> str:
        """Log where the tool is served (the startup log names the URL); returns that URL."""
        url = local_url.rstrip("/") + PATH
        logger.info("MCP server: one tool, %s, at %s (streamable HTTP)", TOOL_NAME, url)
        return url

    def app_kwargs(self) -> dict[str, Any]:
        """What Gradio's launch passes to its FastAPI app: the /mcp route and the lifespan that serves it."""
        return {
            "routes": [Route(PATH, endpoint=StreamableHTTPASGIApp(self.manager))],
            "lifespan": self.lifespan,
        }
