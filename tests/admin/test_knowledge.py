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


def test_http_endpoints_closed_without_login_and_upload_works(app, tmp_path):
    import socket

    from gradio_client import Client, handle_file

    ctx, _, _ = app
    settings = ctx.settings
    demo, ctx = build_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "flu.txt").write_text("Influenza spreads by droplets. A yearly flu vaccine is the best protection.")
    demo.queue().launch(prevent_thread_lock=True, server_port=port, server_name="127.0.0.1", quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/kb_add", "/kb_search", "/kb_documents", "/kb_delete", "/kb_rebuild", "/kb_starter",
                "/kb_cancel"} <= set(api)
        calls = {"/kb_add": ([handle_file(str(tmp_path / "flu.txt"))], "", "", ""), "/kb_search": ("flu", 3, 0.0),
                 "/kb_documents": ("",), "/kb_delete": ("flu.txt", ""), "/kb_rebuild": (), "/kb_starter": ()}
        for name, args in calls.items():
            with pytest.raises(Exception, match="Admin login required"):
                client.predict(*args, api_name=name)
        assert not settings.path("index").exists()  # nothing was written
        assert "Logged in" in client.predict(PASSWORD, api_name="/admin_login")[0]
        statuses, summary, docs, note = client.predict([handle_file(str(tmp_path / "flu.txt"))], "", "", "",
                                                       api_name="/kb_add")
        assert statuses["data"][0][:2] == ["flu.txt", "indexed"] and note == "1 documents"
        hits = client.predict("how do I avoid the flu", 3, 0.0, api_name="/kb_search")
        assert hits["data"][0][1] == "flu" and float(hits["data"][0][4]) > 0.3
        client.close()
    finally:
        demo.close()
