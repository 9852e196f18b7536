"""training.py is the admin Training tab: datasets (upload with column mapping and preview, built-in sources),
LoRA hyper-parameters, training as a background job (live loss/learning-rate chart, progress and ETA, log,
cancel, resume, the equivalent command), the runs list and the adapter registry (activate in the chat).

All logic lives in medgemma.train_report (and train, jobs, adapters); figures in admin/training_plots.py.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import yaml

from admin import training_plots as plots
from admin.common import AppContext, admin_only
from medgemma.models import adapters
from medgemma.models.presets import PRESETS
from medgemma.training import dashboard as train_report
from medgemma.training.config import LONG_POLICIES, PRECISIONS, QUANTIZATIONS, SCHEDULERS

HELP = ("Fine-tune a LoRA adapter without a terminal: upload a JSON, JSONL or CSV file (question/answer, "
        "instruction/input/output or chat `messages` columns) and/or pick built-in sources, set the "
        "hyper-parameters and start. Training runs in the background as a CLI command (shown below), so it "
        "survives a page reload; a finished adapter can be made active in the chat in one click. On a CPU a "
        "step of the 270M model takes several seconds: start with a few dozen steps.")
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "all-linear"]
NONE = [("(none)", "")]


def _preview_text(p: dict[str, Any]) -> str:
    roles = ", ".join(f"{role} → `{col}`" for role, col in p["columns"].items())
    lines = [f"**{p['file']}** — format **{p['format']}** ({roles}); {p['rows']} rows, {p['usable']} usable."]
    if p["problems"]:
        shown = "; ".join(p["problems"][:5]) + (" …" if len(p["problems"]) > 5 else "")
        lines.append(f"⚠️ {len(p['problems'])} unusable row(s): {shown}. Fix them, or tick *Skip unusable rows*.")
    t = p.get("tokens")
    if t and t.get("examples"):
        lines.append(f"Tokens per example (prompt + answer): min {t['min']} · mean {t['mean']} · p50 {t['p50']} · "
                     f"p95 {t['p95']} · max {t['max']}.")
        if t["over_limit"]:
            rows = ", ".join(map(str, t["over_limit_rows"][:10]))
            lines.append(f"⚠️ {t['over_limit']} example(s) are longer than max length {t['max_length']} (rows "
                         f"{rows}): raise *Max length*, or set *Over-long examples* to drop or truncate.")
    elif p.get("tokens_error"):
        lines.append(f"Token lengths unavailable: {p['tokens_error']}")
    return "  \n".join(lines)


def _status(p: dict[str, Any]) -> str:
    head = f"**{p['run_id']}** — {p['state']}"
    if p["max_steps"]:
        head += f"  \n`{plots.progress_bar(p['step'], p['max_steps'])}`"
    facts = []
    if p["loss"] is not None:
        facts.append(f"loss {p['loss']:.4f}")
    if p["s_per_step"]:
        facts.append(f"{p['s_per_step']:.1f} s/step")
    if p["active"] and p["eta_s"] is not None:
        facts.append(f"ETA {plots.duration(p['eta_s'])}")
    if p["state"] == "done" and p["result"].get("wall_s"):
        facts.append(f"finished in {plots.duration(p['result']['wall_s'])}")
    text = head + (f" · {' · '.join(facts)}" if facts else "")
    if p["error"]:
        text += f"  \n⚠️ {p['error']}" + (" — *Resume* continues from the last checkpoint." if p["resumable"] else "")
    if p["state"] == "done":
        text += "  \n✅ The adapter is ready: *Use this adapter in the chat*, or pick it in the registry below."
    return text


def _run_view(p: dict[str, Any]) -> tuple[str, str, Any, str]:
    return _status(p), p["command"], plots.curve_figure(p["curve"], p["run_id"]), p["log"]


def build_tab(ctx: AppContext) -> None:
    settings, token = ctx.settings, ctx.admin_token
    form0 = train_report.default_form(settings)
    gr.Markdown(HELP)
    watched = gr.State("")  # the run this browser session watches
    stored = gr.State("")  # the uploaded dataset, copied under the data home
    fields: dict[str, gr.components.Component] = {}

    gr.Markdown("### 1 · Data")
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(label="Dataset file (JSON, JSONL or CSV)", file_types=[".json", ".jsonl", ".csv"],
                             elem_id="train-upload")
            fields["use_upload"] = gr.Checkbox(form0["use_upload"], label="Train on the uploaded file")
        with gr.Column(scale=3):
            fields["sources"] = gr.Dropdown([(label, name) for name, label in train_report.SOURCE_LABELS.items()],
                                            value=form0["sources"], multiselect=True, label="Built-in sources",
                                            elem_id="train-sources")
            fields["per_source"] = gr.Number(form0["per_source"], precision=0, minimum=0,
                                             label="Examples per built-in source (0 = all)")
    with gr.Row():
        fields["col_prompt"] = gr.Dropdown(NONE, value="", label="Question / instruction column", allow_custom_value=True)
        fields["col_extra"] = gr.Dropdown(NONE, value="", label="Input column (optional)", allow_custom_value=True)
        fields["col_answer"] = gr.Dropdown(NONE, value="", label="Answer / output column", allow_custom_value=True)
        fields["col_messages"] = gr.Dropdown(NONE, value="", label="Chat messages column (instead)",
                                             allow_custom_value=True)
        preview = gr.Button("Preview with this mapping", elem_id="train-preview")
    preview_note = gr.Markdown("", elem_id="train-preview-note")
    sample = gr.Dataframe(headers=["question", "answer"], label="First usable rows", wrap=True, interactive=False)

    gr.Markdown("### 2 · Hyper-parameters")
    with gr.Row():
        fields["name"] = gr.Textbox(form0["name"], label="Run name (optional)")
        fields["model"] = gr.Dropdown(sorted({settings.model, *PRESETS}), value=form0["model"], label="Base model",
                                      allow_custom_value=True, info="preset, local folder or Hub id")
        fields["lora_r"] = gr.Number(form0["lora_r"], precision=0, label="LoRA rank r")
        fields["lora_alpha"] = gr.Number(form0["lora_alpha"], precision=0, label="LoRA alpha")
        fields["lora_dropout"] = gr.Number(form0["lora_dropout"], label="LoRA dropout")
        fields["target_modules"] = gr.Dropdown(MODULES, value=form0["target_modules"], multiselect=True,
                                               allow_custom_value=True, label="Target modules")
    with gr.Row():
        fields["learning_rate"] = gr.Number(form0["learning_rate"], label="Learning rate")
        fields["epochs"] = gr.Number(form0["epochs"], label="Epochs (when max steps is 0)")
        fields["max_steps"] = gr.Number(form0["max_steps"], precision=0, label="Max steps (0 = epochs)")
        fields["batch_size"] = gr.Number(form0["batch_size"], precision=0, label="Batch size")
        fields["grad_accum"] = gr.Number(form0["grad_accum"], precision=0, label="Gradient accumulation")
        fields["max_length"] = gr.Number(form0["max_length"], precision=0, label="Max length (tokens)")
    with gr.Row():
        fields["warmup_ratio"] = gr.Number(form0["warmup_ratio"], label="Warm-up (share of steps)")
        fields["scheduler"] = gr.Dropdown(list(SCHEDULERS), value=form0["scheduler"], label="LR schedule")
        fields["seed"] = gr.Number(form0["seed"], precision=0, label="Seed")
        fields["eval_split"] = gr.Number(form0["eval_split"], label="Eval split (0–0.5)")
        fields["logging_steps"] = gr.Number(form0["logging_steps"], precision=0, label="Log every N steps")
        fields["save_steps"] = gr.Number(form0["save_steps"], precision=0, label="Checkpoint every N steps")
    with gr.Row():
        fields["precision"] = gr.Dropdown(list(PRECISIONS), value=form0["precision"], label="Precision",
                                          info="auto: bf16/fp16 on CUDA, fp32 on CPU")
        fields["quantization"] = gr.Dropdown(list(QUANTIZATIONS), value=form0["quantization"],
                                             label="Quantization (QLoRA)")
        fields["gradient_checkpointing"] = gr.Checkbox(form0["gradient_checkpointing"], label="Gradient checkpointing")
        fields["long_examples"] = gr.Dropdown(list(LONG_POLICIES), value=form0["long_examples"],
                                              label="Over-long examples")
        fields["skip_invalid_rows"] = gr.Checkbox(form0["skip_invalid_rows"], label="Skip unusable rows")
        fields["max_examples"] = gr.Number(form0["max_examples"], precision=0, label="Max examples (0 = all)")
    names, inputs = list(fields), list(fields.values())
    form = gr.State({k: form0[k] for k in names})

    gr.Markdown("### 3 · Run")
    with gr.Row():
        start = gr.Button("▶ Start training", variant="primary", elem_id="train-start")
        cancel = gr.Button("■ Cancel", variant="stop", elem_id="train-cancel")
        resume = gr.Button("⟳ Resume from last checkpoint", elem_id="train-resume")
        use_run = gr.Button("Use this adapter in the chat", elem_id="train-use-run")
    status = gr.Markdown("", elem_id="train-status")
    command = gr.Textbox("", label="Equivalent command", interactive=False, buttons=["copy"], elem_id="train-command")
    chart = gr.Plot(label="Loss and learning rate")
    log = gr.Textbox("", label="Log (tail)", lines=8, max_lines=14, autoscroll=True, interactive=False)
    timer = gr.Timer(2.0, active=False)

    gr.Markdown("### Runs")
    with gr.Row():
        runs = gr.Dropdown([], label="Run (pick one to watch)", scale=5, allow_custom_value=True, elem_id="train-runs")
        refresh = gr.Button("↻ Refresh", scale=1, elem_id="train-refresh")
    runs_table = gr.Dataframe(headers=train_report.RUN_COLUMNS, label="Training runs", interactive=False, wrap=True)
    with gr.Accordion("Config of the watched run", open=False):
        config = gr.Code("", language="yaml", interactive=False)

    gr.Markdown("### Adapters")
    active_note = gr.Markdown("", elem_id="train-active")
    adapters_table = gr.Dataframe(headers=train_report.ADAPTER_COLUMNS, label="Finished adapters",
                                  interactive=False, wrap=True)
    with gr.Row():
        adapter = gr.Dropdown([], label="Adapter", scale=4, allow_custom_value=True, elem_id="train-adapter")
        activate = gr.Button("Activate in the chat", variant="primary", scale=1, elem_id="train-activate")
        base = gr.Button("Back to the base model", scale=1, elem_id="train-base")

    # ---- handlers: thin; each calls one medgemma function -------------------------------------------
    def registry() -> tuple[Any, Any, str]:
        return (train_report.adapters_table(settings), gr.Dropdown(choices=train_report.adapter_choices(settings)),
                train_report.active_adapter_line(settings))

    def run_list(selected: str | None = None) -> tuple[Any, Any]:
        choices = train_report.run_choices(settings)
        value = selected if selected in {c[1] for c in choices} else None
        return gr.Dropdown(choices=choices, value=value), train_report.runs_table(settings)

    def show_preview(file: str | None, f: dict, mapping: dict | None):
        if not file:
            raise gr.Error("Upload a JSON, JSONL or CSV file first.")
        p = train_report.store_and_preview(settings, file, mapping, f["model"], f["max_length"])
        cols = NONE + [(c, c) for c in p["all_columns"]]
        pickers = [gr.Dropdown(choices=cols, value=v) for v in train_report.pickers_from_roles(p["columns"])]
        return p["stored"], _preview_text(p), [[r["question"], r["answer"]] for r in p["sample"]], *pickers

    @admin_only(ctx, "train-upload")
    def on_upload(session, file: str | None, f: dict):  # a new file: detect its columns, train on it alone
        stored_path, note, *rest = show_preview(file, f, None)
        if f.get("sources"):
            note += "\n\nThe built-in sources were cleared so the run trains on this file; add them back above to mix."
        return stored_path, note, *rest, gr.Dropdown(value=[])

    @admin_only(ctx, "train-preview")
    def on_preview(session, file: str | None, f: dict):  # the pickers' mapping
        mapping = train_report.column_mapping(f["col_prompt"], f["col_answer"], f["col_extra"], f["col_messages"])
        return show_preview(file, f, mapping)

    @admin_only(ctx, "train-start")
    def on_start(session, stored_path: str, upload_file: str | None, *values: Any):
        """What the Start button sends: the fields as they are on screen (the form State can lag behind when
        Start follows an edit at once) and the file in the upload box (its upload handler may still run)."""
        f = dict(zip(names, values, strict=True))
        info = train_report.start_run(settings, f, stored_path or "", pending=upload_file or "")
        p = train_report.run_progress(settings, info.run_id)
        return info.run_id, *_run_view(p), gr.Timer(active=True), *run_list(info.run_id), yaml.safe_dump(p["config"])

    @admin_only(ctx, "train-poll", audit=False)
    def on_poll(session, run_id: str):
        if not run_id:
            return *[gr.skip()] * 4, gr.Timer(active=False), *[gr.skip()] * 5
        p = train_report.run_progress(settings, run_id)
        if p["active"]:
            return *_run_view(p), gr.skip(), *[gr.skip()] * 5
        return *_run_view(p), gr.Timer(active=False), *run_list(run_id), *registry()  # the last tick

    @admin_only(ctx, "train-cancel")
    def on_cancel(session, run_id: str):
        if not run_id:
            raise gr.Error("No training run is watched on this page: pick one in the runs list.")
        return *_run_view(train_report.cancel_run(settings, run_id)), gr.Timer(active=False), *run_list(run_id)

    @admin_only(ctx, "train-resume")
    def on_resume(session, run_id: str):
        if not run_id:
            raise gr.Error("No training run is watched on this page: pick one in the runs list.")
        train_report.resume(settings, run_id)
        return *_run_view(train_report.run_progress(settings, run_id)), gr.Timer(active=True), *run_list(run_id)

    @admin_only(ctx, "train-runs")
    def on_refresh(session, selected: str | None):
        return *run_list(selected), *registry()

    @admin_only(ctx, "train-watch")
    def on_watch(session, run_id: str | None):
        if not run_id:
            return "", "", "", plots.empty("Pick a run."), "", "", gr.Timer(active=False)
        p = train_report.run_progress(settings, run_id)
        return run_id, *_run_view(p), yaml.safe_dump(p["config"], sort_keys=False), gr.Timer(active=p["active"])

    @admin_only(ctx, "adapter-activate")
    def on_activate(session, name: str | None):
        if not name:
            raise gr.Error("Pick a finished adapter (or a finished run) first.")
        adapters.activate(settings, name)
        return registry()

    @admin_only(ctx, "adapter-deactivate")
    def on_base(session):
        adapters.deactivate(settings)
        return registry()

    @admin_only(ctx, "train-form", audit=False)
    def on_form(session, *values: Any) -> dict[str, Any]:  # the form's fields, kept in one gr.State
        return dict(zip(names, values, strict=True))

    @admin_only(ctx, "train-clear", audit=False)
    def on_clear(session):  # the file was removed from the upload box: train without it
        return "", ""

    # ---- wiring: every admin handler takes the admin token first ------------------------------------
    gr.on([c.change for c in inputs], on_form, [token, *inputs], form, api_visibility="private", queue=False)
    pickers = [fields[k] for k in ("col_prompt", "col_extra", "col_answer", "col_messages")]
    upload_outputs = [stored, preview_note, sample, *pickers]
    upload.upload(on_upload, [token, upload, form], [*upload_outputs, fields["sources"]], api_name="train_upload")
    upload.clear(on_clear, [token], [stored, preview_note], api_visibility="private", queue=False)
    preview.click(on_preview, [token, upload, form], upload_outputs, api_name="train_preview")
    view = [status, command, chart, log]
    start.click(on_start, [token, stored, upload, *inputs], [watched, *view, timer, runs, runs_table, config],
                api_name="train_start", concurrency_limit=1)
    registry_outputs = [adapters_table, adapter, active_note]
    timer.tick(on_poll, [token, watched], [*view, timer, runs, runs_table, *registry_outputs],
               api_visibility="private", queue=False, show_progress="hidden")
    cancel.click(on_cancel, [token, watched], [*view, timer, runs, runs_table], api_name="train_cancel")
    resume.click(on_resume, [token, watched], [*view, timer, runs, runs_table], api_name="train_resume")
    refresh.click(on_refresh, [token, runs], [runs, runs_table, *registry_outputs], api_name="train_runs")
    runs.input(on_watch, [token, runs], [watched, *view, config, timer], api_name="train_watch")
    use_run.click(on_activate, [token, watched], registry_outputs, api_visibility="undocumented")
    activate.click(on_activate, [token, adapter], registry_outputs, api_name="adapter_activate")
    base.click(on_base, [token], registry_outputs, api_name="adapter_deactivate")

    def on_login(tok: str | None):  # list runs and adapters when an admin logs in (nothing when logged out)
        return on_refresh(tok, None) if tok else tuple(gr.skip() for _ in range(5))

    token.change(on_login, [token], [runs, runs_table, *registry_outputs], api_visibility="private")
    ctx.extras["training"] = {
        "form": {k: form0[k] for k in names}, "on_upload": on_upload, "on_preview": on_preview,
        "on_start": on_start, "on_poll": on_poll, "on_cancel": on_cancel, "on_resume": on_resume,
        "on_refresh": on_refresh, "on_watch": on_watch, "on_activate": on_activate, "on_base": on_base,
        "on_form": on_form, "on_clear": on_clear,
    }
