"""knowledge.py is the admin Knowledge base tab: upload files (per-file status, progress), search with
dense/BM25/fused scores, the documents list with delete, and rebuild / starter build as background jobs.

All logic lives in medgemma.knowledge; every handler checks the admin session itself.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from admin.common import AppContext, admin_only
from medgemma.knowledge import base as knowledge
from medgemma.knowledge.ingest import SUPPORTED_SUFFIXES, ColumnMap

HELP = ("Add your own documents (TXT, Markdown, JSON, JSONL, CSV, PDF, MedQuAD or PubMed XML; `.gz` too). "
        "Unchanged files are skipped, changed ones replaced. Each upload is limited to {files} files of "
        "{mb} MB. A rebuild re-embeds everything in the background; the chat keeps answering from the "
        "previous index until the new one is complete.")
STATUS_HEADERS = ["file", "status", "documents", "chunks", "details"]
HIT_HEADERS = ["#", "title", "where", "fused", "dense", "bm25", "passage"]
DOC_HEADERS = ["doc id", "title", "source", "chunks", "url", "file"]
DOC_LIMIT = 200


def _summary(stats: dict[str, Any]) -> str:
    build = stats.get("build") or {}
    line = ""
    if build.get("state") == "building":
        line = f"  \n⏳ building: {build.get('message', '')} ({float(build.get('fraction') or 0):.0%})"
    elif build.get("state") in ("failed", "interrupted"):
        line = f"  \n⚠️ last build {build['state']}: {build.get('message', '')}"
    if not stats["ready"]:
        return "**No index yet.** Upload documents or build the starter corpus." + line
    text = (f"**{stats['documents']:,} documents, {stats['chunks']:,} chunks** · {stats['embedding_model']} "
            f"({stats['dimension']}d, {stats['index_type']}) · generation {stats['generation']} · "
            f"built {stats['built_at']}")
    if stats.get("warning"):
        text += f"  \n⚠️ {stats['warning']}"
    return text + line


def _job_status(p: dict[str, Any]) -> str:
    text = f"**{p['run_id']}** — {p['state']}"
    if p["active"] and p["message"]:
        text += f"  \n{p['message']} ({p['fraction']:.0%})"
    if p["error"]:
        text += f"  \n⚠️ {p['error']}"
    return text


def _hit_rows(hits) -> list[list[Any]]:
    rows = []
    for h in hits:
        c = h.chunk
        where = c.url or (f"{c.source}, page {c.page}" if c.page else c.source)
        rows.append([h.rank, c.title, where, round(h.score, 4), round(h.dense or 0.0, 3),
                     "" if h.bm25 is None else round(h.bm25, 2), c.text[:300]])
    return rows


def build_tab(ctx: AppContext) -> None:
    settings, token = ctx.settings, ctx.admin_token
    kb = knowledge.KnowledgeBase(settings)
    gr.Markdown(HELP.format(files=settings.max_upload_files, mb=settings.max_upload_mb))
    summary = gr.Markdown("", elem_id="kb-summary")
    with gr.Row():
        upload = gr.File(file_count="multiple", label="Documents", scale=3, elem_id="kb-upload",
                         file_types=sorted(SUPPORTED_SUFFIXES | {".gz"}))
        with gr.Column(scale=2):
            with gr.Accordion("Columns for CSV / JSON (blank: guess)", open=False):
                text_col = gr.Textbox("", label="Text column")
                title_col = gr.Textbox("", label="Title column")
                url_col = gr.Textbox("", label="URL column")
            add = gr.Button("Add to knowledge base", variant="primary", elem_id="kb-add")
    statuses = gr.Dataframe(headers=STATUS_HEADERS, label="Per-file status", interactive=False, wrap=True)

    gr.Markdown("### Search")
    with gr.Row():
        query = gr.Textbox("", label="Question", scale=4, elem_id="kb-query")
        k = gr.Number(5, precision=0, minimum=1, maximum=50, label="Top k", scale=1)
        min_score = gr.Number(settings.retrieval_min_score, label="Min dense score", scale=1)
        search = gr.Button("Search", scale=1, elem_id="kb-search")
    hits = gr.Dataframe(headers=HIT_HEADERS, label="Hits (fused = reciprocal-rank fusion of dense and BM25)",
                        interactive=False, wrap=True)

    gr.Markdown("### Documents")
    with gr.Row():
        doc_filter = gr.Textbox("", label="Filter (id, title, source or file)", scale=4)
        refresh = gr.Button("↻ Refresh", scale=1, elem_id="kb-refresh")
    docs_note = gr.Markdown("")
    docs = gr.Dataframe(headers=DOC_HEADERS, interactive=False, wrap=True, max_height=500)
    with gr.Row():
        delete_id = gr.Textbox("", label="Delete: a doc id, or a file name to delete all its documents", scale=4)
        delete = gr.Button("🗑 Delete", variant="stop", scale=1, elem_id="kb-delete")

    gr.Markdown("### Rebuild")
    with gr.Row():
        rebuild = gr.Button("Rebuild everything", elem_id="kb-rebuild")
        starter = gr.Button("Build starter corpus", elem_id="kb-starter")
        cancel = gr.Button("■ Cancel", variant="stop", elem_id="kb-cancel")
    job_status = gr.Markdown("")
    command = gr.Code("", language="shell", label="Equivalent command", interactive=False)
    log = gr.Textbox("", label="Log (tail)", lines=6, max_lines=6, autoscroll=True, interactive=False)
    watched = gr.State("")
    timer = gr.Timer(2.0, active=False)

    # ---- handlers: thin; each calls one medgemma function ---------------------------------------
    def doc_table(text: str) -> tuple[list[list[Any]], str]:
        rows, total = kb.find_documents(text or "", DOC_LIMIT)
        note = f"{total:,} documents" + (f" (showing {len(rows)}; filter to narrow)" if total > len(rows) else "")
        return [[d.doc_id, d.title, d.source, d.chunks, d.url, d.source_key] for d in rows], note

    @admin_only(ctx, "kb-add")
    def on_add(session, files: list[str] | None, text: str, title: str, url: str,
               progress=gr.Progress()):  # noqa: B008 - Gradio injects the progress tracker
        if not files:
            raise gr.Error("Choose one or more files first.")
        result = kb.add_files(files, lambda f, m: progress(f, desc=m), columns=ColumnMap(text, title, url))
        rows = [[s.name, s.status, s.documents, s.chunks, s.message] for s in result]
        return rows, _summary(kb.stats()), *doc_table("")

    @admin_only(ctx, "kb-search", audit=False)
    def on_search(session, text: str, top_k: float | None, threshold: float | None):
        return _hit_rows(kb.search(text, k=int(top_k or 5), min_score=-1.0 if threshold is None else threshold))

    @admin_only(ctx, "kb-list", audit=False)
    def on_refresh(session, text: str):
        return _summary(kb.stats()), *doc_table(text)

    @admin_only(ctx, "kb-delete")
    def on_delete(session, doc_id: str, text: str):
        if not (doc_id or "").strip():
            raise gr.Error("Enter the doc id (or file name) to delete.")
        removed = kb.remove(doc_id.strip())
        gr.Info(f"Deleted {removed} document(s).")
        return "", _summary(kb.stats()), *doc_table(text)

    def start_job(action: str):
        info = knowledge.start_index_job(settings, action)
        return info.run_id, f"**{info.run_id}** — {info.state}", info.command, "", gr.Timer(active=True)

    @admin_only(ctx, "kb-rebuild")
    def on_rebuild(session):
        return start_job("rebuild")

    @admin_only(ctx, "kb-starter")
    def on_starter(session):
        return start_job("starter")

    @admin_only(ctx, "kb-poll", audit=False)
    def on_poll(session, run_id: str):
        if not run_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False), gr.skip()
        p = knowledge.index_job_progress(settings, run_id)
        return (_job_status(p), p["command"], p["log"], gr.Timer(active=p["active"]), _summary(kb.stats()))

    @admin_only(ctx, "kb-cancel")
    def on_cancel(session, run_id: str):
        if not run_id:
            raise gr.Error("No index job was started from this page.")
        p = knowledge.cancel_index_job(settings, run_id)
        return _job_status(p), p["log"], gr.Timer(active=False)

    # ---- wiring: every admin handler takes the admin token first --------------------------------
    add.click(on_add, [token, upload, text_col, title_col, url_col], [statuses, summary, docs, docs_note],
              api_name="kb_add", concurrency_limit=1)
    search.click(on_search, [token, query, k, min_score], [hits], api_name="kb_search")
    query.submit(on_search, [token, query, k, min_score], [hits], api_visibility="undocumented")
    refresh.click(on_refresh, [token, doc_filter], [summary, docs, docs_note], api_name="kb_documents")
    doc_filter.submit(on_refresh, [token, doc_filter], [summary, docs, docs_note], api_visibility="undocumented")
    delete.click(on_delete, [token, delete_id, doc_filter], [delete_id, summary, docs, docs_note],
                 api_name="kb_delete")
    job_outputs = [watched, job_status, command, log, timer]
    rebuild.click(on_rebuild, [token], job_outputs, api_name="kb_rebuild", concurrency_limit=1)
    starter.click(on_starter, [token], job_outputs, api_name="kb_starter", concurrency_limit=1)
    timer.tick(on_poll, [token, watched], [job_status, command, log, timer, summary],
               api_visibility="private", queue=False, show_progress="hidden")
    cancel.click(on_cancel, [token, watched], [job_status, log, timer], api_name="kb_cancel")

    def on_login(tok: str | None):  # fill the summary and the list when an admin logs in
        return on_refresh(tok, "") if tok else (gr.skip(), gr.skip(), gr.skip())

    token.change(on_login, [token], [summary, docs, docs_note], api_visibility="private")
    ctx.extras["knowledge"] = {"on_add": on_add, "on_search": on_search, "on_refresh": on_refresh,
                               "on_delete": on_delete, "on_rebuild": on_rebuild, "on_starter": on_starter,
                               "on_poll": on_poll, "on_cancel": on_cancel}
