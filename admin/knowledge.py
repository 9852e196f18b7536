"""knowledge.py is the admin Knowledge base tab: uploads, rebuilds and the starter build as index jobs (the
shared job panel: progress, log, cancel, the equivalent command; per-file status when an upload ends),
search with dense/BM25/fused scores, and the documents list with delete.

All logic lives in medgemma.knowledge and medgemma.jobs; every handler checks the admin session itself.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from admin.common import AppContext, admin_method
from admin.job_panel import JobPanel, Updates
from medgemma import jobs
from medgemma.jobs import JobProgress
from medgemma.knowledge.base import KnowledgeBase
from medgemma.knowledge.uploads import KNOWN_KINDS

HELP = (
    "Add your own documents (TXT, Markdown, JSON, JSONL, CSV, PDF, MedQuAD or PubMed XML; `.gz` too); "
    "they are indexed by a background job whose progress shows below. "
    "Unchanged files are skipped, changed ones replaced. Each upload is limited to {files} files of "
    "{mb} MB. A rebuild re-embeds everything in the background; the chat keeps answering from the "
    "previous index until the new one is complete."
)
STATUS_HEADERS = ["file", "status", "documents", "chunks", "details"]
HIT_HEADERS = ["#", "title", "where", "fused", "dense", "bm25", "passage"]
DOC_HEADERS = ["doc id", "title", "source", "chunks", "url", "file"]
DOC_LIMIT = 200


def summary_text(stats: dict[str, Any]) -> str:
    build = stats.get("build") or {}
    line = ""
    if stats.get("coverage"):  # keyword side complete, meaning side still filling in
        line = f"  \n🔎 {stats['coverage']}"
    elif build.get("state") == "building":
        line = f"  \n⏳ building: {build.get('message', '')} ({float(build.get('fraction') or 0):.0%})"
    if build.get("state") in ("failed", "interrupted"):
        line += f"  \n⚠️ last build {build['state']}: {build.get('message', '')}"
    if not stats["ready"]:
        return "**No index yet.** Upload documents or build the starter corpus." + line
    text = (
        f"**{stats['documents']:,} documents, {stats['chunks']:,} chunks** · {stats['embedding_model']} "
        f"({stats['dimension']}d, {stats['index_type']}) · generation {stats['generation']} · "
        f"built {stats['built_at']}"
    )
    if stats.get("warning"):
        text += f"  \n⚠️ {stats['warning']}"
    return text + line


def hit_rows(hits) -> list[list[Any]]:
    rows = []
    for h in hits:
        c = h.chunk
        where = c.url or (f"{c.source}, page {c.page}" if c.page else c.source)
        rows.append(
            [
                h.rank,
                c.title,
                where,
                round(h.score, 4),
                round(h.dense or 0.0, 3),
                "" if h.bm25 is None else round(h.bm25, 2),
                c.text[:300],
            ]
        )
    return rows


class KnowledgeTab:
    """The Knowledge base tab's components (set by build_tab) and its handlers, each guarded on the server."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx, self.settings = ctx, ctx.settings
        # the index on disk, sharing the chat's loaded generations and encoder (one copy in memory)
        self.kb = KnowledgeBase(ctx.settings, state=ctx.services.knowledge_state())

    def listing(self, text: str = "") -> Updates:
        rows, total = self.kb.find_documents(text or "", DOC_LIMIT)
        note = f"{total:,} documents" + (
            f" (showing {len(rows)}; filter to narrow)" if total > len(rows) else ""
        )
        return {
            self.summary: summary_text(self.kb.stats()),
            self.note: note,
            self.docs: [[d.doc_id, d.title, d.source, d.chunks, d.url, d.source_key] for d in rows],
        }

    def view(self, p: JobProgress) -> Updates:
        return {self.summary: summary_text(self.kb.stats())}

    def finished(self, p: JobProgress, text: str = "") -> Updates:
        """The job's last tick: an upload's per-file statuses, and the documents as they are now."""
        if p.state == "done" and p.config.get("action") == "add" and (snap := self.kb.snapshot()) is not None:
            self.kb.warm(snap)  # searches from this process see the new documents at once
        files = p.metrics.get("files")
        rows = (
            {
                self.statuses: [
                    [f["name"], f["status"], f["documents"], f["chunks"], f["message"]] for f in files
                ]
            }
            if files is not None
            else {}
        )
        return {**self.listing(text), **rows}

    def start(self, args: dict[str, Any]) -> Updates:
        return self.panel.started(jobs.start(self.settings, "index", args))

    @admin_method("kb-add")
    def on_add(self, session: Any, files: list[str] | None, text: str, title: str, url: str) -> Updates:
        """Check the files and index them as a background `index add` job; its last tick fills the table."""
        columns = {"text": text or "", "title": title or "", "url": url or ""}
        return {**self.start({"action": "add", "files": files or [], "columns": columns}), self.statuses: []}

    @admin_method("kb-search", audit=False)
    def on_search(
        self, session: Any, text: str, top_k: float | None, threshold: float | None
    ) -> list[list[Any]]:
        return hit_rows(
            self.kb.search(text, k=int(top_k or 5), min_score=-1.0 if threshold is None else threshold)
        )

    @admin_method("kb-list", audit=False)
    def on_refresh(self, session: Any, text: str) -> Updates:
        return self.listing(text)

    @admin_method("kb-delete")
    def on_delete(self, session: Any, doc_id: str, text: str) -> Updates:
        if not (doc_id or "").strip():
            raise gr.Error("Enter the doc id (or file name) to delete.")
        removed = self.kb.remove(doc_id.strip())
        gr.Info(f"Deleted {removed} document(s).")
        return {self.delete_id: "", **self.listing(text)}

    @admin_method("kb-rebuild")
    def on_rebuild(self, session: Any) -> Updates:
        return self.start({"action": "rebuild"})

    @admin_method("kb-starter")
    def on_starter(self, session: Any) -> Updates:
        return self.start({"action": "starter"})


