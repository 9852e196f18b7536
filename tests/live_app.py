"""Helpers for tests that run the whole app on loopback: launch it, and call its events the three ways a
client can (gradio_client, the /call REST API, the browser's own queue protocol by fn_index).

Fakes for the model, guard and knowledge base come from fakes.py; nothing here knows about a feature.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend
from gradio.utils import get_upload_folder

from app import build_app, launch
from medgemma.chat.services import Services
from medgemma.config import Settings

GOUT_ANSWER = "Gout is caused by too much uric acid in the blood [1]."
API = "/gradio_api"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_services(settings: Settings, answer: str = GOUT_ANSWER, knowledge: Any = None) -> Services:
    return Services(
        settings, knowledge=knowledge or FakeKnowledge(), guard=FakeGuard(), backend=ScriptedBackend(answer)
    )


@dataclass
class LiveApp:
    demo: Any
    ctx: Any
    url: str
    upload_dir: str  # GRADIO_TEMP_DIR at launch: a test using a module-scoped app must keep it set

    def dependency(self, fn_index: int) -> dict[str, Any]:
        return next(d for d in self.demo.config["dependencies"] if d["id"] == fn_index)


@contextmanager
def serve(settings: Settings, services: Services | None = None) -> Iterator[LiveApp]:
    """Build the app as app.main does and serve it on 127.0.0.1 with app.launch (same queue, CSS, limits)."""
    demo, ctx = build_app(settings, services or fake_services(settings))
    port = free_port()
    launch(demo, settings, host="127.0.0.1", port=port, block=False, quiet=True, services=ctx.services)
    try:
        yield LiveApp(demo, ctx, f"http://127.0.0.1:{port}", get_upload_folder())
    finally:
        demo.close()


def _sse(response: httpx.Response) -> Iterator[tuple[str, str]]:
    event = ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            yield event, line[5:].strip()


def rest_call(
    url: str,
    api_name: str,
    data: list[Any],
    timeout: float = 60,
    headers: dict[str, str] | None = None,
    local_address: str | None = None,
) -> tuple[str, Any]:
    """POST /gradio_api/call/<api_name>, then read its event stream: ('complete'|'error', payload).
    `local_address` connects from another loopback address (127.0.0.2 plays a proxy on another host)."""
    transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
    with httpx.Client(timeout=timeout, headers=headers, transport=transport) as http:
        r = http.post(f"{url}{API}/call/{api_name}", json={"data": data})
        if r.status_code != 200:
            return f"http {r.status_code}", r.text
        event_id = r.json()["event_id"]
        last: tuple[str, Any] = ("none", None)
        with http.stream("GET", f"{url}{API}/call/{api_name}/{event_id}") as stream:
            for event, payload in _sse(stream):
                last = (event, json.loads(payload) if payload and payload != "null" else payload)
                if event in ("complete", "error"):
                    break
        return last


def queue_call(
    url: str,
    fn_index: int,
    data: list[Any],
    trigger_id: int | None = None,
    session_hash: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    """Join the queue by fn_index as the browser does; returns the final message
    ({"success": bool, "output": {...}}) or {"http": status, "text": ...} when the join is refused."""
    session_hash = session_hash or secrets.token_hex(6)
    body = {
        "data": data,
        "fn_index": fn_index,
        "session_hash": session_hash,
        "trigger_id": trigger_id,
        "event_data": None,
    }
    with httpx.Client(timeout=timeout) as http:
        r = http.post(f"{url}{API}/queue/join", json=body)
        if r.status_code != 200:
            return {"http": r.status_code, "text": r.text}
        with http.stream("GET", f"{url}{API}/queue/data", params={"session_hash": session_hash}) as stream:
            for _, payload in _sse(stream):
                msg = json.loads(payload)
                if msg.get("msg") == "process_completed":
                    return msg
                if msg.get("msg") in ("close_stream", "unexpected_error"):
                    return {"success": False, "output": {"error": msg.get("message", msg.get("msg"))}}
    return {"success": False, "output": {"error": "no result"}}


def direct_call(
    url: str, fn_index: int, data: list[Any], session_hash: str | None = None, timeout: float = 60
) -> tuple[int, Any]:
    """POST /gradio_api/run/predict with an fn_index (how the page runs queue=False events)."""
    body = {
        "data": data,
        "fn_index": fn_index,
        "session_hash": session_hash or secrets.token_hex(6),
        "event_data": None,
    }
    r = httpx.post(f"{url}{API}/run/predict", json=body, timeout=timeout)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def error_text(result: Any) -> str:
    """The error message in any of the three call styles' results ('' when there is none)."""
    if isinstance(result, tuple):
        return str(result[1]) if result[0] != "complete" and result[0] != 200 else ""
    if isinstance(result, dict):
        if "http" in result:
            return f"http {result['http']}: {result['text']}"
        if not result.get("success", True):
            out = result.get("output") or {}
            return str(out.get("error") or out)
    return ""
