"""chat.py is the public Chat tab: cited answers streamed one verified sentence at a time, sources and
safety panels, settings, stop/retry/clear, feedback and a downloadable evidence record. Every message sent
is answered (chat_session.py queues it visibly behind the answer being written; the guard reads it at
once). The answer, the question checks, the rate limit and the stop signals are medgemma.chat's; this file
only maps events and inputs to components.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

import gradio as gr

from admin.chat_options import ACTIVE, chat_adapter_choices, check_options, model_choices, options_from
from admin.chat_render import evidence_file
from admin.chat_session import ChatSessions, Conversation, Entry
from admin.common import AppContext, ui_errors
from medgemma.chat.feedback import record_feedback
from medgemma.chat.limits import RateLimiter, clean_question, public_options
from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.chat.stops import StopSignals

EXAMPLES = [
    "What are the symptoms of restless legs syndrome?",
    "How is type 2 diabetes treated?",
    "What causes high blood pressure?",
    "¿Cuáles son los síntomas de la gripe?",
]
DISCLAIMER = (
    "⚕️ **This assistant gives general medical information from cited public sources. It does "
    "not replace a clinician, cannot diagnose you or choose doses or treatments.** In an "
    "emergency call your local emergency number."
)


def hidden() -> dict:
    return gr.update(visible=False)


def plain_history(history: list[dict]) -> list[dict]:
    """User/assistant turns without panels (messages with a metadata title)."""
    out = []
    for m in history:
        meta = m.get("metadata") or {}
        if (
            m.get("role") in {"user", "assistant"}
            and not meta.get("title")
            and isinstance(m.get("content"), str)
        ):
            out.append({"role": m["role"], "content": m["content"]})
    return out


def last_question(history: list[dict]) -> tuple[str, list[dict]]:
    """The last user message and the history before it (what Retry asks again)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i].get("role") == "user":
            return str(history[i]["content"]), history[:i]
    return "", history


def visitor_key(request: gr.Request | None, session: str) -> str:
    """Whose rate budget and Stop button this is: the browser session, else the chat's own session id."""
    return getattr(request, "session_hash", None) or session


@dataclass
class VisitorTurn:
    """One visitor's question on its way through the tab: checked input, options, and its place in the
    visitor's conversation (its entry's view holds the answer's messages)."""

    question: str
    chat: ChatSettings
    key: str  # the visitor's rate-limit and stop key
    st: dict[str, Any]  # the visitor's gr.State
    fresh: bool  # no other answer of this visitor was being written when it came
    convo: Conversation | None = None
    entry: Entry | None = None

    def state(self) -> dict[str, Any]:
        return {**self.st, "last": self.entry.view.last if self.entry else {}}


