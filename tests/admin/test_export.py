"""The Export tab: its handlers refuse without an admin session, and behind one they start a real export
job on the tiny model through the job panel, follow it to the end, list the verified export and plan its upload."""

from __future__ import annotations

import time

import gradio as gr
import pytest

from admin import export as export_tab
from medgemma import jobs
from medgemma.config import load_settings
from tests.export.test_exporter import make_adapter

PASSWORD = "correct horse battery"


@pytest.fixture
def app(shared_data, monkeypatch, build_tab):
    monkeypatch.setenv("MEDGEMMA_ADMIN_PASSWORD", PASSWORD)
    settings = load_settings()
    tab, ctx = build_tab(export_tab, settings)
    return tab, ctx, settings


def test_handlers_refuse_without_a_session(app):
    tab, _, settings = app
    calls = [
        (tab.on_refresh, ()),
        (tab.on_preview, ("a", "lora", "", False)),
        (tab.on_start, ("a", "lora", "", False)),
        (tab.panel.on_poll, ("x",)),
        (tab.panel.on_cancel, ("x",)),
        (tab.on_dry_run, ("/tmp", "a/b", True, "")),
    ]
    for fn, args in calls:
        for token in (None, "forged-token"):
            with pytest.raises(gr.Error, match="Admin login required"):
                fn(token, *args)
    with pytest.raises(gr.Error, match="Admin login required"):
        next(tab.on_publish(None, "/tmp", "a/b", True, ""))
    assert not settings.path("runs").exists()


def test_export_job_from_the_tab_then_plan_the_upload(app, tiny_gemma_dir):
    tab, ctx, settings = app
    panel, token = tab.panel, ctx.auth.login(PASSWORD).token
    make_adapter(tiny_gemma_dir, settings.path("adapters", "tiny-med"))
    adapters = tab.on_refresh(token)[tab.adapter]
    assert [
        label.split(" (base")[0] for label, _ in adapters.choices if not label.startswith("reference")
    ] == ["tiny-med"]
    path = adapters.choices[0][1]
    assert tab.on_preview(token, path, "gguf-q4_k_m", "", False) == (
        f"python -m medgemma export --adapter {path} --format gguf-q4_k_m"
    )

    out = tab.on_start(token, path, "lora", "", False)
    run_id = out[panel.watched]
    assert run_id in out[panel.status] and "--format lora" in out[panel.command] and out[panel.timer].active
    deadline = time.monotonic() + 600
    while True:
        out = panel.on_poll(token, run_id)
        if tab.table in out:  # the last tick carries the refreshed export table
            break
        assert time.monotonic() < deadline, out[panel.log]
        time.sleep(1.0)
    status, log = out[panel.status], out[panel.log]
    assert not out[panel.timer].active
    assert "done" in status and "100%" in status and "failed" not in status, log
    assert jobs.progress(settings, run_id).state == "done"  # the job itself, not only the export
    table, folders = out[tab.table], out[tab.folder]
    assert table[0][1] == "lora" and table[0][5] == "yes" and table[0][6] == 1.0
    folder = folders.value
    assert folder == str(settings.path("exports", "tiny-med-lora"))
    assert f"`{folder}`" in status  # the status names where the export went

    plan = tab.on_dry_run(token, folder, "my-org/tiny-med", True, "")
    assert "Would upload" in plan and "`adapter_model.safetensors`" in plan and "private" in plan
    with pytest.raises(gr.Error, match="Invalid Hugging Face repo id"):
        tab.on_dry_run(token, folder, "tiny-med", True, "")
    with pytest.raises(gr.Error, match="offline mode"):  # conftest sets HF_HUB_OFFLINE=1
        list(tab.on_publish(token, folder, "my-org/tiny-med", True, "hf_typedtoken0123456789"))
    with pytest.raises(gr.Error, match="No export job is running"):
        panel.on_cancel(token, "")


def test_tab_confines_output_and_publish_folders_to_the_data_home(app, tmp_path):
    tab, ctx, settings = app
    token = ctx.auth.login(PASSWORD).token
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("do not delete")
    for typed in (str(victim), "../../precious", str(settings.path("exports")), "."):
        with pytest.raises(
            gr.Error, match="Export tab writes only|outside the data home|not the exports folder"
        ):
            tab.on_start(token, "tiny-med", "lora", typed, True)
        assert "not allowed" in tab.on_preview(token, "tiny-med", "lora", typed, True)
    assert (victim / "keep.txt").read_text() == "do not delete"
    # a name under <home>/exports is fine (the preview shows where it goes)
    inside = settings.path("exports", "mine").resolve()
    assert tab.on_preview(token, "tiny-med", "lora", "mine", False).endswith(f"--out {inside}")
    # publishing takes only a listed, finished export, never an arbitrary folder
    for folder in (str(victim), "/etc", ""):
        with pytest.raises(gr.Error, match="Pick one of the finished exports"):
            tab.on_dry_run(token, folder, "my-org/x", True, "")
        with pytest.raises(gr.Error, match="Pick one of the finished exports"):
            list(tab.on_publish(token, folder, "my-org/x", True, ""))
