"""The Training tab: behind a real admin session, upload a CSV (column mapping, preview, token lengths),
train the tiny Gemma 3 for a few steps as a background job, watch the loss, activate the adapter (the
chat's backend reloads with it, no restart) and go back to the base model; closed without login."""

from __future__ import annotations

import socket
import time

import gradio as gr
import pytest
from gradio_client import Client

from admin import training as training_tab
from app import build_app, launch
from medgemma.config import load_settings
from medgemma.storage import read_jsonl

PASSWORD = "correct horse battery"
ROWS = [
    ("What is diabetes?", "Diabetes is a disease in which blood glucose levels are above normal."),
    ("What is asthma?", "Asthma is a chronic disease that affects the airways of the lungs."),
    ("What causes high blood pressure?", "High blood pressure raises the risk of heart disease and stroke."),
    ("What are symptoms of asthma?", ""),  # an empty answer: an unusable row the preview names
    ("How is anemia treated?", "Treatment may include medicines, a healthy diet and iron."),
    ("What is a fever?", "A fever is a body temperature that is higher than normal."),
]


@pytest.fixture
def app(tiny_gemma_dir, isolated_home, build_tab):
    settings = load_settings(
        env={
            "MEDGEMMA_HOME": str(isolated_home),
            "MEDGEMMA_MODEL": str(tiny_gemma_dir),
            "MEDGEMMA_BACKEND": "transformers",
            "MEDGEMMA_DEVICE": "cpu",
            "MEDGEMMA_STARTER_CORPUS": "none",
            "MEDGEMMA_ADMIN_PASSWORD": PASSWORD,
        }
    )
    tab, ctx = build_tab(training_tab, settings)
    return tab, ctx, settings


@pytest.fixture
def qa_csv(tmp_path):
    path = tmp_path / "my qa.csv"  # columns the detector does not know: the admin maps them
    path.write_text("Frage,Antwort,note\n" + "".join(f'"{q}","{a}",x\n' for q, a in ROWS), encoding="utf-8")
    return path


def test_handlers_refuse_without_a_session(app, qa_csv):
    tab, _, settings = app
    form, panel = tab.form, tab.panel
    calls = [
        (tab.on_upload, (str(qa_csv), form)),
        (tab.on_preview, (str(qa_csv), form)),
        (tab.on_start, ("", "", *form.values())),
        (panel.on_poll, ("x",)),
        (panel.on_cancel, ("x",)),
        (tab.on_resume, ("x",)),
        (tab.on_refresh, (None,)),
        (tab.on_watch, ("x",)),
        (tab.on_activate, ("x",)),
        (tab.on_base, ()),
        (tab.on_form, tuple(form.values())),
        (tab.on_clear, ()),
    ]
    for fn, args in calls:
        for token in (None, "forged-token"):
            with pytest.raises(gr.Error, match="Admin login required"):
                fn(token, *args)
    assert not settings.path("runs").exists() and not settings.path("datasets").exists()


def _poll_until_done(panel, token, run_id, timeout=300.0):
    """Tick like the browser's timer; returns the last tick's updates and whether a loss showed mid-run."""
    deadline, saw_loss = time.monotonic() + timeout, False
    while True:
        out = panel.on_poll(token, run_id)
        if not out[panel.timer].active:
            return out, saw_loss
        saw_loss = saw_loss or "loss" in out[panel.status]
        assert time.monotonic() < deadline, f"training did not finish: {out[panel.status]}\n{out[panel.log]}"
        time.sleep(0.5)


