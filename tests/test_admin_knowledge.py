"""The Knowledge base tab: handlers behind a real admin session on a real (tiny) index, closed without
login, and the rebuild running as a background `python -m medgemma index build --rebuild` job."""

from __future__ import annotations

import time

import gradio as gr
import pytest
from pdf_factory import text_pdf

from app import build_app
from medgemma.config import load_settings

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.slow


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", PASSWORD)
    settings = load_settings()
    demo, ctx = build_app(settings)
    return ctx, ctx.extras["knowledge"], ctx.auth.login(PASSWORD).token


def test_handlers_refuse_without_a_session(app):
    _, h, _ = app
    calls = [(h["on_add"], ([], "", "", "")), (h["on_search"], ("flu", 5, 0.0)), (h["on_refresh"], ("",)),
             (h["on_delete"], ("x", "")), (h["on_rebuild"], ()), (h["on_starter"], ()), (h["on_poll"], ("x",)),
             (h["on_cancel"], ("x",))]
    for fn, args in calls:
        for token in (None, "forged-token"):
            with pytest.raises(gr.Error, match="Admin login required"):
                fn(token, *args)


def test_upload_search_list_delete_and_rebuild_job(app, tmp_path):
    ctx, h, token = app
    (tmp_path / "flu.txt").write_text("Influenza spreads by droplets. A yearly flu vaccine is the best protection.")
    (tmp_path / "empty.md").write_text("")
    text_pdf(tmp_path / "gout.pdf", [["Gout causes sudden pain and swelling in the big toe joint."]])
    rows, summary, docs, note = h["on_add"](token, [str(tmp_path / n) for n in ("flu.txt", "empty.md", "gout.pdf")],
                                            "", "", "")
    assert [r[:2] for r in rows] == [["flu.txt", "indexed"], ["empty.md", "failed"], ["gout.pdf", "indexed"]]
    assert "empty" in rows[1][4] and "**2 documents, 2 chunks**" in summary
    assert {d[0] for d in docs} == {"flu.txt", "gout.pdf"} and note == "2 documents"

    [hit] = h["on_search"](token, "my big toe is swollen", 1, 0.0)
    assert hit[1] == "gout" and hit[2] == "gout.pdf, page 1" and hit[3] > 0 and hit[4] > 0.3
    assert h["on_search"](token, "tax returns for small businesses", 3, 0.9) == []
    with pytest.raises(gr.Error, match="Choose one or more files"):
        h["on_add"](token, [], "", "", "")
    with pytest.raises(gr.Error, match="No document or source named"):
        h["on_delete"](token, "missing.txt", "")

    summary, docs, note = h["on_refresh"](token, "flu")
    assert [d[0] for d in docs] == ["flu.txt"] and note == "1 documents"
    _, summary, docs, _ = h["on_delete"](token, "flu.txt", "")
    assert [d[0] for d in docs] == ["gout.pdf"] and "**1 documents, 1 chunks**" in summary

    run_id, status, command, _, timer = h["on_rebuild"](token)
    assert "index build --rebuild" in command and timer.active
    with pytest.raises(gr.Error, match="still running"):
        h["on_starter"](token)
    deadline = time.time() + 300
    while True:
        status, command, log, timer, summary = h["on_poll"](token, run_id)
        if not timer.active or time.time() > deadline:
            break
        time.sleep(2)
    assert "— done" in status, log
    assert "generation 3" in summary and "**1 documents, 1 chunks**" in summary
