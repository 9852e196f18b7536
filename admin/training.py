"""training.py is the admin Training tab: datasets (upload with column mapping and preview, built-in sources),
LoRA hyper-parameters, training as a background job (the shared job panel: progress and ETA, log, cancel,
the equivalent command; plus resume and a live loss/learning-rate chart), the runs list and the adapter
registry (activate in the chat).

All logic lives in medgemma.training (and jobs, adapters); figures in admin/training_plots.py.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import yaml

from admin import training_plots as plots
from admin.common import AppContext, admin_method
from admin.job_panel import JobPanel, Updates
from admin.training_plots import job_notes, preview_text
from medgemma import jobs
from medgemma.jobs import JobProgress
from medgemma.models import adapters
from medgemma.models.adapters import adapter_choices
from medgemma.models.presets import PRESETS
from medgemma.training import dashboard as train_dashboard
from medgemma.training.config import LONG_POLICIES, PRECISIONS, QUANTIZATIONS, SCHEDULERS
from medgemma.training.datasets import FILE_TYPES

HELP = (
    "Fine-tune a LoRA adapter without a terminal: upload a JSON, JSONL or CSV file (question/answer, "
    "instruction/input/output or chat `messages` columns) and/or pick built-in sources, set the "
    "hyper-parameters and start. Training runs in the background as a CLI command (shown below), so it "
    "survives a page reload; a finished adapter can be made active in the chat in one click. On a CPU a "
    "step of the 270M model takes several seconds: start with a few dozen steps."
)
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "all-linear"]
NONE = [("(none)", "")]
PICKERS = ("col_prompt", "col_extra", "col_answer", "col_messages")  # the order of pickers_from_roles
# The hyper-parameter fields, row by row: (form key, widget kind, label, options); see `field`.
HYPER_ROWS: list[list[tuple[str, str, str, dict[str, Any]]]] = [
    [
        ("name", "text", "Run name (optional)", {}),
        (
            "model",
            "choice",
            "Base model",
            {"allow_custom_value": True, "info": "preset, local folder or Hub id"},
        ),
        ("lora_r", "int", "LoRA rank r", {}),
        ("lora_alpha", "int", "LoRA alpha", {}),
        ("lora_dropout", "number", "LoRA dropout", {}),
        ("target_modules", "multi", "Target modules", {"choices": MODULES, "allow_custom_value": True}),
    ],
    [
        ("learning_rate", "number", "Learning rate", {}),
        ("epochs", "number", "Epochs (when max steps is 0)", {}),
        ("max_steps", "int", "Max steps (0 = epochs)", {}),
        ("batch_size", "int", "Batch size", {}),
        ("grad_accum", "int", "Gradient accumulation", {}),
        ("max_length", "int", "Max length (tokens)", {}),
    ],
    [
        ("warmup_ratio", "number", "Warm-up (share of steps)", {}),
        ("scheduler", "choice", "LR schedule", {"choices": list(SCHEDULERS)}),
        ("seed", "int", "Seed", {}),
        ("eval_split", "number", "Eval split (0–0.5)", {}),
        ("logging_steps", "int", "Log every N steps", {}),
        ("save_steps", "int", "Checkpoint every N steps", {}),
    ],
    [
        (
            "precision",
            "choice",
            "Precision",
            {"choices": list(PRECISIONS), "info": "auto: bf16/fp16 on CUDA, fp32 on CPU"},
        ),
        ("quantization", "choice", "Quantization (QLoRA)", {"choices": list(QUANTIZATIONS)}),
        ("gradient_checkpointing", "check", "Gradient checkpointing", {}),
        ("long_examples", "choice", "Over-long examples", {"choices": list(LONG_POLICIES)}),
        ("skip_invalid_rows", "check", "Skip unusable rows", {}),
        ("max_examples", "int", "Max examples (0 = all)", {}),
    ],
]
IDLE = "No training run is watched on this page: pick one in the runs list."


def field(kind: str, value: Any, label: str, **options: Any) -> gr.components.Component:
    """One form widget: text, int, number, check, choice (dropdown) or multi (multi-select dropdown)."""
    if kind == "text":
        return gr.Textbox(value, label=label, **options)
    if kind in ("int", "number"):
        return gr.Number(value, label=label, **({"precision": 0} if kind == "int" else {}), **options)
    if kind == "check":
        return gr.Checkbox(value, label=label, **options)
    return gr.Dropdown(value=value, label=label, multiselect=kind == "multi", **options)


class TrainingTab:
    """The Training tab's components (set by build_tab) and its handlers, each guarded on the server."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx, self.settings = ctx, ctx.settings
        self.form0 = train_dashboard.default_form(ctx.settings)
        self.fields: dict[str, gr.components.Component] = {}

    @property
    def form(self) -> dict[str, Any]:
        """The form's starting values, in the order of the fields (the order Start sends them)."""
        return {k: self.form0[k] for k in self.fields}

    def registry(self) -> Updates:
        return {
            self.adapters_table: train_dashboard.adapters_table(self.settings),
            self.adapter: gr.Dropdown(choices=adapter_choices(self.settings, by_name=True)),
            self.active_note: train_dashboard.active_adapter_line(self.settings),
        }

    def run_list(self, selected: str | None = None) -> Updates:
        choices = train_dashboard.run_choices(self.settings)
        value = selected if selected in {c[1] for c in choices} else None
        return {
            self.runs: gr.Dropdown(choices=choices, value=value),
            self.runs_table: train_dashboard.runs_table(self.settings),
        }

    def view(self, p: JobProgress) -> Updates:
        return {self.chart: plots.curve_figure(p.metrics.get("curve", []), p.job_id)}

    def finished(self, p: JobProgress) -> Updates:
        return {**self.run_list(p.job_id), **self.registry()}

    def watch(self, job_id: str, poll: bool | None = None, listed: bool = True) -> Updates:
        p = jobs.progress(self.settings, job_id)
        out = {**self.panel.show(p, poll), self.config: yaml.safe_dump(p.config, sort_keys=False)}
        return {**out, **self.run_list(job_id)} if listed else out

    def show_preview(self, file: str | None, f: dict, mapping: dict | None) -> Updates:
        if not file:
            raise gr.Error("Upload a JSON, JSONL or CSV file first.")
        p = train_dashboard.store_and_preview(self.settings, file, mapping, f["model"], f["max_length"])
        cols = NONE + [(c, c) for c in p["all_columns"]]
        pickers = {
            self.fields[k]: gr.Dropdown(choices=cols, value=v)
            for k, v in zip(PICKERS, train_dashboard.pickers_from_roles(p["columns"]), strict=True)
        }
        return {
            self.stored: p["stored"],
            self.preview_note: preview_text(p),
            self.sample: [[r["question"], r["answer"]] for r in p["sample"]],
            **pickers,
        }

    @admin_method("train-upload")
    def on_upload(self, session: Any, file: str | None, f: dict) -> Updates:
        """A new file: detect its columns and train on it alone (the built-in sources are cleared)."""
        out = self.show_preview(file, f, None)
        if f.get("sources"):
            out[self.preview_note] += (
                "\n\nThe built-in sources were cleared so the run trains on this file; "
                "add them back above to mix."
            )
        return {**out, self.fields["sources"]: gr.Dropdown(value=[])}

    @admin_method("train-preview")
    def on_preview(self, session: Any, file: str | None, f: dict) -> Updates:  # the pickers' mapping
        mapping = train_dashboard.column_mapping(
            f["col_prompt"], f["col_answer"], f["col_extra"], f["col_messages"]
        )
        return self.show_preview(file, f, mapping)

    @admin_method("train-start")
    def on_start(self, session: Any, stored_path: str, upload_file: str | None, *values: Any) -> Updates:
        """What Start sends: the fields as they are on screen (the form State can lag behind when Start
        follows an edit at once) and the file in the upload box (its upload handler may still run)."""
        f = dict(zip(self.fields, values, strict=True))
        args = train_dashboard.start_args(self.settings, f, stored_path or "", pending=upload_file or "")
        return self.watch(jobs.start(self.settings, "train", args), poll=True)

    @admin_method("train-resume")
    def on_resume(self, session: Any, run_id: str) -> Updates:
        if not run_id:
            raise gr.Error(IDLE)
        return self.watch(jobs.start(self.settings, "train", {"resume": run_id}), poll=True)

    @admin_method("train-runs")
    def on_refresh(self, session: Any, selected: str | None) -> Updates:
        return {**self.run_list(selected), **self.registry()}

    @admin_method("train-watch")
    def on_watch(self, session: Any, run_id: str | None) -> Updates:
        if not run_id:
            p = self.panel
            return {
                p.watched: "",
                p.status: "",
                p.command: "",
                self.chart: plots.empty("Pick a run."),
                p.log: "",
                self.config: "",
                p.timer: gr.Timer(active=False),
            }
        return self.watch(run_id, listed=False)

    @admin_method("adapter-activate")
    def on_activate(self, session: Any, name: str | None) -> Updates:
        if not name:
            raise gr.Error("Pick a finished adapter (or a finished run) first.")
        adapters.activate(self.settings, name)
        return self.registry()

    @admin_method("adapter-deactivate")
    def on_base(self, session: Any) -> Updates:
        adapters.deactivate(self.settings)
        return self.registry()

    @admin_method("train-form", audit=False)
    def on_form(
        self, session: Any, *values: Any
    ) -> dict[str, Any]:  # the form's fields, kept in one gr.State
        return dict(zip(self.fields, values, strict=True))

    @admin_method("train-clear", audit=False)
    def on_clear(self, session: Any) -> Updates:  # the file was removed from the upload box: train without it
        return {self.stored: "", self.preview_note: ""}


