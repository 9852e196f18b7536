"""export.py is the admin Export tab: export an adapter to a deployable format as a background job (the
shared job panel: progress, log tail, cancel, the equivalent command), list verified exports, and publish
one to the Hugging Face Hub (dry run first). All logic lives in medgemma.export and medgemma.jobs.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import gradio as gr

from admin.common import AppContext, admin_method
from admin.job_panel import JobPanel, Updates
from medgemma import jobs
from medgemma.errors import InputRejected
from medgemma.export import exporter as export
from medgemma.export.publish import publish
from medgemma.jobs import JobProgress
from medgemma.models.adapters import adapter_choices

HELP = (
    "Export a trained adapter so it runs elsewhere: llama.cpp (GGUF) on a laptop, ONNX Runtime, a merged "
    "checkpoint for vLLM/TGI, or the PEFT adapter itself. Every export is verified against the PyTorch "
    "model before it appears here; a failed export leaves nothing behind. Verified GGUF and merged exports "
    "appear as models in the Chat tab's settings (GGUF runs in llama.cpp); a GGUF LoRA export is also "
    "copied next to its adapter."
)
QUANT_NOTE = (
    "⚠️ **Quantization:** q4_k_m of a fine-tuned 270M model can lose what it learned while q8_0 "
    "keeps it. Evaluate the exported file (`python -m medgemma eval artifact ...`) before you ship it."
)
COLUMNS = ["created", "format", "adapter", "size MB", "export s", "verified", "token agreement", "folder"]


def table_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in rows:
        agreement = min((c.get("agreement", 0.0) for c in r["checks"]), default=None)
        out.append(
            [
                r["created"][:19],
                r["format"],
                r["adapter"],
                round(r["size_bytes"] / 1e6, 1),
                r["seconds"],
                "yes" if r["verified"] else "no",
                agreement,
                r["folder"],
            ]
        )
    return out


def job_notes(p: JobProgress) -> list[str]:
    return [f"✅ `{p.result['folder']}`"] if p.result.get("folder") else []


def plan_markdown(result: dict[str, Any]) -> str:
    verb = "Would upload" if result["dry_run"] else "Uploaded"
    lines = [
        f"**{verb} {len(result['files'])} files ({result['total_bytes'] / 1e6:.1f} MB)** to "
        f"[{result['repo_id']}]({result['url']}), {'private' if result['private'] else 'public'}; "
        f"token: {result['token']}.",
        "",
        "| File | Bytes |",
        "|---|---|",
    ]
    lines += [f"| `{f['path']}` | {f['bytes']:,} |" for f in result["files"]]
    return "\n".join(lines)


class ExportTab:
    """The Export tab's components (set by build_tab) and its handlers, each guarded on the server."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx, self.settings = ctx, ctx.settings

    def listing(self, p: JobProgress | None = None) -> Updates:
        rows = export.list_exports(self.settings)
        folders = [r["folder"] for r in rows]
        return {
            self.table: table_rows(rows),
            self.folder: gr.Dropdown(choices=folders, value=folders[0] if folders else None),
            self.adapter: gr.Dropdown(choices=adapter_choices(self.settings)),
        }

    @admin_method("export-list")
    def on_refresh(self, session: Any) -> Updates:
        return self.listing()

    @admin_method("export-preview", audit=False)
    def on_preview(self, session: Any, name: str, fmt_name: str, out_dir: str, replace: bool) -> str:
        try:
            target = export.web_out(self.settings, out_dir)
        except InputRejected as exc:
            return f"(not allowed: {exc})"
        return export.command(name or "ADAPTER", fmt_name, target, replace)

    @admin_method("export-start")
    def on_start(self, session: Any, name: str, fmt_name: str, out_dir: str, replace: bool) -> Updates:
        target = export.web_out(self.settings, out_dir)
        job_id = jobs.start(
            self.settings,
            "export",
            {"adapter": name or "", "format": fmt_name, "out": str(target or ""), "overwrite": bool(replace)},
        )
        return self.panel.started(job_id)

    @admin_method("publish-dry-run")
    def on_dry_run(self, session: Any, path: str, repo_id: str, is_private: bool, typed: str) -> str:
        folder_path = export.listed_folder(self.settings, path)
        return plan_markdown(publish(folder_path, repo_id, bool(is_private), typed or None, dry_run=True))

    @admin_method("publish")
    def on_publish(self, session: Any, path: str, repo_id: str, is_private: bool, typed: str):
        """Upload in a worker thread and stream its progress; the token box is cleared afterwards."""
        folder_path = export.listed_folder(self.settings, path)
        updates: queue.Queue = queue.Queue()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = publish(
                    folder_path,
                    repo_id,
                    bool(is_private),
                    typed or None,
                    progress=lambda f, m: updates.put(f"⏳ {f:.0%}: {m}"),
                )
            except Exception as exc:  # noqa: BLE001 - re-raised below, in the handler's thread
                outcome["error"] = exc
            updates.put(None)

        threading.Thread(target=work, daemon=True).start()
        while (message := updates.get()) is not None:
            yield {self.plan: message}
        if "error" in outcome:
            raise outcome["error"]
        yield {self.plan: plan_markdown(outcome["result"]), self.hf_token: ""}


