"""chat.py is the public Chat tab: streaming cited answers, sources and safety panels, settings,
stop/retry/clear, feedback and a downloadable evidence record. All logic is in medgemma.pipeline.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import gradio as gr

from admin import chat_render
from admin.common import AppContext, ui_errors
from medgemma.chat.feedback import record_feedback
from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.errors import InputRejected
from medgemma.models.adapters import list_adapters
from medgemma.models.presets import PRESETS

EXAMPLES = [
    "What are the symptoms of restless legs syndrome?",
    "How is type 2 diabetes treated?",
    "What causes high blood pressure?",
    "¿Cuáles son los síntomas de la gripe?",
]
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # NULs, escapes: never reach the model or logs
DISCLAIMER = ("⚕️ **This assistant gives general medical information from cited public sources. It does "
              "not replace a clinician, cannot diagnose you or choose doses or treatments.** In an "
              "emergency call your local emergency number.")


ACTIVE = "__active__"


class RateLimiter:
    """At most `limit` messages per `window` seconds per key (session)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._hits[key]
            while q and now - q[0] > self.window:
                q.popleft()
            if len(q) >= self.limit:
                raise InputRejected(f"Too many messages: at most {self.limit} per minute. Please wait a moment.")
            q.append(now)


def plain_history(history: list[dict]) -> list[dict]:
    """User/assistant turns without panels (messages with a metadata title)."""
    out = []
    for m in history:
        meta = m.get("metadata") or {}
        if m.get("role") in {"user", "assistant"} and not meta.get("title") and isinstance(m.get("content"), str):
            out.append({"role": m["role"], "content": m["content"]})
    return out


def _adapter_choices(ctx: AppContext) -> list[tuple[str, str]]:
    choices = [("Active adapter (chosen by the admin)", ACTIVE), ("Base model (no adapter)", "")]
    for a in list_adapters(ctx.settings):
        choices.append((f"{a.name} ({a.base_model})", str(a.path)))
    return choices


def _model_choices(ctx: AppContext) -> list[tuple[str, str]]:
    """The configured model, the presets, and verified GGUF / merged exports (GGUF runs in llama.cpp)."""
    from medgemma.export.exporter import list_exports

    settings = ctx.settings
    choices = [(name, name) for name in sorted({settings.model, *PRESETS})]
    for row in list_exports(settings):
        if not row["verified"] or not row["format"].startswith(("gguf", "merged")) or row["format"] == "gguf-lora":
            continue
        gguf = next((f for f in row["files"] if f.endswith(".gguf")), "")
        value = str(Path(row["folder"]) / gguf) if gguf else row["folder"]
        choices.append((f"export: {Path(row['folder']).name} ({row['format']})", value))
    return choices


def check_options(ctx: AppContext, opts: dict[str, Any]) -> dict[str, Any]:
    """The public chat may only pick the models and adapters its settings offer (checked on the server)."""
    model, adapter = opts.get("model"), opts.get("adapter")
    if model and model not in {value for _, value in _model_choices(ctx)}:
        raise InputRejected("That model is not offered here; pick one from the settings.")
    if adapter and adapter not in {value for _, value in _adapter_choices(ctx)}:
        raise InputRejected("That adapter is not offered here; pick one from the settings.")
    return opts


