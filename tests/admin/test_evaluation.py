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
from tests.evaluation.test_dashboard import make_runs

from app import build_app
from medgemma.config import load_settings
from medgemma.evaluation.runner import load_eval_run
from medgemma.storage import read_jsonl

PASSWORD = "correct horse battery"


@pytest.fixture
def app(shared_data, monkeypatch):
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", PASSWORD)
    settings = load_settings()
    demo, ctx = build_app(settings)
    return demo, ctx, settings


def handlers(ctx) -> dict:
    return ctx.extras["evaluation"]


def test_handlers_refuse_without_a_session(app):
    _, ctx, _ = app
    h = handlers(ctx)
    calls = [(h["on_refresh"], ([],)), (h["on_show"], (["x"],)), (h["on_examples"], ([], "", "score", None, "")),
             (h["on_export"], (["x"], "csv")), (h["on_start"], ("mirage-medqa", "", "", "off", 2)),
             (h["on_cancel"], ("x",)), (h["on_poll"], ("x", []))]
    for fn, args in calls:
        for token in (None, "forged-token"):
            with pytest.raises(gr.Error, match="Admin login required"):
                fn(token, *args)


def test_dashboard_compares_two_runs_with_plots(app):
    _, ctx, settings = app
    ids = make_runs(settings)
    h, token = handlers(ctx), ctx.auth.login(PASSWORD).token
    runs, table, adapters = h["on_refresh"](token, [ids["closed"]])
    assert {value for _, value in runs.choices} == set(ids.values()) and runs.value == [ids["closed"]]
    assert set(table["run_id"]) == set(ids.values()) and adapters.choices[1] == ("Base model (no adapter)", "")

    bars, note, paired, heat, latency, ex_suite, ex_metric, examples = h["on_show"](token, [ids["closed"], ids["rag"]])
    assert isinstance(bars, go.Figure) and len(bars.data) == 2  # one bar series per run: grouped comparison
    assert {t.name.split(" · ")[-1] for t in bars.data} == {"closed", "RAG"}
    assert all(t.error_y.array is not None for t in bars.data) and "accuracy" in set(bars.data[0].x)
    assert "Compared against the first run" in note and paired.iloc[0]["common"] == 8
    assert not heat.data and "safety run" in heat.layout.annotations[0].text
    assert {t.name for t in latency.data} == {t.name for t in bars.data}  # latency boxes for both runs
    assert ex_suite.choices[-1] == ("mirage-bioasq", "mirage-bioasq")
    assert list(examples["score"]) == sorted(examples["score"]) and len(examples) == 16

    *_, heat, _, _, _, _ = h["on_show"](token, [ids["safety"]])
    assert heat.data[0].type == "heatmap" and sum(map(sum, heat.data[0].z)) == 4

    filtered = h["on_examples"](token, [ids["qa"], ids["closed"]], "medquad", "token_f1", 0.99, "")
    assert set(filtered["suite"]) == {"medquad"} and (filtered["token_f1"] <= 0.99).all()


def test_export_downloads_csv_and_json(app):
    _, ctx, settings = app
    ids = make_runs(settings)
    h, token = handlers(ctx), ctx.auth.login(PASSWORD).token
    button = h["on_export"](token, [ids["closed"], ids["rag"]], "csv")
    path = Path(button.value["path"])  # served from Gradio's cache, not from the data home
    assert button.visible and path.is_file() and str(settings.home_path) not in str(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) == 8 and {"id", "question", "prediction", "reference", "score"} <= set(rows[0])
    assert rows[0]["id"] in {p["id"] for p in load_eval_run(settings, ids["closed"])["predictions"]}
    assert Path(h["on_export"](token, [ids["qa"]], "json").value["path"]).suffix == ".json"
    with pytest.raises(gr.Error, match="Pick a run"):
        h["on_export"](token, [], "csv")


def test_start_poll_until_the_job_ends_and_audit(app):
    _, ctx, settings = app
    h, token = handlers(ctx), ctx.auth.login(PASSWORD).token
    run_id, status, command, _, timer = h["on_start"](token, "mirage-bioasq", "no-such-model", "", "off", 2)
    assert timer.active and run_id in status
    assert command.startswith("python -m medgemma eval run --suite mirage-bioasq --rag off --model no-such-model")
    deadline = time.monotonic() + 120
    while True:
        status, command, log, timer, runs, table, _ = h["on_poll"](token, run_id, [])
        if isinstance(timer, gr.Timer) and not timer.active or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "failed" in status and "no-such-model" in status and "no-such-model" in log
    assert run_id in {value for _, value in runs.choices}  # the finished run is listed
    actions = [r["action"] for r in read_jsonl(settings.path("audit", "admin.jsonl"))]
    assert "eval-start" in actions and "eval-poll" not in actions  # polls do not flood the audit log
    with pytest.raises(gr.Error, match="Unknown evaluation suite"):
        h["on_start"](token, "nope", "", "", "on", 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_endpoints_are_closed_without_login(app):
    demo, ctx, settings = app
    ids = make_runs(settings)
    port = free_port()
    demo.queue().launch(prevent_thread_lock=True, server_port=port, server_name="127.0.0.1", quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/eval_start", "/eval_runs", "/eval_dashboard", "/eval_examples", "/eval_export"} <= set(api)
        calls = {"/eval_runs": ([],), "/eval_dashboard": ([ids["closed"]],),
                 "/eval_examples": ([ids["closed"]], "(all suites)", "score", None, ""),
                 "/eval_export": ([ids["closed"]], "csv"), "/eval_cancel": (),
                 "/eval_start": ("mirage-bioasq", "gemma-3-270m", "", "off", 2)}
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