def build_tab(ctx: AppContext) -> KnowledgeTab:
    """Lay out the Knowledge base tab and wire its events (every admin handler takes the admin token first)."""
    tab, token = KnowledgeTab(ctx), ctx.admin_token
    gr.Markdown(HELP.format(files=ctx.settings.max_upload_files, mb=ctx.settings.max_upload_mb))
    tab.summary = gr.Markdown("", elem_id="kb-summary")
    with gr.Row():
        upload = gr.File(
            file_count="multiple",
            label="Documents",
            scale=3,
            elem_id="kb-upload",
            file_types=sorted(KNOWN_KINDS | {".gz"}),
        )
        with gr.Column(scale=2):
            with gr.Accordion("Columns for CSV / JSON (blank: guess)", open=False):
                columns = [gr.Textbox("", label=f"{what} column") for what in ("Text", "Title", "URL")]
            add = gr.Button("Add to knowledge base", variant="primary", elem_id="kb-add")
    tab.panel = JobPanel(
        ctx,
        "kb",
        [("rebuild", "Rebuild everything", "secondary"), ("starter", "Build starter corpus", "secondary")],
        view=tab.view,
        finished=tab.finished,
        idle="No index job was started from this page.",
    )
    tab.statuses = gr.Dataframe(headers=STATUS_HEADERS, label="Per-file status", interactive=False, wrap=True)

    gr.Markdown("### Search")
    with gr.Row():
        query = gr.Textbox("", label="Question", scale=4, elem_id="kb-query")
        k = gr.Number(5, precision=0, minimum=1, maximum=50, label="Top k", scale=1)
        min_score = gr.Number(ctx.settings.retrieval_min_score, label="Min dense score", scale=1)
        search = gr.Button("Search", scale=1, elem_id="kb-search")
    hits = gr.Dataframe(
        headers=HIT_HEADERS,
        label="Hits (fused = reciprocal-rank fusion of dense and BM25)",
        interactive=False,
        wrap=True,
    )

    gr.Markdown("### Documents")
    with gr.Row():
        doc_filter = gr.Textbox("", label="Filter (id, title, source or file)", scale=4)
        refresh = gr.Button("↻ Refresh", scale=1, elem_id="kb-refresh")
    tab.note = gr.Markdown("")
    tab.docs = gr.Dataframe(headers=DOC_HEADERS, interactive=False, wrap=True, max_height=500)
    with gr.Row():
        tab.delete_id = gr.Textbox(
            "", label="Delete: a doc id, or a file name to delete all its documents", scale=4
        )
        delete = gr.Button("🗑 Delete", variant="stop", scale=1, elem_id="kb-delete")

    listed = [tab.summary, tab.docs, tab.note]
    outputs = tab.panel.wire([*listed, tab.statuses], poll_inputs=[doc_filter])
    add.click(tab.on_add, [token, upload, *columns], outputs, api_name="kb_add", concurrency_limit=1)
    search.click(tab.on_search, [token, query, k, min_score], [hits], api_name="kb_search")
    query.submit(tab.on_search, [token, query, k, min_score], [hits], api_visibility="undocumented")
    refresh.click(tab.on_refresh, [token, doc_filter], listed, api_name="kb_documents")
    doc_filter.submit(tab.on_refresh, [token, doc_filter], listed, api_visibility="undocumented")
    delete.click(
        tab.on_delete, [token, tab.delete_id, doc_filter], [tab.delete_id, *listed], api_name="kb_delete"
    )
    for key in ("rebuild", "starter"):
        tab.panel.buttons[key].click(
            getattr(tab, f"on_{key}"), [token], outputs, api_name=f"kb_{key}", concurrency_limit=1
        )

    def on_login(tok: str | None):  # fill the summary and the list when an admin logs in
        return tab.on_refresh(tok, "") if tok else tuple(gr.skip() for _ in listed)

    token.change(on_login, [token], listed, api_visibility="private")
    return tab