class ChatTab:
    """The tab's components and handlers; one per app, shared by all visitors (their state is in gr.State,
    their rate budget and stop signal are keyed by their browser session)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx, self.settings = ctx, ctx.settings
        self.limiter = RateLimiter(ctx.settings.chat_rate_per_minute)
        self.stops = StopSignals()
        self.sessions = ChatSessions(self.stops)

    def layout(self) -> None:
        settings = self.settings
        gr.Markdown(DISCLAIMER, elem_id="disclaimer")
        self.emergency_panel = gr.Markdown(visible=False, elem_id="emergency-panel")
        self.kb_status = gr.Markdown("", elem_id="kb-status")
        self.chatbot = gr.Chatbot(
            label="MedGemma",
            height=520,
            elem_id="chatbot",
            buttons=["copy"],
            render_markdown=True,
            sanitize_html=True,
        )
        self.state = gr.State({})
        with gr.Row():
            self.box = gr.Textbox(
                placeholder="Ask a medical question…",
                show_label=False,
                scale=6,
                max_length=settings.max_question_chars,
                elem_id="question",
            )
            self.send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            self.stop_button = gr.Button("Stop", variant="stop", scale=1, elem_id="stop")
        with gr.Row():
            self.retry_button = gr.Button("↻ Retry", size="sm")
            self.clear_button = gr.Button("🗑 Clear", size="sm")
            self.up = gr.Button("👍 Helpful", size="sm", elem_id="thumbs-up")
            self.down = gr.Button("👎 Not helpful", size="sm", elem_id="thumbs-down")
            self.evidence = gr.DownloadButton(
                "⬇ Evidence record", size="sm", visible=False, elem_id="evidence"
            )
        self.comment = gr.Textbox(placeholder="Optional comment for your feedback", show_label=False, lines=1)
        self.feedback_note = gr.Markdown("")
        gr.Examples(EXAMPLES, inputs=[self.box], label="Example questions")
        self._settings_accordion()

    def _settings_accordion(self) -> None:
        settings, ctx, public = self.settings, self.ctx, public_options(self.settings)
        with gr.Accordion("Settings", open=False, visible=bool(public)) as self.accordion:
            with gr.Row():
                k = gr.Slider(
                    1, 10, value=settings.retrieval_k, step=1, label="Passages (k)", visible="k" in public
                )
                min_score = gr.Slider(
                    0.0,
                    1.0,
                    value=settings.retrieval_min_score,
                    step=0.05,
                    label="Minimum similarity",
                    visible="min_score" in public,
                )
                temperature = gr.Slider(
                    0.0,
                    1.5,
                    value=settings.temperature,
                    step=0.05,
                    label="Temperature",
                    visible="temperature" in public,
                )
                max_tokens = gr.Slider(
                    16,
                    1024,
                    value=settings.max_new_tokens,
                    step=8,
                    label="Max new tokens",
                    visible="max_new_tokens" in public,
                )
            with gr.Row():
                self.model = gr.Dropdown(
                    choices=model_choices(ctx),
                    value=settings.model,
                    label="Model",
                    elem_id="chat-model",
                    info="presets, and exports of your adapters (GGUF runs in llama.cpp)",
                    visible="model" in public,
                )
                self.adapter = gr.Dropdown(
                    choices=chat_adapter_choices(ctx),
                    value=ACTIVE,
                    label="Adapter",
                    allow_custom_value=False,
                    visible="adapter" in public,
                )
                mode = gr.Radio(
                    ["auto", "generative", "extractive"],
                    value="auto",
                    label="Answer mode",
                    info="auto quotes the sources when the model's draft is not supported",
                    visible="mode" in public,
                )
        self.option_inputs = [k, min_score, temperature, max_tokens, self.model, self.adapter, mode]
        self.options = gr.State(options_from(*(c.value for c in self.option_inputs)))

    # ---- handlers ---------------------------------------------------------------
    def _begin(
        self, message: str, history: list[dict], st: dict, opts: dict, request: gr.Request
    ) -> VisitorTurn:
        """Check the question, the visitor's rate and the chosen options; raises InputRejected."""
        question, history, st = clean_question(message, self.settings), history or [], st or {}
        session = st.get("session") or secrets.token_hex(8)
        key = visitor_key(request, session)
        self.limiter.take(key)
        chat = ChatSettings.from_settings(
            self.settings, **check_options(self.ctx, opts or {}), session_id=session
        )
        return VisitorTurn(question, chat, key, {**st, "session": session}, not self.sessions.busy(key))

    @ui_errors
    def respond(self, message: str, history: list[dict], st: dict, opts: dict, request: gr.Request):
        """Answer one message; while another answer of this visitor streams, the guard reads it at once and
        the rest of its answer waits its turn, shown as queued (nothing typed is lost)."""
        turn = self._begin(message, history, st, opts, request)

        def start(prior: list[dict], stop: threading.Event):
            return answer(turn.question, plain_history(prior), turn.chat, self.ctx.services, stop)

        turn.convo, turn.entry = self.sessions.join(turn.key, history or [], turn.question)
        for i, shown in enumerate(self.sessions.answer(turn.key, turn.convo, turn.entry, start)):
            out = {self.chatbot: shown, self.state: turn.state()}
            if i == 0:
                out[self.box] = ""
                if turn.fresh:  # a new exchange: the previous answer's panels go
                    out.update({self.emergency_panel: hidden(), self.evidence: hidden()})
            yield out
        yield self._finished(turn)

    def _finished(self, turn: VisitorTurn) -> dict:
        path = evidence_file(turn.entry.view.last)
        out = {
            self.chatbot: turn.convo.render(),
            self.state: turn.state(),  # the box is left alone: the visitor may be typing the next message
            self.evidence: gr.update(value=path, visible=bool(path)),
        }
        if (
            turn.entry.view.emergency
        ):  # sent once, at the end: sent mid-stream as well, the browser could show it
            # empty (tests/test_e2e_browser.py caught it about 1 time in 8)
            out[self.emergency_panel] = gr.update(value=turn.entry.view.emergency, visible=True)
        return out

    @ui_errors
    def stop(self, st: dict, request: gr.Request) -> dict:
        """Stop this visitor's answer and the queued ones on the server (the page also cancels the
        streaming events); the Chatbot then shows which messages were not answered."""
        key = visitor_key(request, (st or {}).get("session", ""))
        self.stops.stop(key)
        history = self.sessions.cancel(key)
        return {self.chatbot: history} if history is not None else {}

    def retry(self, history: list[dict]) -> tuple[str, list[dict]]:
        return last_question(history or [])

    def clear(self, st: dict, request: gr.Request) -> dict:
        """Empty the chat; answers still being written or queued are stopped first."""
        self.sessions.cancel(visitor_key(request, (st or {}).get("session", "")))
        return {
            self.chatbot: [],
            self.state: {},
            self.emergency_panel: hidden(),
            self.evidence: hidden(),
            self.feedback_note: "",
        }

    @ui_errors
    def rate(self, rating: str, st: dict, text: str) -> tuple[str, str]:
        st = st or {}
        self.limiter.take("feedback:" + str(st.get("session", "anonymous")))
        last = st.get("last") or {}
        record_feedback(self.settings, last.get("question", ""), last.get("answer", ""), rating, text, last)
        return "Thanks — your feedback was saved." + (" (with comment)" if text else ""), ""

    def rate_up(self, st: dict, text: str) -> tuple[str, str]:
        return self.rate("up", st, text)

    def rate_down(self, st: dict, text: str) -> tuple[str, str]:
        return self.rate("down", st, text)

    def refresh_choices(self) -> dict:
        return {
            self.model: gr.update(choices=model_choices(self.ctx)),
            self.adapter: gr.update(choices=chat_adapter_choices(self.ctx)),
        }

    def kb_text(self) -> str:
        return self.ctx.services.starter_status

    def wire(self) -> None:
        inputs = [self.box, self.chatbot, self.state, self.options]
        outputs = [self.chatbot, self.emergency_panel, self.state, self.evidence, self.box]
        chat = dict(fn=self.respond, inputs=inputs, outputs=outputs, concurrency_id="chat")
        # "multiple": a message sent while an answer streams is its own event, never dropped (Gradio's
        # default "once" ignores a submit while the previous one is pending)
        ev1 = self.send.click(**chat, concurrency_limit=4, api_name="chat", trigger_mode="multiple")
        ev2 = self.box.submit(**chat, api_visibility="undocumented", trigger_mode="multiple")
        ev3 = self.retry_button.click(
            self.retry, [self.chatbot], [self.box, self.chatbot], api_visibility="undocumented"
        ).then(**chat, api_visibility="undocumented")
        self.stop_button.click(
            self.stop,
            [self.state],
            [self.chatbot],
            cancels=[ev1, ev2, ev3],
            queue=False,
            api_visibility="undocumented",
        )
        self.clear_button.click(
            self.clear,
            [self.state],
            [self.chatbot, self.state, self.emergency_panel, self.evidence, self.feedback_note],
            cancels=[ev1, ev2, ev3],
            api_visibility="undocumented",
        )
        self.up.click(
            self.rate_up,
            [self.state, self.comment],
            [self.feedback_note, self.comment],
            api_name="feedback_up",
        )
        self.down.click(
            self.rate_down,
            [self.state, self.comment],
            [self.feedback_note, self.comment],
            api_name="feedback_down",
        )
        self.accordion.expand(
            self.refresh_choices, None, [self.model, self.adapter], api_visibility="private", queue=False
        )
        gr.on(
            [c.change for c in self.option_inputs],
            options_from,
            self.option_inputs,
            self.options,
            api_visibility="private",
            queue=False,
        )
        gr.Timer(3.0).tick(self.kb_text, None, self.kb_status, api_visibility="undocumented", queue=False)


def build_tab(ctx: AppContext) -> ChatTab:
    """Lay out the Chat tab inside the current gr.Blocks and wire its events; returns the tab for tests."""
    tab = ChatTab(ctx)
    tab.layout()
    tab.wire()
    return tab
