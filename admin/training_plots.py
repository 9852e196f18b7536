"""training_plots.py draws the Training tab's live chart (loss and learning rate per step) and writes its
text: durations (ETA), the dataset preview and the run's status notes. Pure functions from metric rows and
progress to figures and strings; no Gradio, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from admin.evaluation_plots import empty
from medgemma.jobs import JobProgress

__all__ = ["curve_figure", "duration", "empty"]


def curve_figure(curve: Sequence[dict[str, Any]], title: str = "") -> go.Figure:
    """Training loss (left axis, with eval loss when there is one) and learning rate (right axis)."""
    losses = [c for c in curve if "loss" in c]
    if not losses:
        return empty("The loss appears here after the first logged step.")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=[c["step"] for c in losses],
            y=[c["loss"] for c in losses],
            name="train loss",
            mode="lines+markers" if len(losses) < 60 else "lines",
        ),
        secondary_y=False,
    )
    evals = [c for c in curve if "eval_loss" in c]
    if evals:
        fig.add_trace(
            go.Scatter(
                x=[c["step"] for c in evals],
                y=[c["eval_loss"] for c in evals],
                name="eval loss",
                mode="lines+markers",
            ),
            secondary_y=False,
        )
    rates = [c for c in curve if "lr" in c]
    if rates:
        fig.add_trace(
            go.Scatter(
                x=[c["step"] for c in rates],
                y=[c["lr"] for c in rates],
                name="learning rate",
                mode="lines",
                line={"dash": "dot"},
            ),
            secondary_y=True,
        )
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="loss", secondary_y=False)
    fig.update_yaxes(title_text="learning rate", secondary_y=True, exponentformat="e", rangemode="tozero")
    fig.update_layout(
        height=360,
        title=title or "Loss and learning rate",
        margin={"t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def duration(seconds: float | None) -> str:
    """A short human duration: 45 s, 12 min, 1 h 05 min."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s < 90:
        return f"{s} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def preview_text(p: dict[str, Any]) -> str:
    roles = ", ".join(f"{role} → `{col}`" for role, col in p["columns"].items())
    lines = [f"**{p['file']}** — format **{p['format']}** ({roles}); {p['rows']} rows, {p['usable']} usable."]
    if p["problems"]:
        shown = "; ".join(p["problems"][:5]) + (" …" if len(p["problems"]) > 5 else "")
        lines.append(
            f"⚠️ {len(p['problems'])} unusable row(s): {shown}. Fix them, or tick *Skip unusable rows*."
        )
    t = p.get("tokens")
    if t and t.get("examples"):
        lines.append(
            f"Tokens per example (prompt + answer): min {t['min']} · mean {t['mean']} · p50 {t['p50']} · "
            f"p95 {t['p95']} · max {t['max']}."
        )
        if t["over_limit"]:
            rows = ", ".join(map(str, t["over_limit_rows"][:10]))
            lines.append(
                f"⚠️ {t['over_limit']} example(s) are longer than max length {t['max_length']} (rows "
                f"{rows}): raise *Max length*, or set *Over-long examples* to drop or truncate."
            )
    elif p.get("tokens_error"):
        lines.append(f"Token lengths unavailable: {p['tokens_error']}")
    return "  \n".join(lines)


def job_notes(p: JobProgress) -> list[str]:
    """Loss, speed and ETA (or the run's wall time), and what to do next."""
    m, facts = p.metrics, []
    if m.get("loss") is not None:
        facts.append(f"loss {m['loss']:.4f}")
    if m.get("s_per_step"):
        facts.append(f"{m['s_per_step']:.1f} s/step")
    if p.active and m.get("eta_s") is not None:
        facts.append(f"ETA {duration(m['eta_s'])}")
    if p.state == "done" and p.result.get("wall_s"):
        facts.append(f"finished in {duration(p.result['wall_s'])}")
    notes = [" · ".join(facts)]
    if m.get("resumable"):
        notes.append("*Resume* continues from the last checkpoint.")
    if p.state == "done":
        notes.append(
            "✅ The adapter is ready: *Use this adapter in the chat*, or pick it in the registry below."
        )
    return notes
