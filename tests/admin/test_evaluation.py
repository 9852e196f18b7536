"""The Evaluation tab: its handlers called behind a real admin session on real runs (real shared
data, small real predictors), and its endpoints over HTTP with gradio_client, closed without login."""

from __future__ import annotations

import csv
import socket
import time
from pathlib import Path

import gradio as gr
import plotly.graph_objects as go
import pytest
from gradio_client import Client

from admin import evaluation as evaluation_tab
from app import build_app, launch
from medgemma import jobs
from medgemma.config import load_settings
from medgemma.evaluation.runs import load_eval_run
from medgemma.storage import read_jsonl
from tests.evaluation.test_dashboard import make_runs

PASSWORD = "correct horse battery"


@pytest.fixture
def app(shared_data, monkeypatch, build_tab):
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", PASSWORD)
    settings = load_settings()
    tab, ctx = build_tab(evaluation_tab, settings)
    return tab, ctx, settings


def test_handlers_refuse_without_a_session(app):
    tab, _, settings = app
    calls = [
        (tab.on_refresh, ([],)),
        (tab.on_show, (["x"],)),
        (tab.on_examples, ([], "", "score", None, "")),
        (tab.on_export, (["x"], "csv")),
        (tab.on_start, ("mirage-medqa", "", "", "off", 2)),
        (tab.panel.on_cancel, ("x",)),
        (tab.panel.on_poll, ("x", [])),
    ]
    for fn, args in calls:
        for token in (None, "forged-token"):
            with pytest.raises(gr.Error, match="Admin login required"):
                fn(token, *args)
    assert not settings.path("runs").exists()


def test_dashboard_compares_two_runs_with_plots(app):
    tab, ctx, settings = app
    ids = make_runs(settings)
    token = ctx.auth.login(PASSWORD).token
    out = tab.on_refresh(token, [ids["closed"]])
    runs, table, adapters = out[tab.runs], out[tab.table], out[tab.adapter]
    assert {value for _, value in runs.choices} == set(ids.values()) and runs.value == [ids["closed"]]
    assert set(table["run_id"]) == set(ids.values()) and adapters.choices[1] == (
        "Base model (no adapter)",
        "",
    )

    out = tab.on_show(token, [ids["closed"], ids["rag"]])
    bars, note, paired, heat, latency = (
        out[c] for c in (tab.bars, tab.note, tab.paired, tab.heat, tab.latency)
    )
    ex_suite, examples = out[tab.ex_suite], out[tab.examples]
    assert isinstance(bars, go.Figure) and len(bars.data) == 2  # one bar series per run: grouped comparison
    assert {t.name.split(" · ")[-1] for t in bars.data} == {"closed", "RAG"}
    assert all(t.error_y.array is not None for t in bars.data) and "accuracy" in set(bars.data[0].x)
    assert "Compared against the first run" in note and paired.iloc[0]["common"] == 8
    assert not heat.data and "safety run" in heat.layout.annotations[0].text
    assert {t.name for t in latency.data} == {t.name for t in bars.data}  # latency boxes for both runs
    assert ex_suite.choices[-1] == ("mirage-bioasq", "mirage-bioasq")
    assert list(examples["score"]) == sorted(examples["score"]) and len(examples) == 16

    heat = tab.on_show(token, [ids["safety"]])[tab.heat]
    assert heat.data[0].type == "heatmap" and sum(map(sum, heat.data[0].z)) == 4

    filtered = tab.on_examples(token, [ids["qa"], ids["closed"]], "medquad", "token_f1", 0.99, "")
    assert set(filtered["suite"]) == {"medquad"} and (filtered["token_f1"] <= 0.99).all()