def test_upload_train_watch_activate_and_back(app, qa_csv, tiny_gemma_dir):
    tab, ctx, settings = app
    panel, token = tab.panel, ctx.auth.login(PASSWORD).token
    assert tab.form["model"] == str(tiny_gemma_dir)  # the form starts on the chat's own model
    assert tab.on_form(token, *tab.form.values()) == tab.form  # the fields, as one dict in a gr.State
    form = {**tab.form, "max_length": 512}
    prompt_col, extra_col, answer_col, messages_col = (tab.fields[k] for k in training_tab.PICKERS)

    with pytest.raises(gr.Error, match="No usable columns.*Frage, Antwort, note"):
        tab.on_upload(token, str(qa_csv), form)
    form.update(col_prompt="Frage", col_answer="Antwort")
    out = tab.on_preview(token, str(qa_csv), {**form, "max_length": 40})
    stored, note, sample = out[tab.stored], out[tab.preview_note], out[tab.sample]
    prompt, extra, answer, messages = (out[c] for c in (prompt_col, extra_col, answer_col, messages_col))
    assert (prompt.value, answer.value, extra.value, messages.value) == ("Frage", "Antwort", "", "")
    assert ("Frage", "Frage") in prompt.choices and stored.startswith(str(settings.path("datasets")))
    assert "6 rows, 5 usable" in note and "row 4: empty answer" in note and "Tokens per example" in note
    assert "longer than max length 40" in note  # the system prompt alone is longer than that
    assert sample[0] == list(ROWS[0])

    form.update(
        sources=[],
        skip_invalid_rows=True,
        max_steps=3,
        batch_size=2,
        save_steps=2,
        learning_rate=1e-2,
        warmup_ratio=0.0,
        name="tab-run",
    )
    # Start sends the fields as on screen and the file in the box: here its upload handler "has not run"
    # yet (no stored copy), as when Start is clicked right after dropping the file
    out = tab.on_start(token, "", str(qa_csv), *form.values())
    run_id, status, command = out[panel.watched], out[panel.status], out[panel.command]
    assert out[panel.timer].active and run_id.endswith("tab-run") and run_id in status
    assert command.startswith("python -m medgemma train --config ") and run_id in command
    assert out[tab.runs].value == run_id and "data:" in out[tab.config] and stored in out[tab.config]
    assert list(out[tab.runs_table]["run"]) == [run_id]

    out, saw_loss = _poll_until_done(panel, token, run_id)
    status, chart, log, table = out[panel.status], out[tab.chart], out[panel.log], out[tab.runs_table]
    assert "done" in status and "█" * 30 + " 100%` step 3/3" in status, log
    [loss] = [t for t in chart.data if t.name == "train loss"]
    assert list(loss.x) == [1, 2, 3] and all(v > 0 for v in loss.y)
    assert any(t.name == "learning rate" for t in chart.data)
    assert table.iloc[0]["state"] == "done" and table.iloc[0]["step"] == "3/3"
    adapters, adapter, active = out[tab.adapters_table], out[tab.adapter], out[tab.active_note]
    assert [n for n in adapters["name"] if n != "reference"] == [run_id] and adapters.iloc[0]["examples"] == 5
    assert (run_id in {v for _, v in adapter.choices}) and "base model" in active

    before = ctx.services.backend()
    assert before.name == "transformers" and before.adapter == ""
    out = tab.on_activate(token, run_id)
    assert out[tab.adapters_table].iloc[0]["active"] == "✓" and run_id in out[tab.active_note]
    tuned = ctx.services.backend()  # reloads: the active adapter changed (no restart)
    assert tuned is not before and tuned.adapter == str(settings.path("runs", "train", run_id, "adapter"))
    assert type(tuned.model).__name__ == "PeftModelForCausalLM"

    out = tab.on_base(token)
    assert out[tab.adapters_table].iloc[0]["active"] == "" and "base model" in out[tab.active_note]
    assert ctx.services.backend().adapter == ""

    # a page reload: the run is listed again from disk and can be watched
    assert [v for _, v in tab.on_refresh(token, None)[tab.runs].choices] == [run_id]
    out = tab.on_watch(token, run_id)
    assert out[panel.watched] == run_id and "done" in out[panel.status] and not out[panel.timer].active
    assert "tab-run" in out[tab.config]
    with pytest.raises(gr.Error, match="finished"):
        tab.on_resume(token, run_id)
    actions = [r["action"] for r in read_jsonl(settings.path("audit", "admin.jsonl"))]
    assert {"train-preview", "train-start", "adapter-activate"} <= set(
        actions
    ) and "train-poll" not in actions


def test_bad_form_values_are_named(app):
    tab, ctx, _ = app
    token = ctx.auth.login(PASSWORD).token
    with pytest.raises(gr.Error, match="lora_r must be within"):
        tab.on_start(token, "", "", *{**tab.form, "lora_r": 0}.values())
    with pytest.raises(gr.Error, match="data: name at least one source"):
        tab.on_start(token, "", "", *{**tab.form, "sources": []}.values())
    with pytest.raises(gr.Error, match="Upload a JSON, JSONL or CSV file first"):
        tab.on_preview(token, None, tab.form)
    with pytest.raises(gr.Error, match="No training run is watched"):
        tab.panel.on_cancel(token, "")
    with pytest.raises(gr.Error, match="No training run is watched"):
        tab.on_resume(token, "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_endpoints_are_closed_without_login(app):
    _, _, settings = app
    demo, _ = build_app(settings)
    port = _free_port()
    launch(demo, settings, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        calls = {
            "/train_start": (None,),
            "/train_runs": (None,),
            "/train_watch": ("x",),
            "/train_cancel": (),
            "/train_resume": (),
            "/adapter_activate": ("x",),
            "/adapter_deactivate": (),
            "/train_upload": (None,),
            "/train_preview": (None,),
        }
        assert set(calls) <= set(api)
        for name, args in calls.items():
            with pytest.raises(Exception, match="Admin login required"):
                client.predict(*args, api_name=name)
        assert not settings.path("runs").exists() and not settings.path("active_adapter.json").exists()

        assert "Logged in" in client.predict(PASSWORD, api_name="/admin_login")[0]
        runs, table, adapters, adapter, active = client.predict(None, api_name="/train_runs")
        assert runs["choices"] == [] and "base model" in active
        client.close()
    finally:
        demo.close()


def test_uploading_a_file_clears_the_built_in_sources(app, tmp_path):
    """Uploading means "train on my data": the preselected MedQuAD source (thousands of examples, hours on a
    CPU) is cleared, and the note says so."""
    tab, ctx, _ = app
    token = ctx.auth.login(PASSWORD).token
    path = tmp_path / "faq.csv"
    path.write_text("question,answer\n" + "".join(f'"{q}","{a}"\n' for q, a in ROWS if a), encoding="utf-8")
    assert tab.form["sources"]  # preselected
    out = tab.on_upload(token, str(path), tab.form)
    note, sources = out[tab.preview_note], out[tab.fields["sources"]]
    assert sources.value == [] and "built-in sources were cleared" in note and "5 rows, 5 usable" in note
    out = tab.on_upload(token, str(path), {**tab.form, "sources": []})
    assert out[tab.fields["sources"]].value == []
