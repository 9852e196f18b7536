"""app.py builds the Gradio Blocks app from the settings and launches it; nothing else.

Chat up front (public); admin tabs behind a server-side login. Run: `make run` (or `python app.py`).
"""

from __future__ import annotations

import logging
import socket
import threading

import gradio as gr

from admin import auth as auth_ui
from admin import chat, evaluation, export, knowledge, training
from admin.common import AppContext
from medgemma.auth import AdminAuth
from medgemma.chat.services import Services
from medgemma.config import Settings, load_settings
from medgemma.logs import setup_logging

logger = logging.getLogger("medgemma.app")

ADMIN_TABS = [
    ("Knowledge base", knowledge),
    ("Training", training),
    ("Evaluation", evaluation),
    ("Export", export),
]
CSS = """
#emergency-panel {border: 3px solid #c0392b; background: #fdecea; padding: 12px; border-radius: 8px;}
#disclaimer {font-size: 0.9em;}
"""


def build_app(settings: Settings, services: Services | None = None) -> tuple[gr.Blocks, AppContext]:
    services = services or Services(settings)
    ctx = AppContext(settings=settings, services=services, auth=AdminAuth(settings))
    # delete_cache: anyone may upload to /gradio_api/upload, so uploaded files older than a day are removed
    with gr.Blocks(title="MedGemma — cited medical information", delete_cache=(3600, 86400)) as demo:
        ctx.admin_token = gr.State(None)
        gr.Markdown("# MedGemma\nCited answers from trusted medical sources.")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat.build_tab(ctx)
            with gr.Tab("Admin", id="admin"):
                area = auth_ui.build_login(ctx, demo)
                with area, gr.Tabs():
                    for title, tab in ADMIN_TABS:
                        with gr.Tab(title):
                            tab.build_tab(ctx)
    return demo, ctx


def start_starter_index(ctx: AppContext) -> threading.Thread:
    """Build the starter knowledge base in the background on first run; the chat answers from what
    is ready and shows how far the build is (the Chat tab polls ctx.services.starter_status)."""
    services = ctx.services
    kb = services.knowledge()

    progress = services.report_starter  # keyword side first, then "Meaning search: n of N, about m min left"

    def work() -> None:
        result = kb.ensure_starter_index(progress)
        if result.get("state") == "failed":
            services.starter_status = (
                f"⚠️ The starter knowledge base could not be built: {result.get('message')}"
            )
        elif result.get("state") == "ready":
            services.starter_status = ""
        logger.info("Starter knowledge base: %s", result)

    def warm() -> None:  # load the guard and the model now, so the first question is fast
        try:
            ctx.services.guard().warm_up()
            ctx.services.backend()
        except Exception:  # noqa: BLE001 - the chat reports the error when it is used
            logger.exception("Warm-up failed")

    threading.Thread(target=warm, name="warm-up", daemon=True).start()
    thread = threading.Thread(target=work, name="starter-index", daemon=True)
    thread.start()
    return thread


def internet_available(host: str = "api.gradio.app", port: int = 443, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def launch(
    demo: gr.Blocks,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    block: bool = True,
    quiet: bool = False,
    services: Services | None = None,
) -> None:
    """Serve the app (main and the tests launch it this one way); with MEDGEMMA_MCP=true also the MCP
    server's one tool at /mcp (medgemma/chat/mcp_server.py), answering through `services`.

    Gradio's launch ends with a probe of localhost: one HEAD of the page with a 3 s timeout, which it
    gives up on at the first timeout and then raises "When localhost is not accessible, a shareable link
    must be created". On a CPU-starved machine (another thread of this process holding the GIL in C calls,
    as an index build or a test's model does) rendering the page takes longer than that, so the app
    refused to start although localhost was fine. By then launch has already reached the server through
    its startup-events request (no timeout), which proves localhost is reachable; the probe is skipped
    with launch's `_frontend=False` (tests/test_launch.py checks Gradio still has the parameter).
    """
    docs = settings.path("documents")
    docs.mkdir(parents=True, exist_ok=True)
    mcp = None
    if settings.mcp:  # the tool answers with the app's own Services (one loaded model, one index)
        from medgemma.chat.mcp_server import McpEndpoint

        if services is None:
            raise ValueError("MEDGEMMA_MCP=true: launch(..., services=ctx.services) serves the MCP tool")
        mcp = McpEndpoint(settings, services)
    demo.queue(default_concurrency_limit=2).launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        share=share,
        css=CSS,
        max_file_size=f"{settings.max_upload_mb}mb",
        allowed_paths=[str(docs)],
        footer_links=["api"],
        show_error=True,  # our callbacks already turn unexpected errors into a generic message (ui_errors);
        # this shows Gradio's own input-validation errors (malformed API payloads) instead of hiding them
        prevent_thread_lock=not block,
        quiet=quiet,
        app_kwargs=mcp.app_kwargs() if mcp else None,
        mcp_server=False,  # never Gradio's own MCP server (GRADIO_MCP_SERVER): it makes every endpoint a tool
        _frontend=False,
    )
    if mcp:
        mcp.announce(demo.local_url)


def main() -> None:
    settings = load_settings()
    setup_logging(settings.log_level)
    logger.info("Settings: %s", settings.public_dict())
    demo, ctx = build_app(settings)
    share = settings.share
    if share and not internet_available():
        logger.warning(
            "MEDGEMMA_SHARE is on, but a Gradio share link needs internet access and this "
            "machine has none: serving on %s:%s only.",
            settings.host,
            settings.port,
        )
        share = False
    launch(demo, settings, share=share, block=False, services=ctx.services)
    start_starter_index(ctx)  # after the server answers: the build's threads do not slow the first page
    demo.block_thread()


if __name__ == "__main__":
    main()
