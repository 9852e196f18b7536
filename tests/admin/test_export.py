"""The Export tab: its handlers refuse without an admin session, and behind one they start a real export
job on the tiny model, follow it to the end, list the verified export and plan its upload."""

from __future__ import annotations

import time

import gradio as gr
import pytest
from tests.export.test_exporter import make_adapter

from app import build_app
from medgemma.config import load_settings
from medgemma.export import exporter as export

PASSWORD = "correct horse battery"


@pytest.fixture
def app(shared_data, monkeypatch):
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", PASSWORD)
    settings = load_settings()
    demo, ctx = build_app(settings)
    return demo, ctx, settings


def test_handlers_refuse_without_a_session(app):
    _, ctx, _ = app
    h = ctx.extras["export"]
    calls = [(h["on_refresh"], ()), (h["on_preview"], ("a", "lora", "", False)),
             (h["on_start"], ("a", "lora", "", False)), (h["on_poll"], ("x",)), (h["on_cancel"], ("x",)),
             (h["on_dry_run"], ("/tmp", "a/b", True, ""))]
    for fn, args in calls:
        for token in (None, "forged-token"):
            with pytest.raises(gr.Error, match="Admin login required"):
                fn(token, *args)
    with pytest.raises(gr.Error, match="Admin login required"):
        next(h["on_publish"](None, "/tmp", "a/b", True, ""))


def test_export_job_from_the_tab_then_plan_the_upload(app, tiny_gemma_dir):
    _, ctx, settings = app
    h, token = ctx.extras["export"], ctx.auth.login(PASSWORD).token
    make_adapter(tiny_gemma_dir, settings.path("adapters", "tiny-med"))
    _, _, adapters = h["on_refresh"](token)
    assert [label for label, _ in adapters.choices] == ["tiny-med"]
    path = adapters.choices[0][1]
    assert h["on_preview"](token, path, "gguf-q4_k_m", "", False) == (
        f"python -m medgemma export --adapter {path} --format gguf-q4_k_m")

    run_id, status, command, _, timer = h["on_start"](token, path, "lora", "", False)
    assert run_id in status and "--format lora" in command and timer.active
    deadline = time.monotonic() + 600
    while True:
        status, log, timer, *rest = h["on_poll"](token, run_id)
        if isinstance(rest[0], list):  # the last tick carries the refreshed export table
            break
        assert time.monotonic() < deadline, log
        time.sleep(1.0)
    assert "done" in status and "100%" in status and "failed" not in status, log
    assert export.job_progress(settings, run_id)["state"] == "done"  # the job itself, not only the export
    table, folders, _ = rest
    assert table[0][1] == "lora" and table[0][5] == "yes" and table[0][6] == 1.0
    folder = folders.value
    assert folder == str(settings.path("exports", "tiny-med-lora"))

    plan = h["on_dry_run"](token, folder, "my-org/tiny-med", True, "")
    assert "Would upload" in plan and "`adapter_model.safetensors`" in plan and "private" in plan
    with pytest.raises(gr.Error, match="Invalid Hugging Face repo id"):
        h["on_dry_run"](token, folder, "tiny-med", True, "")
    with pytest.raises(gr.Error, match="offline mode"):  # conftest sets HF_HUB_OFFLINE=1
        list(h["on_publish"](token, folder, "my-org/tiny-med", True, "hf_typedtoken0123456789"))


def test_tab_confines_output_and_publish_folders_to_the_data_home(app, tmp_path):
    _, ctx, settings = app
    h, token = ctx.extras["export"], ctx.auth.login(PASSWORD).token
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("do not delete")
    for typed in (str(victim), "../../precious", str(settings.path("exports")), "."):
        with pytest.raises(gr.Error, match="Export tab writes only|outside the data home|not the exports folder"):
            h["on_start"](token, "tiny-med", "lora", typed, True)
        assert "not allowed" in h["on_preview"](token, "tiny-med", "lora", typed, True)
    assert (victim / "keep.txt").read_text() == "do not delete"
    # a name under <home>/exports is fine (the preview shows where it goes)
    inside = settings.path("exports", "mine").resolve()
    assert h["on_preview"](token, "tiny-med", "lora", "mine", False).endswith(f"--out {inside}")
    # publishing takes only a listed, finished export, never an arbitrary folder
    for folder in (str(victim), "/etc", ""):
        with pytest.raises(gr.Error, match="Pick one of the finished exports"):
            h["on_dry_run"](token, folder, "my-org/x", True, "")
        with pytest.raises(gr.Error, match="Pick one of the finished exports"):
            list(h["on_publish"](token, folder, "my-org/x", True, ""))
