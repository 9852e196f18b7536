"""export.py is the admin Export tab: export an adapter to a deployable format as a background job
(progress, log tail, cancel, the equivalent command), list verified exports, and publish one to the
Hugging Face Hub (dry run first). All logic lives in medgemma.export and medgemma.publish.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import gradio as gr

from admin.common import AppContext, admin_only
from medgemma.errors import InputRejected
from medgemma.export import exporter as export
from medgemma.export.publish import publish

HELP = ("Export a trained adapter so it runs elsewhere: llama.cpp (GGUF) on a laptop, ONNX Runtime, a merged "
        "checkpoint for vLLM/TGI, or the PEFT adapter itself. Every export is verified against the PyTorch "
        "model before it appears here; a failed export leaves nothing behind. Verified GGUF and merged exports "
        "appear as models in the Chat tab's settings (GGUF runs in llama.cpp); a GGUF LoRA export is also "
        "copied next to its adapter.")
QUANT_NOTE = ("⚠️ **Quantization:** q4_k_m of a fine-tuned 270M model can lose what it learned while q8_0 "
              "keeps it. Evaluate the exported file (`python -m medgemma eval artifact ...`) before you ship it.")
COLUMNS = ["created", "format", "adapter", "size MB", "export s", "verified", "token agreement", "folder"]


def _adapter_choices(ctx: AppContext) -> list[tuple[str, str]]:
    from medgemma.models.adapters import list_adapters

    return [(a.name, str(a.path)) for a in list_adapters(ctx.settings)]


def _table(rows: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in rows:
        agreement = min((c.get("agreement", 0.0) for c in r["checks"]), default=None)
        out.append([r["created"][:19], r["format"], r["adapter"], round(r["size_bytes"] / 1e6, 1), r["seconds"],
                    "yes" if r["verified"] else "no", agreement, r["folder"]])
    return out


def _status(p: dict[str, Any]) -> str:
    filled = int(p["fraction"] * 20)
    line = f"**{p['run_id']}**: {p['state']}  \n`[{'#' * filled}{'.' * (20 - filled)}] {p['fraction']:.0%}` {p['message']}"
    if p["error"]:
        line += f"  \n⚠️ {p['error']}"
    if p["result"].get("folder"):
        line += f"  \n✅ `{p['result']['folder']}`"
    return line


def _plan_markdown(result: dict[str, Any]) -> str:
    verb = "Would upload" if result["dry_run"] else "Uploaded"
    lines = [f"**{verb} {len(result['files'])} files ({result['total_bytes'] / 1e6:.1f} MB)** to "
             f"[{result['repo_id']}]({result['url']}), {'private' if result['private'] else 'public'}; "
             f"token: {result['token']}.", "", "| File | Bytes |", "|---|---|"]
    lines += [f"| `{f['path']}` | {f['bytes']:,} |" for f in result["files"]]
    return "\n".join(lines)


def build_tab(ctx: AppContext) -> None:
    settings, token = ctx.settings, ctx.admin_token
    gr.Markdown(HELP)
    watched = gr.State("")  # the export job this browser started
    with gr.Row():
        adapter = gr.Dropdown([], label="Adapter", scale=3, allow_custom_value=True, elem_id="export-adapter")
        fmt = gr.Dropdown([(label, key) for key, label in export.FORMATS.items()], value="gguf-q8_0",
                          label="Format", scale=2, elem_id="export-format")
        out = gr.Textbox("", label="Output folder under <home>/exports (blank: <adapter>-<format>)", scale=3)
        overwrite = gr.Checkbox(False, label="Overwrite", scale=1)
    gr.Markdown(QUANT_NOTE)
    with gr.Row():
        start = gr.Button("▶ Export", variant="primary", elem_id="export-start")
        cancel = gr.Button("■ Cancel", variant="stop", elem_id="export-cancel")
    status = gr.Markdown("", elem_id="export-status")
    command = gr.Textbox("", label="Equivalent command", interactive=False, buttons=["copy"], elem_id="export-command")
    log = gr.Textbox("", label="Log (tail)", lines=6, max_lines=12, autoscroll=True, interactive=False)
    timer = gr.Timer(2.0, active=False)

    gr.Markdown("### Exports")
    refresh = gr.Button("↻ Refresh", size="sm", elem_id="export-refresh")
    table = gr.Dataframe(headers=COLUMNS, label="Verified exports", interactive=False, wrap=True)

    gr.Markdown("### Publish to the Hugging Face Hub")
    with gr.Row():
        folder = gr.Dropdown([], label="Export folder", scale=3, allow_custom_value=True, elem_id="publish-folder")
        repo = gr.Textbox("", label="Repo id", placeholder="my-org/medgemma-270m-lora", scale=2)
        private = gr.Checkbox(True, label="Private", scale=1)
    hf_token = gr.Textbox("", type="password", label="Hugging Face token (blank: HF_TOKEN of the server; "
                                                     "never stored)", elem_id="publish-token")
    with gr.Row():
        dry = gr.Button("Dry run: list what would be uploaded", elem_id="publish-dry")
        upload = gr.Button("⬆ Publish", variant="primary", elem_id="publish-go")
    plan = gr.Markdown("", elem_id="publish-plan")

    # ---- handlers: thin; each calls one medgemma function -------------------------------------
    def listing() -> tuple[Any, Any, Any]:
        rows = export.list_exports(settings)
        folders = [r["folder"] for r in rows]
        return (_table(rows), gr.Dropdown(choices=folders, value=folders[0] if folders else None),
                gr.Dropdown(choices=_adapter_choices(ctx)))

    @admin_only(ctx, "export-list")
    def on_refresh(session):
        return listing()

    @admin_only(ctx, "export-preview", audit=False)
    def on_preview(session, name: str, fmt_name: str, out_dir: str, replace: bool):
        try:
            target = export.web_out(settings, out_dir)
        except InputRejected as exc:
            return f"(not allowed: {exc})"
        return export.command(name or "ADAPTER", fmt_name, target, replace)

    @admin_only(ctx, "export-start")
    def on_start(session, name: str, fmt_name: str, out_dir: str, replace: bool):
        info = export.start(settings, name or "", fmt_name, export.web_out(settings, out_dir), bool(replace))
        return info.run_id, f"**{info.run_id}**: {info.state}", info.command, "", gr.Timer(active=True)

    @admin_only(ctx, "export-poll", audit=False)
    def on_poll(session, run_id: str):
        if not run_id:
            return gr.skip(), gr.skip(), gr.Timer(active=False), gr.skip(), gr.skip(), gr.skip()
        p = export.job_progress(settings, run_id)
        if p["active"]:
            return _status(p), p["log"], gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return _status(p), p["log"], gr.Timer(active=False), *listing()

    @admin_only(ctx, "export-cancel")
    def on_cancel(session, run_id: str):
        if not run_id:
            raise gr.Error("No export job is running from this page.")
        p = export.cancel_job(settings, run_id)
        return _status(p), p["log"], gr.Timer(active=False)

    @admin_only(ctx, "publish-dry-run")
    def on_dry_run(session, path: str, repo_id: str, is_private: bool, typed: str):
        folder_path = export.listed_folder(settings, path)
        return _plan_markdown(publish(folder_path, repo_id, bool(is_private), typed or None, dry_run=True))

    @admin_only(ctx, "publish")
    def on_publish(session, path: str, repo_id: str, is_private: bool, typed: str):
        """Upload in a worker thread and stream its progress; the token box is cleared afterwards."""
        folder_path = export.listed_folder(settings, path)
        updates: queue.Queue = queue.Queue()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = publish(folder_path, repo_id, bool(is_private), typed or None,
                                            progress=lambda f, m: updates.put(f"⏳ {f:.0%}: {m}"))
            except Exception as exc:  # noqa: BLE001 - re-raised below, in the handler's thread
                outcome["error"] = exc
            updates.put(None)

        threading.Thread(target=work, daemon=True).start()
        while (message := updates.get()) is not None:
            yield message, gr.skip()
        if "error" in outcome:
            raise outcome["error"]
        yield _plan_markdown(outcome["result"]), ""

    # ---- wiring: every admin handler takes the admin token first --------------------------------
    choice_inputs = [token, adapter, fmt, out, overwrite]
    gr.on([adapter.change, fmt.change, out.change, overwrite.change], on_preview, choice_inputs, command,
          api_visibility="private", queue=False, show_progress="hidden")
    start.click(on_start, choice_inputs, [watched, status, command, log, timer], api_name="export_start",
                concurrency_limit=1)
    timer.tick(on_poll, [token, watched], [status, log, timer, table, folder, adapter],
               api_visibility="private", queue=False, show_progress="hidden")
    cancel.click(on_cancel, [token, watched], [status, log, timer], api_name="export_cancel")
    refresh.click(on_refresh, [token], [table, folder, adapter], api_name="export_list")
    publish_inputs = [token, folder, repo, private, hf_token]
    dry.click(on_dry_run, publish_inputs, [plan], api_name="publish_dry_run")
    upload.click(on_publish, publish_inputs, [plan, hf_token], api_name="publish", concurrency_limit=1)

    def on_login(tok: str | None):  # fill the lists when an admin logs in
        return on_refresh(tok) if tok else (gr.skip(), gr.skip(), gr.skip())

    token.change(on_login, [token], [table, folder, adapter], api_visibility="private")
    ctx.extras["export"] = {"on_refresh": on_refresh, "on_preview": on_preview, "on_start": on_start,
                            "on_poll": on_poll, "on_cancel": on_cancel, "on_dry_run": on_dry_run,
                            "on_publish": on_publish}