def build_tab(ctx: AppContext) -> None:
    settings = ctx.settings
    limiter = RateLimiter(settings.chat_rate_per_minute)
    gr.Markdown(DISCLAIMER, elem_id="disclaimer")
    emergency_panel = gr.Markdown(visible=False, elem_id="emergency-panel")
    kb_status = gr.Markdown("", elem_id="kb-status")
    chatbot = gr.Chatbot(label="MedGemma", height=520, elem_id="chatbot", buttons=["copy"],
                         render_markdown=True, sanitize_html=True)
    state = gr.State({})
    with gr.Row():
        box = gr.Textbox(placeholder="Ask a medical question…", show_label=False, scale=6,
                         max_length=settings.max_question_chars, elem_id="question")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
        stop = gr.Button("Stop", variant="stop", scale=1, elem_id="stop")
    with gr.Row():
        retry = gr.Button("↻ Retry", size="sm")
        clear = gr.Button("🗑 Clear", size="sm")
        up = gr.Button("👍 Helpful", size="sm", elem_id="thumbs-up")
        down = gr.Button("👎 Not helpful", size="sm", elem_id="thumbs-down")
        evidence = gr.DownloadButton("⬇ Evidence record", size="sm", visible=False, elem_id="evidence")
    comment = gr.Textbox(placeholder="Optional comment for your feedback", show_label=False, lines=1)
    feedback_note = gr.Markdown("")
    gr.Examples(EXAMPLES, inputs=[box], label="Example questions")
    with gr.Accordion("Settings", open=False) as accordion:
        with gr.Row():
            k = gr.Slider(1, 10, value=settings.retrieval_k, step=1, label="Passages (k)")
            min_score = gr.Slider(0.0, 1.0, value=settings.retrieval_min_score, step=0.05,
                                  label="Minimum similarity")
            temperature = gr.Slider(0.0, 1.5, value=settings.temperature, step=0.05, label="Temperature")
            max_tokens = gr.Slider(16, 1024, value=settings.max_new_tokens, step=8, label="Max new tokens")
        with gr.Row():
            model = gr.Dropdown(choices=_model_choices(ctx), value=settings.model, label="Model", elem_id="chat-model",
                                info="presets, and exports of your adapters (GGUF runs in llama.cpp)")
            adapter = gr.Dropdown(choices=_adapter_choices(ctx), value=ACTIVE, label="Adapter",
                                  allow_custom_value=False)
            mode = gr.Radio(["auto", "generative", "extractive"], value="auto", label="Answer mode",
                            info="auto quotes the sources when the model's draft is not supported")
    accordion.expand(lambda: (gr.update(choices=_model_choices(ctx)), gr.update(choices=_adapter_choices(ctx))),
                     None, [model, adapter], api_visibility="private", queue=False)
    option_inputs = [k, min_score, temperature, max_tokens, model, adapter, mode]
    options = gr.State(_options(*(c.value for c in option_inputs)))
    gr.on([c.change for c in option_inputs], _options, option_inputs, options, api_visibility="private",
          queue=False)
    inputs = [box, chatbot, state, options]

    @ui_errors
    def respond(message: str, history: list[dict], st: dict, opts: dict, request: gr.Request):
        message, history, st = CONTROL_CHARS.sub(" ", message or "").strip(), history or [], st or {}
        if not message:
            raise InputRejected("Type a question first.")
        if len(message) > settings.max_question_chars:
            raise InputRejected(f"The question is too long (over {settings.max_question_chars} characters).")
        session = st.get("session") or secrets.token_hex(8)
        limiter.check(getattr(request, "session_hash", None) or session)
        chat = ChatSettings.from_settings(settings, **check_options(ctx, opts or {}), session_id=session)
        prior = plain_history(history)
        history = [*history, {"role": "user", "content": message}]
        yield history, gr.update(visible=False), {**st, "session": session}, gr.update(visible=False), ""
        view, emergency = ChatView(history), gr.skip()
        for event in answer(message, prior, chat, ctx.services):
            panel = view.apply(event)
            emergency = panel if panel is not None else emergency
            # the panel goes out once, with the last update: sent mid-stream as well, the browser could
            # show it empty (tests/test_e2e_browser.py caught it about 1 time in 8)
            yield view.history, gr.skip(), {**st, "session": session, "last": view.last}, gr.skip(), gr.skip()
        path = _evidence_file(view.last)
        yield view.history, emergency, {**st, "session": session, "last": view.last}, \
            gr.update(value=path, visible=bool(path)), ""

    outputs = [chatbot, emergency_panel, state, evidence, box]
    ev1 = send.click(respond, inputs, outputs, concurrency_id="chat", concurrency_limit=4, api_name="chat")
    ev2 = box.submit(respond, inputs, outputs, concurrency_id="chat", api_visibility="undocumented")
    stop.click(None, cancels=[ev1, ev2])

    def last_question(history: list[dict]) -> tuple[str, list[dict]]:
        for i in range(len(history) - 1, -1, -1):
            if history[i].get("role") == "user":
                return str(history[i]["content"]), history[:i]
        return "", history

    def retry_fn(history: list[dict]):
        question, trimmed = last_question(history)
        return question, trimmed

    retry.click(retry_fn, [chatbot], [box, chatbot], api_visibility="undocumented").then(
        respond, inputs, outputs, concurrency_id="chat", api_visibility="undocumented")
    clear.click(lambda: ([], {}, gr.update(visible=False), gr.update(visible=False), ""), None,
                [chatbot, state, emergency_panel, evidence, feedback_note], api_visibility="undocumented")

    @ui_errors
    def rate(rating: str, st: dict, text: str):
        limiter.check("feedback:" + str(st.get("session", "anonymous")))
        last = st.get("last") or {}
        record_feedback(settings, last.get("question", ""), last.get("answer", ""), rating, text, last)
        return "Thanks — your feedback was saved." + (" (with comment)" if text else ""), ""

    up.click(lambda st, c: rate("up", st, c), [state, comment], [feedback_note, comment], api_name="feedback_up")
    down.click(lambda st, c: rate("down", st, c), [state, comment], [feedback_note, comment],
               api_name="feedback_down")

    timer = gr.Timer(3.0)
    timer.tick(lambda: _kb_status(ctx), None, kb_status, api_visibility="undocumented", queue=False)
    ctx.extras["chatbot"] = chatbot


