"""evaluation.py is the admin Evaluation tab: start an evaluation run as a background job (the shared job
panel: progress, log tail, cancel, the equivalent command) and a dashboard of saved runs (metric bars,
comparisons, worst examples with filters, safety heatmap, latency, CSV/JSON export).

All logic lives in medgemma.evaluation and medgemma.jobs; figures in admin/evaluation_plots.py.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from admin import evaluation_plots as plots
from admin.common import AppContext, admin_method
from admin.job_panel import JobPanel, Updates
from medgemma import jobs
from medgemma.evaluation import dashboard as eval_report
from medgemma.evaluation.runs import export_run
from medgemma.evaluation.suites import SUITES
from medgemma.jobs import JobProgress
from medgemma.models.adapters import adapter_choices
from medgemma.models.presets import PRESETS

ALL = "(all suites)"
HELP = (
    "Measure the assistant with numbers: pick a suite, a model and adapter, and whether the model "
    "gets passages from the knowledge base (question-only retrieval). Runs continue in the "
    "background; each is also a CLI command. CPUs are slow: start with a limit of 10–40 examples."
)


def job_notes(p: JobProgress) -> list[str]:
    mean = p.metrics.get("score_mean")
    return [f"running mean {p.metrics.get('primary') or 'score'}: **{mean:.3f}**"] if mean is not None else []


def _downloadable(path: Path) -> str:
    """A copy of an export in the temp folder, which Gradio may serve (the data home is not served)."""
    folder = Path(tempfile.gettempdir()) / "medgemma-eval-exports"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.parent.name}-{path.name}"
    shutil.copyfile(path, target)
    return str(target)


class EvaluationTab:
    """The Evaluation tab's components (set by build_tab) and its handlers, each guarded on the server."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx, self.settings = ctx, ctx.settings

    def adapters(self) -> list[tuple[str, str]]:
        return adapter_choices(self.settings, active=eval_report.ACTIVE_ADAPTER, base=True)

    def run_list(self, selected: list[str] | None) -> Updates:
        choices = eval_report.run_choices(self.settings)
        keep = [r for r in selected or [] if r in {c[1] for c in choices}]
        # custom values allowed: the handlers check run ids themselves (choices differ per session)
        return {
            self.runs: gr.Dropdown(choices=choices, value=keep, allow_custom_value=True),
            self.table: eval_report.runs_table(self.settings),
            self.adapter: gr.Dropdown(choices=self.adapters()),
        }

    def finished(self, p: JobProgress, selected: list[str] | None = None) -> Updates:
        return self.run_list(selected)  # the finished run joins the dashboard's list

    @admin_method("eval-safety-train")
    def on_safety_train(self, session: Any) -> Updates:
        """Retrain the guard's classifier (`python -m medgemma safety train`) into the data home."""
        return self.panel.started(jobs.start(self.settings, "safety", {}))

    @admin_method("eval-start")
    def on_start(
        self, session: Any, suite_name: str, model_name: str, adapter_path: str, rag_on: str, n: float | None
    ) -> Updates:
        adapter = None if adapter_path == eval_report.ACTIVE_ADAPTER else adapter_path
        job_id = jobs.start(
            self.settings,
            "eval",
            {
                "suite": suite_name,
                "model": model_name or "",
                "adapter": adapter,
                "rag": rag_on == "on",
                "limit": int(n) if n else None,
            },
        )
        return self.panel.started(job_id)

    @admin_method("eval-list")
    def on_refresh(self, session: Any, selected: list[str] | None) -> Updates:
        return self.run_list(selected)

    @admin_method("eval-view")
    def on_show(self, session: Any, run_ids: list[str] | None) -> Updates:
        d = eval_report.dashboard(self.settings, run_ids or [])
        return {
            self.bars: plots.metric_bars(d["metrics"]),
            self.note: d["note"],
            self.paired: d["paired"],
            self.heat: plots.confusion_heatmap(d["confusion"]),
            self.latency: plots.latency_boxes(d["latency"]),
            self.ex_suite: gr.Dropdown(choices=[ALL, *d["suites"]], value=ALL),
            self.ex_metric: gr.Dropdown(choices=d["example_metrics"], value="score"),
            self.examples: eval_report.examples_frame(self.settings, run_ids or []),
        }

    @admin_method("eval-examples")
    def on_examples(
        self,
        session: Any,
        run_ids: list[str] | None,
        suite_name: str,
        metric: str,
        max_value: float | None,
        query: str,
    ) -> Any:
        return eval_report.examples_frame(
            self.settings,
            run_ids or [],
            "" if suite_name == ALL else suite_name,
            metric or "score",
            max_value,
            query or "",
        )

    @admin_method("eval-export")
    def on_export(self, session: Any, run_ids: list[str] | None, fmt_name: str) -> gr.DownloadButton:
        if not run_ids:
            raise gr.Error("Pick a run to export first.")
        path = _downloadable(export_run(self.settings, run_ids[0], fmt_name))
        return gr.DownloadButton(f"⬇ {Path(path).name}", value=path, visible=True)


