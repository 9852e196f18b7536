"""evaluation.py is the admin Evaluation tab: start an evaluation run as a background job (progress,
log tail, cancel, the equivalent command) and a dashboard of saved runs (metric bars, comparisons,
worst examples with filters, safety heatmap, latency, CSV/JSON export).

All logic lives in medgemma.eval_report / medgemma.evaluate; figures in admin/evaluation_plots.py.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from admin import evaluation_plots as plots
from admin.common import AppContext, admin_only
from medgemma.evaluation import dashboard as eval_report
from medgemma.evaluation.runner import export_run
from medgemma.evaluation.suites import SUITES
from medgemma.models.presets import PRESETS

ALL = "(all suites)"
HELP = ("Measure the assistant with numbers: pick a suite, a model and adapter, and whether the model "
        "gets passages from the knowledge base (question-only retrieval). Runs continue in the "
        "background; each is also a CLI command. CPUs are slow: start with a limit of 10–40 examples.")


def _adapter_choices(ctx: AppContext) -> list[tuple[str, str]]:
    choices = [("Active adapter (as the chat serves)", eval_report.ACTIVE_ADAPTER), ("Base model (no adapter)", "")]
    try:
        from medgemma.models.adapters import list_adapters
    except ImportError:
        return choices
    return choices + [(a.name, str(a.path)) for a in list_adapters(ctx.settings)]


def _status(p: dict[str, Any]) -> str:
    line = f"**{p['run_id']}** — {p['state']}  \n`{plots.progress_bar(p['done'], p['total'])}`"
    if p["score_mean"] is not None:
        line += f"  \nrunning mean {p['primary'] or 'score'}: **{p['score_mean']:.3f}**"
    if p["error"]:
        line += f"  \n⚠️ {p['error']}"
    return line


def _downloadable(path: Path) -> str:
    """A copy of an export in the temp folder, which Gradio may serve (the data home is not served)."""
    folder = Path(tempfile.gettempdir()) / "medgemma-eval-exports"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.parent.name}-{path.name}"
    shutil.copyfile(path, target)
    return str(target)


def build_tab(ctx: AppContext) -> None:
    settings, token = ctx.settings, ctx.admin_token
    gr.Markdown(HELP)
    watched = gr.State("")  # the run id of the job this browser started or watches
    with gr.Row():
        suite = gr.Dropdown([(f"{s.name} — {s.description}", s.name) for s in SUITES.values()],
                            value="mirage-medqa", label="Suite", scale=3)
        model = gr.Dropdown(sorted({settings.model, *PRESETS}), value=settings.model, label="Model",
                            allow_custom_value=True, scale=2)
        adapter = gr.Dropdown(_adapter_choices(ctx), value=eval_report.ACTIVE_ADAPTER, label="Adapter", scale=2)
        rag = gr.Radio(["on", "off"], value="on", label="RAG", info="question-only retrieval", scale=1)
        limit = gr.Number(20, precision=0, minimum=1, label="Examples (limit)", scale=1)
    with gr.Row():
        start = gr.Button("▶ Start evaluation", variant="primary", elem_id="eval-start")
        cancel = gr.Button("■ Cancel", variant="stop", elem_id="eval-cancel")
    status = gr.Markdown("", elem_id="eval-status")
    command = gr.Textbox("", label="Equivalent command", interactive=False, buttons=["copy"], elem_id="eval-command")
    log = gr.Textbox("", label="Log (tail)", lines=6, max_lines=12, autoscroll=True, interactive=False)
    timer = gr.Timer(2.0, active=False)

    gr.Markdown("### Dashboard")
    with gr.Row():
        runs = gr.Dropdown([], multiselect=True, scale=6, elem_id="eval-runs", allow_custom_value=True,
                           label="Runs: one to inspect, two or more to compare (the first is the baseline)")
        refresh = gr.Button("↻ Refresh runs", scale=1, elem_id="eval-refresh")
    with gr.Tabs():
        with gr.Tab("Metrics"):
            bars = gr.Plot(label="Metrics")
            note = gr.Markdown("")
            paired = gr.Dataframe(label="Per-example comparison with the first run", interactive=False)
        with gr.Tab("Examples"):
            with gr.Row():
                ex_suite = gr.Dropdown([ALL], value=ALL, label="Suite")
                ex_metric = gr.Dropdown(["score"], value="score", label="Metric (worst first)")
                ex_max = gr.Number(None, label="Only metric ≤ (blank: all)")
                ex_query = gr.Textbox("", label="Search question / answer / reference")
            ex_apply = gr.Button("Filter", size="sm")
            examples = gr.Dataframe(label="Examples, worst first", wrap=True, max_height=600, interactive=False)
        with gr.Tab("Safety"):
            heat = gr.Plot(label="Safety confusion matrix")
        with gr.Tab("Latency"):
            latency = gr.Plot(label="Latency")
        with gr.Tab("All runs"):
            table = gr.Dataframe(label="Evaluation runs", interactive=False)
        with gr.Tab("Export"):
            fmt = gr.Radio(["csv", "json"], value="csv", label="Format (exports the first selected run)")
            prepare = gr.Button("Prepare export", elem_id="eval-export")
            download = gr.DownloadButton("⬇ Download", visible=False)

    # ---- handlers: thin; each calls one medgemma function -------------------------------------
    def run_list(selected: list[str] | None) -> tuple[gr.Dropdown, Any, gr.Dropdown]:
        choices = eval_report.run_choices(settings)
        keep = [r for r in selected or [] if r in {c[1] for c in choices}]
        # custom values allowed: the handlers check run ids themselves (choices differ per session)
        return (gr.Dropdown(choices=choices, value=keep, allow_custom_value=True), eval_report.runs_table(settings),
                gr.Dropdown(choices=_adapter_choices(ctx)))

    @admin_only(ctx, "eval-start")
    def on_start(session, suite_name: str, model_name: str, adapter_path: str, rag_on: str, n: float | None):
        adapter_arg = None if adapter_path == eval_report.ACTIVE_ADAPTER else adapter_path
        info = eval_report.start_eval_job(settings, suite_name, model_name or "", adapter_arg, rag_on == "on",
                                          int(n) if n else None)
        return info.run_id, f"**{info.run_id}** — {info.state}", info.command, "", gr.Timer(active=True)

    @admin_only(ctx, "eval-poll", audit=False)
    def on_poll(session, run_id: str, selected: list[str] | None):
        if not run_id:
            return gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False), gr.skip(), gr.skip(), gr.skip()
        p = eval_report.job_progress(settings, run_id)
        if p["active"]:
            return _status(p), p["command"], p["log"], gr.skip(), gr.skip(), gr.skip(), gr.skip()
        # the last tick: stop polling and list the finished run in the dashboard
        return _status(p), p["command"], p["log"], gr.Timer(active=False), *run_list(selected)

    @admin_only(ctx, "eval-cancel")
    def on_cancel(session, run_id: str):
        if not run_id:
            raise gr.Error("No evaluation job is running from this page.")
        p = eval_report.cancel_eval_job(settings, run_id)
        return _status(p), p["log"], gr.Timer(active=False)

    @admin_only(ctx, "eval-list")
    def on_refresh(session, selected: list[str] | None):
        return run_list(selected)

    @admin_only(ctx, "eval-view")
    def on_show(session, run_ids: list[str] | None):
        d = eval_report.dashboard(settings, run_ids or [])
        frame = eval_report.examples_frame(settings, run_ids or [])
        return (plots.metric_bars(d["metrics"]), d["note"], d["paired"], plots.confusion_heatmap(d["confusion"]),
                plots.latency_boxes(d["latency"]), gr.Dropdown(choices=[ALL, *d["suites"]], value=ALL),
                gr.Dropdown(choices=d["example_metrics"], value="score"), frame)

    @admin_only(ctx, "eval-examples")
    def on_examples(session, run_ids: list[str] | None, suite_name: str, metric: str, max_value: float | None,
                    query: str):
        return eval_report.examples_frame(settings, run_ids or [], "" if suite_name == ALL else suite_name,
                                          metric or "score", max_value, query or "")

    @admin_only(ctx, "eval-export")
    def on_export(session, run_ids: list[str] | None, fmt_name: str):
        if not run_ids:
            raise gr.Error("Pick a run to export first.")
        path = _downloadable(export_run(settings, run_ids[0], fmt_name))
        return gr.DownloadButton(f"⬇ {Path(path).name}", value=path, visible=True)

    # ---- wiring: every admin handler takes the admin token first --------------------------------
    start.click(on_start, [token, suite, model, adapter, rag, limit], [watched, status, command, log, timer],
                api_name="eval_start", concurrency_limit=1)
    timer.tick(on_poll, [token, watched, runs], [status, command, log, timer, runs, table, adapter],
               api_visibility="private", queue=False, show_progress="hidden")
    cancel.click(on_cancel, [token, watched], [status, log, timer], api_name="eval_cancel")
    refresh.click(on_refresh, [token, runs], [runs, table, adapter], api_name="eval_runs")
    runs.change(on_show, [token, runs], [bars, note, paired, heat, latency, ex_suite, ex_metric, examples],
                api_name="eval_dashboard")
    filters = dict(fn=on_examples, inputs=[token, runs, ex_suite, ex_metric, ex_max, ex_query], outputs=[examples])
    ex_apply.click(**filters, api_name="eval_examples")
    ex_query.submit(**filters, api_visibility="undocumented")
    prepare.click(on_export, [token, runs, fmt], [download], api_name="eval_export")

    def on_login(tok: str | None):  # refresh the run list when an admin logs in (nothing when logged out)
        return on_refresh(tok, []) if tok else (gr.skip(), gr.skip(), gr.skip())

    token.change(on_login, [token], [runs, table, adapter], api_visibility="private")
    ctx.extras["evaluation"] = {"on_start": on_start, "on_poll": on_poll, "on_cancel": on_cancel,
                                "on_refresh": on_refresh, "on_show": on_show, "on_examples": on_examples,
                                "on_export": on_export}