def build_tab(ctx: AppContext) -> ExportTab:
    """Lay out the Export tab and wire its events (every admin handler takes the admin token first)."""
    tab, token = ExportTab(ctx), ctx.admin_token
    gr.Markdown(HELP)
    with gr.Row():
        tab.adapter = gr.Dropdown(
            [], label="Adapter", scale=3, allow_custom_value=True, elem_id="export-adapter"
        )
        tab.fmt = gr.Dropdown(
            [(label, key) for key, label in export.FORMATS.items()],
            value="gguf-q8_0",
            label="Format",
            scale=2,
            elem_id="export-format",
        )
        tab.out = gr.Textbox(
            "", label="Output folder under <home>/exports (blank: <adapter>-<format>)", scale=3
        )
        tab.overwrite = gr.Checkbox(False, label="Overwrite", scale=1)
    gr.Markdown(QUANT_NOTE)
    tab.panel = JobPanel(
        ctx,
        "export",
        [("start", "▶ Export", "primary")],
        notes=job_notes,
        finished=tab.listing,
        idle="No export job is running from this page.",
    )

    gr.Markdown("### Exports")
    refresh = gr.Button("↻ Refresh", size="sm", elem_id="export-refresh")
    tab.table = gr.Dataframe(headers=COLUMNS, label="Verified exports", interactive=False, wrap=True)

    gr.Markdown("### Publish to the Hugging Face Hub")
    with gr.Row():
        tab.folder = gr.Dropdown(
            [], label="Export folder", scale=3, allow_custom_value=True, elem_id="publish-folder"
        )
        repo = gr.Textbox("", label="Repo id", placeholder="my-org/medgemma-270m-lora", scale=2)
        private = gr.Checkbox(True, label="Private", scale=1)
    tab.hf_token = gr.Textbox(
        "",
        type="password",
        label="Hugging Face token (blank: HF_TOKEN of the server; never stored)",
        elem_id="publish-token",
    )
    with gr.Row():
        dry = gr.Button("Dry run: list what would be uploaded", elem_id="publish-dry")
        upload = gr.Button("⬆ Publish", variant="primary", elem_id="publish-go")
    tab.plan = gr.Markdown("", elem_id="publish-plan")

    listed = [tab.table, tab.folder, tab.adapter]
    outputs = tab.panel.wire(listed)
    choice_inputs = [token, tab.adapter, tab.fmt, tab.out, tab.overwrite]
    gr.on(
        [tab.adapter.change, tab.fmt.change, tab.out.change, tab.overwrite.change],
        tab.on_preview,
        choice_inputs,
        tab.panel.command,
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
    tab.panel.buttons["start"].click(
        tab.on_start, choice_inputs, outputs, api_name="export_start", concurrency_limit=1
    )
    refresh.click(tab.on_refresh, [token], listed, api_name="export_list")
    publish_inputs = [token, tab.folder, repo, private, tab.hf_token]
    dry.click(tab.on_dry_run, publish_inputs, [tab.plan], api_name="publish_dry_run")
    upload.click(
        tab.on_publish, publish_inputs, [tab.plan, tab.hf_token], api_name="publish", concurrency_limit=1
    )

    def on_login(tok: str | None):  # fill the lists when an admin logs in
        return tab.on_refresh(tok) if tok else tuple(gr.skip() for _ in listed)

    token.change(on_login, [token], listed, api_visibility="private")
    return tab
