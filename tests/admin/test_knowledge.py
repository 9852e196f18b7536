"""The Knowledge base tab: handlers behind a real admin session on a real (tiny) index, closed without
login; uploads, the rebuild and the starter build run as background `python -m medgemma index ...` jobs
whose progress the job panel shows (the per-file statuses of an upload come from the job's result)."""

from __future__ import annotations

import time

import gradio as gr
import pytest
from pdf_factory import text_pdf

from admin import knowledge as knowledge_tab
from app import build_app, launch
from medgemma import jobs
from medgemma.config import load_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def app(monkeypatch, build_tab):
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", PASSWORD)
    settings = load_settings()
    tab, ctx = build_tab(knowledge_tab, settings)
    return ctx, tab, ctx.auth.login(PASSWORD).token


def test_handlers_refuse_without_a_session(app):
    ctx, tab, _ = app
    calls = [
        (tab.on_add, ([], "", "", "")),
        (tab.on_search, ("flu", 5, 0.0)),
        (tab.on_refresh, ("",)),
        (tab.on_delete, ("x", "")),
        (tab.on_rebuild, ()),
        (tab.on_starter, ()),
        (tab.panel.on_poll, ("x",)),
        (tab.panel.on_cancel, ("x",)),
    ]
    for fn, args in calls:
        for token in (None, "forged-token"):
            with pytest.raises(gr.Error, match="Admin login required"):
                fn(token, *args)
    assert not ctx.settings.path("runs").exists()


def test_bad_uploads_are_named_before_any_job_starts(app, tmp_path):
    ctx, tab, token = app
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(gr.Error, match="Choose one or more files"):
        tab.on_add(token, [], "", "", "")
    with pytest.raises(
        gr.Error, match=r"No file can be added: empty.md: the file is empty; photo.txt: .*PNG"
    ):
        tab.on_add(token, [str(tmp_path / "empty.md"), str(tmp_path / "photo.txt")], "", "", "")
    many = [str(tmp_path / "empty.md")] * (ctx.settings.max_upload_files + 1)
    with pytest.raises(gr.Error, match=f"at most {ctx.settings.max_upload_files} per upload"):
        tab.on_add(token, many, "", "", "")
    with pytest.raises(gr.Error, match="No index job was started"):
        tab.panel.on_cancel(token, "")
    assert not ctx.settings.path("runs").exists() and not ctx.settings.path("uploads").exists()


def _until_done(tab, token, job_id, timeout=300.0):
    """Tick like the browser's timer until the job ends; returns the last tick's updates."""
    deadline = time.time() + timeout
    while True:
        out = tab.panel.on_poll(token, job_id, "")
        if not out[tab.panel.timer].active:
            return out
        assert time.time() < deadline, out[tab.panel.log]
        time.sleep(1)


