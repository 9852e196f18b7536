"""training_plots.py draws the Training tab's live chart (loss and learning rate per step) and writes
durations (ETA). Pure functions from metric rows to figures and strings; no Gradio, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from admin.evaluation_plots import empty

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
