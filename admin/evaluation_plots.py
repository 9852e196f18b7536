"""evaluation_plots.py draws the Evaluation tab's plotly figures from evaluation/dashboard.py's tables.

Pure functions from data frames / dicts to figures; no Gradio, no file access.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

MEASURE_TITLES = {
    "latency_s": "Latency per example (s)",
    "ttft_s": "Time to first token (s)",
    "tok_per_s": "Decode speed (tokens/s)",
}


def empty(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        height=260,
        margin={"l": 20, "r": 20, "t": 30, "b": 20},
    )
    return fig


def metric_bars(frame: pd.DataFrame) -> go.Figure:
    """Bars per metric, one colour per run (grouped when comparing), with 95 % error bars."""
    if frame.empty:
        return empty("Pick one or more finished runs.")
    data = frame.assign(
        plus=(frame["high"] - frame["value"]).clip(lower=0),
        minus=(frame["value"] - frame["low"]).clip(lower=0),
    )
    fig = px.bar(
        data,
        x="metric",
        y="value",
        color="run",
        barmode="group",
        error_y="plus",
        error_y_minus="minus",
        hover_data=["n", "low", "high"],
        range_y=[0, 1.05],
        labels={"value": "score (0–1)", "metric": "", "run": "run"},
    )
    fig.update_layout(
        height=420,
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 40},
        title="Metrics per run (bars: 95 % interval where the metric is per example)",
    )
    return fig


def confusion_heatmap(cm: dict[str, Any] | None) -> go.Figure:
    """Rows: expected label; columns: the guard's label; cell text: counts."""
    if not cm:
        return empty("Pick a safety run (suite safety, safety-xstest or safety-medsafetybench).")
    labels, matrix = cm["labels"], cm["matrix"]
    fig = px.imshow(
        matrix,
        x=labels,
        y=labels,
        text_auto=True,
        color_continuous_scale="Blues",
        labels={"x": "predicted", "y": "expected", "color": "examples"},
        aspect="auto",
    )
    fig.update_layout(title=f"Safety confusion matrix — {cm.get('run', '')}", height=420)
    return fig


def latency_boxes(frame: pd.DataFrame) -> go.Figure:
    """Distribution of latency, TTFT and tokens/s per run (box with all points)."""
    if frame.empty:
        return empty("No latency measured in the selected runs.")
    data = frame.assign(measure=frame["measure"].map(MEASURE_TITLES).fillna(frame["measure"]))
    fig = px.box(
        data,
        x="run",
        y="value",
        color="run",
        facet_col="measure",
        points="all",
        labels={"value": "", "run": ""},
    )
    fig.update_yaxes(matches=None, showticklabels=True)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(height=440, title="Latency distribution", legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(showticklabels=False)
    return fig