@pytest.mark.slow
def test_upload_search_list_delete_and_rebuild_job(app, tmp_path):
    ctx, tab, token = app
    panel = tab.panel
    (tmp_path / "flu.txt").write_text(
        "Influenza spreads by droplets. A yearly flu vaccine is the best protection."
    )
    (tmp_path / "empty.md").write_text("")
    text_pdf(tmp_path / "gout.pdf", [["Gout causes sudden pain and swelling in the big toe joint."]])
    out = tab.on_add(token, [str(tmp_path / n) for n in ("flu.txt", "empty.md", "gout.pdf")], "", "", "")
    job_id = out[panel.watched]
    assert out[panel.timer].active and "python -m medgemma index add" in out[panel.command]
    assert (
        str(ctx.settings.path("uploads", job_id, "flu.txt")) in out[panel.command]
    )  # copies in the data home
    out = _until_done(tab, token, job_id)
    rows, summary, docs, note = out[tab.statuses], out[tab.summary], out[tab.docs], out[tab.note]
    assert "— done" in out[panel.status], out[panel.log]
    assert [r[:2] for r in rows] == [["flu.txt", "indexed"], ["empty.md", "failed"], ["gout.pdf", "indexed"]]
    assert "empty" in rows[1][4] and "**2 documents, 2 chunks**" in summary
    assert {d[0] for d in docs} == {"flu.txt", "gout.pdf"} and note == "2 documents"

    [hit] = tab.on_search(token, "my big toe is swollen", 1, 0.0)  # this process sees the job's index at once
    assert hit[1] == "gout" and hit[2] == "gout.pdf, page 1" and hit[3] > 0 and hit[4] > 0.3
    assert tab.on_search(token, "tax returns for small businesses", 3, 0.9) == []
    with pytest.raises(gr.Error, match="No document or source named"):
        tab.on_delete(token, "missing.txt", "")

    out = tab.on_refresh(token, "flu")
    assert [d[0] for d in out[tab.docs]] == ["flu.txt"] and out[tab.note] == "1 documents"
    out = tab.on_delete(token, "flu.txt", "")
    assert [d[0] for d in out[tab.docs]] == ["gout.pdf"] and "**1 documents, 1 chunks**" in out[tab.summary]

    upload_id = job_id
    out = tab.on_rebuild(token)
    job_id = out[panel.watched]
    assert not ctx.settings.path(
        "uploads", upload_id
    ).exists()  # the next job drops a finished upload's copies
    assert "index build --rebuild" in out[panel.command] and out[panel.timer].active
    with pytest.raises(gr.Error, match="still running"):
        tab.on_starter(token)
    out = _until_done(tab, token, job_id)
    assert "— done" in out[panel.status], out[panel.log]
    assert "generation 3" in out[tab.summary] and "**1 documents, 1 chunks**" in out[tab.summary]
    assert jobs.progress(ctx.settings, job_id).fraction == 1.0


@pytest.mark.slow
def test_http_endpoints_closed_without_login_and_upload_works(app, tmp_path):
    import socket

    from gradio_client import Client, handle_file

    ctx, _, _ = app
    settings = ctx.settings
    demo, ctx = build_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "flu.txt").write_text(
        "Influenza spreads by droplets. A yearly flu vaccine is the best protection."
    )
    launch(demo, settings, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {
            "/kb_add",
            "/kb_search",
            "/kb_documents",
            "/kb_delete",
            "/kb_rebuild",
            "/kb_starter",
            "/kb_cancel",
        } <= set(api)
        calls = {
            "/kb_add": ([handle_file(str(tmp_path / "flu.txt"))], "", "", ""),
            "/kb_search": ("flu", 3, 0.0),
            "/kb_documents": ("",),
            "/kb_delete": ("flu.txt", ""),
            "/kb_rebuild": (),
            "/kb_starter": (),
        }
        for name, args in calls.items():
            with pytest.raises(Exception, match="Admin login required"):
                client.predict(*args, api_name=name)
        assert not settings.path("index").exists()  # nothing was written
        assert "Logged in" in client.predict(PASSWORD, api_name="/admin_login")[0]
        status, command, *_ = client.predict(
            [handle_file(str(tmp_path / "flu.txt"))], "", "", "", api_name="/kb_add"
        )
        job_id = status.split("**")[1]  # the upload runs as an index job
        assert "index add" in command and jobs.find_run(settings, job_id, "index").kind == "index"
        deadline = time.time() + 300
        while jobs.progress(settings, job_id).active and time.time() < deadline:
            time.sleep(1)
        done = jobs.progress(settings, job_id)
        assert done.state == "done" and done.metrics["files"][0]["status"] == "indexed", done.log
        summary, docs, note = client.predict("", api_name="/kb_documents")
        assert [d[0] for d in docs["data"]] == ["flu.txt"] and note == "1 documents"
        hits = client.predict("how do I avoid the flu", 3, 0.0, api_name="/kb_search")
        assert hits["data"][0][1] == "flu" and float(hits["data"][0][4]) > 0.3
        client.close()
    finally:
        demo.close()