def _options(k: float, min_score: float, temperature: float, max_new_tokens: float, model: str,
             adapter: str, mode: str) -> dict[str, Any]:
    """The settings accordion as ChatSettings overrides (kept in a gr.State per browser session)."""
    return {"k": int(k), "min_score": float(min_score), "temperature": float(temperature),
            "max_new_tokens": int(max_new_tokens), "model": model or None,
            "adapter": None if adapter in (None, ACTIVE) else adapter,
            "mode": mode or "auto"}


def _kb_status(ctx: AppContext) -> str:
    starter = ctx.extras.get("starter_status")
    return starter() if callable(starter) else ""


def _evidence_file(record: dict[str, Any] | None) -> str | None:
    if not record:
        return None
    folder = Path(tempfile.gettempdir()) / "medgemma-evidence"
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, max_age_s=3600, keep=500)
    path = folder / f"evidence-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return str(path)


def _prune(folder: Path, max_age_s: float, keep: int) -> None:
    """Evidence files are per-answer downloads: drop those older than an hour and cap their number."""
    files = sorted(folder.glob("evidence-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    now = time.time()
    for i, f in enumerate(files):
        if i >= keep or now - f.stat().st_mtime > max_age_s:
            f.unlink(missing_ok=True)


class ChatView:
    """Applies pipeline Events to the Chatbot's message list (panels, streamed answer, final answer)."""

    def __init__(self, history: list[dict]) -> None:
        self.history = history
        self.answer_index: int | None = None
        self.last: dict[str, Any] = {}

    def _answer_msg(self) -> dict:
        if self.answer_index is None:
            self.history.append({"role": "assistant", "content": ""})
            self.answer_index = len(self.history) - 1
        return self.history[self.answer_index]

    def _panel(self, title: str, content: str, status: str = "done") -> None:
        self.history.append({"role": "assistant", "content": content,
                             "metadata": {"title": title, "status": status}})

    def apply(self, event) -> Any:  # returns an update for the emergency panel, or None
        kind, data = event.kind, event.data
        if kind == "emergency":
            self._answer_msg()["content"] = event.text
            self._panel(chat_render.SAFETY_TITLES["emergency"], chat_render.render_verdict(data["verdict"]))
            return gr.update(value=f"## 🚨 Emergency\n{event.text}", visible=True)
        if kind == "refusal":
            self._answer_msg()["content"] = event.text
            self._panel(chat_render.SAFETY_TITLES["harmful"], chat_render.render_verdict(data["verdict"]))
        elif kind == "safety":
            label = data.get("verdict", {}).get("label", "personal_advice")
            title = chat_render.SAFETY_TITLES.get(label, chat_render.SAFETY_TITLES["output"])
            self._panel(title, chat_render.render_verdict(data.get("verdict", {}), event.text))
        elif kind == "sources":
            hits = data.get("hits", [])
            self._panel(f"📚 Sources ({len(hits)})", chat_render.render_sources(hits))
        elif kind == "token":
            self._answer_msg()["content"] += event.text
        elif kind == "citations":
            self._answer_msg()["content"] = chat_render.render_answer(
                data.get("sentences", []), data.get("citations", []), data.get("mode", ""),
                data.get("support", 0.0))
        elif kind == "done":
            self.last = data.get("evidence", {}) | {"question": data.get("evidence", {}).get("question", ""),
                                                    "answer": data.get("answer", "")}
        return None