def data_section(tab: TrainingTab) -> gr.File:
    """Step 1: the upload box (returned), built-in sources, the column pickers and the preview."""
    fields, form0 = tab.fields, tab.form0
    with gr.Row():
        with gr.Column(scale=2):
            upload = gr.File(
                label="Dataset file (JSON, JSONL or CSV)", file_types=list(FILE_TYPES), elem_id="train-upload"
            )
            fields["use_upload"] = gr.Checkbox(form0["use_upload"], label="Train on the uploaded file")
        with gr.Column(scale=3):
            fields["sources"] = gr.Dropdown(
                [(label, name) for name, label in train_dashboard.SOURCE_LABELS.items()],
                value=form0["sources"],
                multiselect=True,
                label="Built-in sources",
                elem_id="train-sources",
            )
            fields["per_source"] = gr.Number(
                form0["per_source"], precision=0, minimum=0, label="Examples per built-in source (0 = all)"
            )
    with gr.Row():
        for key, label in zip(
            PICKERS,
            (
                "Question / instruction column",
                "Input column (optional)",
                "Answer / output column",
                "Chat messages column (instead)",
            ),
            strict=True,
        ):
            fields[key] = gr.Dropdown(NONE, value="", label=label, allow_custom_value=True)
        tab.preview = gr.Button("Preview with this mapping", elem_id="train-preview")
    tab.preview_note = gr.Markdown("", elem_id="train-preview-note")
    tab.sample = gr.Dataframe(
        headers=["question", "answer"], label="First usable rows", wrap=True, interactive=False
    )
    return upload