def test_export_downloads_csv_and_json(app):
    tab, ctx, settings = app
    ids = make_runs(settings)
    token = ctx.auth.login(PASSWORD).token
    button = tab.on_export(token, [ids["closed"], ids["rag"]], "csv")
    path = Path(button.value["path"])  # served from Gradio's cache, not from the data home
    assert button.visible and path.is_file() and str(settings.home_path) not in str(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) == 8 and {"id", "question", "prediction", "reference", "score"} <= set(rows[0])
    assert rows[0]["id"] in {p["id"] for p in load_eval_run(settings, ids["closed"])["predictions"]}
    assert Path(tab.on_export(token, [ids["qa"]], "json").value["path"]).suffix == ".json"
    with pytest.raises(gr.Error, match="Pick a run"):
        tab.on_export(token, [], "csv")


def test_start_poll_until_the_job_ends_and_audit(app):
    tab, ctx, settings = app
    panel, token = tab.panel, ctx.auth.login(PASSWORD).token
    out = tab.on_start(token, "mirage-bioasq", "no-such-model", "", "off", 2)
    run_id, command = out[panel.watched], out[panel.command]
    assert out[panel.timer].active and run_id in out[panel.status]
    assert command.startswith(
        "python -m medgemma eval run --suite mirage-bioasq --rag off --model no-such-model"
    )
    deadline = time.monotonic() + 120
    while True:
        out = panel.on_poll(token, run_id, [])
        if not out[panel.timer].active or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    status, log, runs = out[panel.status], out[panel.log], out[tab.runs]
    assert "failed" in status and "no-such-model" in status and "no-such-model" in log
    assert run_id in {value for _, value in runs.choices}  # the finished run is listed
    actions = [r["action"] for r in read_jsonl(settings.path("audit", "admin.jsonl"))]
    assert "eval-start" in actions and "eval-poll" not in actions  # polls do not flood the audit log
    with pytest.raises(gr.Error, match="Unknown evaluation suite"):
        tab.on_start(token, "nope", "", "", "on", 2)
    with pytest.raises(gr.Error, match="No evaluation job is running"):
        panel.on_cancel(token, "")


def test_cancel_from_the_panel_stops_a_running_job(app):
    """A job cancelled from the tab ends cancelled (its predictions so far stay) and the timer stops."""
    tab, ctx, settings = app
    panel, token = tab.panel, ctx.auth.login(PASSWORD).token
    run_id = tab.on_start(token, "safety-medsafetybench", "", "", "off", 900)[panel.watched]
    assert _wait(lambda: jobs.progress(settings, run_id).state == "running", 120), jobs.progress(
        settings, run_id
    )
    out = panel.on_cancel(token, run_id)
    assert "cancelled" in out[panel.status] and not out[panel.timer].active
    assert jobs.progress(settings, run_id).state == "cancelled"
    actions = [r["action"] for r in read_jsonl(settings.path("audit", "admin.jsonl"))]
    assert "eval-cancel" in actions


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_endpoints_are_closed_without_login(app):
    _, _, settings = app
    demo, _ = build_app(settings)
    ids = make_runs(settings)
    port = free_port()
    launch(demo, settings, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/eval_start", "/eval_runs", "/eval_dashboard", "/eval_examples", "/eval_export"} <= set(api)
        calls = {
            "/eval_runs": ([],),
            "/eval_dashboard": ([ids["closed"]],),
            "/eval_examples": ([ids["closed"]], "(all suites)", "score", None, ""),
            "/eval_export": ([ids["closed"]], "csv"),
            "/eval_cancel": (),
            "/eval_start": ("mirage-bioasq", "gemma-3-270m", "", "off", 2),
        }
        before = set(settings.path("runs", "eval").iterdir())
        for name, args in calls.items():
            with pytest.raises(Exception, match="Admin login required"):
                client.predict(*args, api_name=name)
        assert set(settings.path("runs", "eval").iterdir()) == before  # no job was started

        assert "Logged in" in client.predict(PASSWORD, api_name="/admin_login")[0]
        runs, table, _ = client.predict([], api_name="/eval_runs")
        assert {c[1] for c in runs["choices"]} == set(ids.values())
        bars, note, *_ = client.predict([ids["closed"], ids["rag"]], api_name="/eval_dashboard")
        assert "Compared against the first run" in note and bars
        client.close()
    finally:
        demo.close()
