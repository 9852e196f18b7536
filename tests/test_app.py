"""The running app, driven by gradio_client: streaming chat with sources and citations, emergency
panel, feedback, admin endpoints closed without login. Collaborators are fakes (see fakes.py);
tests/test_app_real.py runs the same app on the real packaged models."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend
from gradio_client import Client

from app import build_app, launch
from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.errors import InputRejected
from medgemma.storage import read_jsonl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_app(tmp_path_factory):
    home = tmp_path_factory.mktemp("app-home")
    settings = load_settings(env={"MEDGEMMA_HOME": str(home), "MEDGEMMA_ADMIN_PASSWORD": "correct horse"})
    services = Services(
        settings,
        knowledge=FakeKnowledge(),
        guard=FakeGuard(),
        backend=ScriptedBackend("Gout is caused by too much uric acid in the blood [1]."),
    )
    demo, ctx = build_app(settings, services)
    port = free_port()
    launch(demo, settings, host="127.0.0.1", port=port, block=False, quiet=True)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    yield client, settings
    client.close()
    demo.close()


def text_of(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def test_chat_streams_tokens_sources_and_linked_citations(running_app):
    client, _ = running_app
    job = client.submit("What causes gout?", [], api_name="/chat")
    snapshots = [out[0] for out in job]
    final = job.outputs()[-1][0]
    answers = [m for m in final if m["role"] == "assistant" and not m.get("metadata")]
    panels = [m for m in final if (m.get("metadata") or {}).get("title", "").startswith("📚 Sources")]
    assert len(snapshots) >= 3  # streamed in several updates, not one
    assert panels and "https://medlineplus.gov/gout.html" in text_of(panels[0])
    answer = text_of(answers[0])
    assert '[[1]](https://medlineplus.gov/gout.html "Gout")' in answer
    assert "Support: 100%" in answer


def test_emergency_shows_panel_without_model(running_app):
    client, _ = running_app
    job = client.submit("my dad's face is drooping", [], api_name="/chat")
    outputs = list(job)
    panels = [out[1] for out in outputs if isinstance(out[1], dict) and "value" in out[1]]
    assert panels and panels[-1]["visible"] is True and "Call 911" in panels[-1]["value"]
    history = job.outputs()[-1][0]
    assert any("Emergency" in (m.get("metadata") or {}).get("title", "") for m in history)
    assert any("Call 911" in text_of(m) for m in history if m["role"] == "assistant")


def test_feedback_is_stored(running_app):
    client, settings = running_app
    client.predict("What causes gout?", [], api_name="/chat")
    note, _ = client.predict("clear and cited", api_name="/feedback_up")
    assert "saved" in note
    rows = list(read_jsonl(settings.path("feedback", "feedback.jsonl")))
    assert rows[-1]["rating"] == "up" and rows[-1]["comment"] == "clear and cited"
    assert "uric acid" in rows[-1]["answer"]


def test_evidence_record_downloads(running_app):
    client, _ = running_app
    *_, evidence, _ = client.predict("What causes gout?", [], api_name="/chat")
    path = evidence["value"] if isinstance(evidence, dict) else evidence
    record = json.loads(open(path, encoding="utf-8").read())
    assert record["question"] == "What causes gout?"
    assert record["passages"][0]["chunk_id"] == "c1" and "timings" in record
    assert record["safety_input"]["label"] == "allowed"


def test_empty_and_overlong_questions_get_clear_errors(running_app):
    client, settings = running_app
    with pytest.raises(Exception, match="Type a question"):
        client.predict("   ", [], api_name="/chat")
    with pytest.raises(Exception, match="too long"):
        client.predict("x" * (settings.max_question_chars + 1), [], api_name="/chat")


def test_admin_login_wrong_then_right(running_app):
    client, _ = running_app
    out = client.predict("wrong", api_name="/admin_login")
    assert "Wrong admin password" in out[0]
    out = client.predict("correct horse", api_name="/admin_login")
    assert "Logged in" in out[0]


def test_public_chat_only_loads_offered_models_and_adapters(tmp_path):
    """The settings accordion is a dropdown, but the server checks too: a crafted request cannot make the
    public chat load an arbitrary path or Hub model."""
    from admin.chat_options import check_options, model_choices

    settings = load_settings(
        env={"MEDGEMMA_HOME": str(tmp_path), "MEDGEMMA_PUBLIC_SETTINGS": "model,adapter"}
    )
    services = Services(settings, knowledge=FakeKnowledge(), guard=FakeGuard(), backend=ScriptedBackend("x"))
    _, ctx = build_app(settings, services)
    offered = [value for _, value in model_choices(ctx)]
    assert settings.model in offered and "medgemma-4b-it" in offered
    assert check_options(ctx, {"model": settings.model, "adapter": None}) == {
        "model": settings.model,
        "adapter": None,
    }
    for opts in ({"model": "/etc/passwd"}, {"model": "some-org/huge-model"}, {"adapter": "/tmp/evil"}):
        with pytest.raises(InputRejected, match="not offered here"):
            check_options(ctx, opts)


def test_stop_stops_that_visitors_answer_on_the_server(tmp_path):
    """The Stop button's handler, called as the page calls it (its own session hash, no queue): the visitor's
    answer stops streaming on the server and ends unverified, while another visitor's answer is written in full."""
    from live_app import direct_call, serve

    settings = load_settings(env={"MEDGEMMA_HOME": str(tmp_path)})
    slow = ScriptedBackend("Gout is caused by too much uric acid in the blood [1]. " * 6, delay_s=0.05)
    services = Services(settings, knowledge=FakeKnowledge(), guard=FakeGuard(), backend=slow)
    with serve(settings, services) as app:
        [stop_fn] = [i for i, f in app.demo.fns.items() if f.name == "stop"]
        me, other = Client(app.url, verbose=False), Client(app.url, verbose=False)
        try:
            mine = me.submit("What causes gout?", [], api_name="/chat")
            theirs = other.submit("What causes gout?", [], api_name="/chat")
            for update in mine:
                if any(m["role"] == "assistant" and not m.get("metadata") and text_of(m) for m in update[0]):
                    break  # the first words are on screen
            status, _ = direct_call(app.url, stop_fn, [None], session_hash=me.session_hash)
            assert status == 200
            mine_final, theirs_final = mine.result()[0], theirs.result()[0]
        finally:
            me.close()
            other.close()
    [stopped] = [text_of(m) for m in mine_final if m["role"] == "assistant" and not m.get("metadata")]
    [written] = [text_of(m) for m in theirs_final if m["role"] == "assistant" and not m.get("metadata")]
    assert "Support:" not in stopped and len(stopped.split()) < 30
    assert "Support:" in written and written.count("uric acid") >= 1


def test_starter_build_status_is_a_services_attribute(tmp_path):
    from app import start_starter_index

    class StarterKnowledge(FakeKnowledge):
        def __init__(self):
            super().__init__()
            self.go = threading.Event()

        def ensure_starter_index(self, progress):
            progress(0.25, "embedding 100 chunks")
            self.go.wait(30)
            return {"state": "failed", "message": "disk full"}

    settings = load_settings(env={"MEDGEMMA_HOME": str(tmp_path)})
    kb = StarterKnowledge()
    services = Services(settings, knowledge=kb, guard=FakeGuard(), backend=ScriptedBackend("x"))
    demo, ctx = build_app(settings, services)
    thread = start_starter_index(ctx)
    deadline = time.time() + 30
    while not services.starter_status and time.time() < deadline:
        time.sleep(0.01)
    assert services.starter_status == "📚 Building the knowledge base: embedding 100 chunks (25%)"
    kb.go.set()
    thread.join(30)
    assert services.starter_status == "⚠️ The starter knowledge base could not be built: disk full"