def registry_section(tab: TrainingTab) -> tuple[gr.Button, gr.Button]:
    """The runs list and the adapter registry; returns the Activate and Back-to-base buttons."""
    gr.Markdown("### Runs")
    with gr.Row():
        tab.runs = gr.Dropdown(
            [], label="Run (pick one to watch)", scale=5, allow_custom_value=True, elem_id="train-runs"
        )
        tab.refresh = gr.Button("↻ Refresh", scale=1, elem_id="train-refresh")
    tab.runs_table = gr.Dataframe(
        headers=train_dashboard.RUN_COLUMNS, label="Training runs", interactive=False, wrap=True
    )
    with gr.Accordion("Config of the watched run", open=False):
        tab.config = gr.Code("", language="yaml", interactive=False)
    gr.Markdown("### Adapters")
    tab.active_note = gr.Markdown("", elem_id="train-active")
    tab.adapters_table = gr.Dataframe(
        headers=train_dashboard.ADAPTER_COLUMNS, label="Finished adapters", interactive=False, wrap=True
    )
    with gr.Row():
        tab.adapter = gr.Dropdown(
            [], label="Adapter", scale=4, allow_custom_value=True, elem_id="train-adapter"
        )
        activate = gr.Button("Activate in the chat", variant="primary", scale=1, elem_id="train-activate")
        base = gr.Button("Back to the base model", scale=1, elem_id="train-base")
    return activate, base