def _dashboard_views(tab: EvaluationTab) -> None:
    """The dashboard's sub-tabs: metrics, examples, safety, latency, all runs, export."""
    with gr.Tabs():
        with gr.Tab("Metrics"):
            tab.bars = gr.Plot(label="Metrics")
            tab.note = gr.Markdown("")
            tab.paired = gr.Dataframe(label="Per-example comparison with the first run", interactive=False)
        with gr.Tab("Examples"):
            with gr.Row():
                tab.ex_suite = gr.Dropdown([ALL], value=ALL, label="Suite")
                tab.ex_metric = gr.Dropdown(["score"], value="score", label="Metric (worst first)")
                tab.ex_max = gr.Number(None, label="Only metric ≤ (blank: all)")
                tab.ex_query = gr.Textbox("", label="Search question / answer / reference")
            tab.ex_apply = gr.Button("Filter", size="sm")
            tab.examples = gr.Dataframe(
                label="Examples, worst first", wrap=True, max_height=600, interactive=False
            )
        with gr.Tab("Safety"):
            tab.heat = gr.Plot(label="Safety confusion matrix")
        with gr.Tab("Latency"):
            tab.latency = gr.Plot(label="Latency")
        with gr.Tab("All runs"):
            tab.table = gr.Dataframe(label="Evaluation runs", interactive=False)
        with gr.Tab("Export"):
            tab.fmt = gr.Radio(["csv", "json"], value="csv", label="Format (exports the first selected run)")
            tab.prepare = gr.Button("Prepare export", elem_id="eval-export")
            tab.download = gr.DownloadButton("⬇ Download", visible=False)


def build_tab(ctx: AppContext) -> EvaluationTab:
    """Lay out the Evaluation tab and wire its events (every admin handler takes the admin token first)."""
    tab, token = EvaluationTab(ctx), ctx.admin_token
    gr.Markdown(HELP)
    with gr.Row():
        suite = gr.Dropdown(
            [(f"{s.name} — {s.description}", s.name) for s in SUITES.values()],
            value="mirage-medqa",
            label="Suite",
            scale=3,
        )
        model = gr.Dropdown(
            sorted({ctx.settings.model, *PRESETS}),
            value=ctx.settings.model,
            label="Model",
            allow_custom_value=True,
            scale=2,
        )
        tab.adapter = gr.Dropdown(tab.adapters(), value=eval_report.ACTIVE_ADAPTER, label="Adapter", scale=2)
        rag = gr.Radio(["on", "off"], value="on", label="RAG", info="question-only retrieval", scale=1)
        limit = gr.Number(20, precision=0, minimum=1, label="Examples (limit)", scale=1)
    tab.panel = JobPanel(
        ctx,
        "eval",
        [("start", "▶ Start evaluation", "primary"), ("safety", "↻ Retrain safety classifier", "secondary")],
        notes=job_notes,
        finished=tab.finished,
        idle="No evaluation job is running from this page.",
    )

    gr.Markdown("### Dashboard")
    with gr.Row():
        tab.runs = gr.Dropdown(
            [],
            multiselect=True,
            scale=6,
            elem_id="eval-runs",
            allow_custom_value=True,
            label="Runs: one to inspect, two or more to compare (the first is the baseline)",
        )
        refresh = gr.Button("↻ Refresh runs", scale=1, elem_id="eval-refresh")
    _dashboard_views(tab)

    listed = [tab.runs, tab.table, tab.adapter]
    outputs = tab.panel.wire(listed, poll_inputs=[tab.runs])
    tab.panel.buttons["start"].click(
        tab.on_start,
        [token, suite, model, tab.adapter, rag, limit],
        outputs,
        api_name="eval_start",
        concurrency_limit=1,
    )
    tab.panel.buttons["safety"].click(
        tab.on_safety_train, [token], outputs, api_name="eval_safety_train", concurrency_limit=1
    )
    refresh.click(tab.on_refresh, [token, tab.runs], listed, api_name="eval_runs")
    shown = [tab.bars, tab.note, tab.paired, tab.heat, tab.latency, tab.ex_suite, tab.ex_metric, tab.examples]
    tab.runs.change(tab.on_show, [token, tab.runs], shown, api_name="eval_dashboard")
    filters = dict(
        fn=tab.on_examples,
        inputs=[token, tab.runs, tab.ex_suite, tab.ex_metric, tab.ex_max, tab.ex_query],
        outputs=[tab.examples],
    )
    tab.ex_apply.click(**filters, api_name="eval_examples")
    tab.ex_query.submit(**filters, api_visibility="undocumented")
    tab.prepare.click(tab.on_export, [token, tab.runs, tab.fmt], [tab.download], api_name="eval_export")

    def on_login(tok: str | None):  # refresh the run list when an admin logs in (nothing when logged out)
        return tab.on_refresh(tok, []) if tok else tuple(gr.skip() for _ in listed)

    token.change(on_login, [token], listed, api_visibility="private")
    return tab