def build_tab(ctx: AppContext) -> TrainingTab:
    """Lay out the Training tab and wire its events (every admin handler takes the admin token first)."""
    tab, token = TrainingTab(ctx), ctx.admin_token
    gr.Markdown(HELP)
    tab.stored = gr.State("")  # the uploaded dataset, copied under the data home
    gr.Markdown("### 1 · Data")
    upload = data_section(tab)
    gr.Markdown("### 2 · Hyper-parameters")
    for row in HYPER_ROWS:
        with gr.Row():
            for key, kind, label, options in row:
                extra = {"choices": sorted({ctx.settings.model, *PRESETS})} if key == "model" else {}
                tab.fields[key] = field(kind, tab.form0[key], label, **options, **extra)
    inputs = list(tab.fields.values())
    form = gr.State(tab.form)

    gr.Markdown("### 3 · Run")
    tab.panel = JobPanel(
        ctx,
        "train",
        [
            ("start", "▶ Start training", "primary"),
            ("resume", "⟳ Resume from last checkpoint", "secondary"),
            ("use-run", "Use this adapter in the chat", "secondary"),
        ],
        notes=job_notes,
        view=tab.view,
        finished=tab.finished,
        idle=IDLE,
        log_lines=8,
    )
    tab.chart = gr.Plot(label="Loss and learning rate")
    activate, base = registry_section(tab)

    registry = [tab.adapters_table, tab.adapter, tab.active_note]
    outputs = tab.panel.wire([tab.chart, tab.runs, tab.runs_table, tab.config, *registry])
    gr.on(
        [c.change for c in inputs], tab.on_form, [token, *inputs], form, api_visibility="private", queue=False
    )
    previewed = [tab.stored, tab.preview_note, tab.sample, *(tab.fields[k] for k in PICKERS)]
    upload.upload(
        tab.on_upload, [token, upload, form], [*previewed, tab.fields["sources"]], api_name="train_upload"
    )
    upload.clear(tab.on_clear, [token], [tab.stored, tab.preview_note], api_visibility="private", queue=False)
    tab.preview.click(tab.on_preview, [token, upload, form], previewed, api_name="train_preview")
    buttons, watched = tab.panel.buttons, tab.panel.watched
    buttons["start"].click(
        tab.on_start,
        [token, tab.stored, upload, *inputs],
        outputs,
        api_name="train_start",
        concurrency_limit=1,
    )
    buttons["resume"].click(tab.on_resume, [token, watched], outputs, api_name="train_resume")
    listed = [tab.runs, tab.runs_table, *registry]
    tab.refresh.click(tab.on_refresh, [token, tab.runs], listed, api_name="train_runs")
    tab.runs.input(tab.on_watch, [token, tab.runs], outputs, api_name="train_watch")
    buttons["use-run"].click(tab.on_activate, [token, watched], registry, api_visibility="undocumented")
    activate.click(tab.on_activate, [token, tab.adapter], registry, api_name="adapter_activate")
    base.click(tab.on_base, [token], registry, api_name="adapter_deactivate")

    def on_login(tok: str | None):  # list runs and adapters when an admin logs in (nothing when logged out)
        return tab.on_refresh(tok, None) if tok else tuple(gr.skip() for _ in listed)

    token.change(on_login, [token], listed, api_visibility="private")
    return tab
