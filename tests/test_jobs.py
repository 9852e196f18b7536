"""The subprocess job runner: status files, dead processes, restarts, and cancel (graceful and forced)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from medgemma import jobs
from medgemma.config import load_settings
from medgemma.errors import InputRejected, UserFacingError
from medgemma.training import trainer as train


def _wait(predicate, timeout=180.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _status(folder):
    return json.loads((folder / "status.json").read_text())


def test_job_context_records_each_outcome(tmp_path):
    with jobs.job_context(tmp_path / "ok", kind="eval", config={"a": 1}) as folder:
        jobs.log_metrics(folder, {"step": 1})
    s = _status(tmp_path / "ok")
    assert (s["state"], s["kind"], s["pid"]) == ("done", "eval", os.getpid()) and s["started"] and s["ended"]
    assert json.loads((folder / "config.json").read_text()) == {"a": 1}
    assert jobs.read_metrics(folder)[0]["step"] == 1

    with pytest.raises(UserFacingError), jobs.job_context(tmp_path / "bad", kind="eval"):
        raise UserFacingError("The dataset has no rows.")
    assert _status(tmp_path / "bad")["error"] == "The dataset has no rows."
    with pytest.raises(RuntimeError), jobs.job_context(tmp_path / "bug", kind="eval"):
        raise RuntimeError("boom")
    assert (_status(tmp_path / "bug")["state"], _status(tmp_path / "bug")["error"]) == ("failed", "RuntimeError: boom")


def test_sigterm_inside_a_job_becomes_cancelled_and_deferral_protects_writes(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(jobs.Cancelled), jobs.job_context(tmp_path / "c", kind="train"):
        with jobs.cancel_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert jobs.cancel_pending()  # not raised inside the protected block ...
        pytest.fail("... but raised when it ends")
    assert _status(tmp_path / "c")["state"] == "cancelled"
    assert signal.getsignal(signal.SIGTERM) is before and not jobs.cancel_pending()


def test_runs_are_listed_found_and_ids_checked():
    settings = load_settings()
    a = jobs.create_run(settings, "train", {"x": 1}, run_id="20200101-000000-aaaa")
    jobs.create_run(settings, "export", {"y": 2}, run_id="20200102-000000-bbbb")
    assert [r.run_id for r in jobs.list_runs(settings)] == ["20200102-000000-bbbb", "20200101-000000-aaaa"]
    assert [r.kind for r in jobs.list_runs(settings, "train")] == ["train"]
    run = jobs.find_run(settings, a.name)
    assert (run.state, run.config, run.folder) == ("queued", {"x": 1}, a)
    assert (a / "settings.yaml").is_file() and (a / "config.yaml").is_file()
    with pytest.raises(InputRejected, match="No run named"):
        jobs.find_run(settings, "nope")
    with pytest.raises(InputRejected, match="Invalid run id"):
        jobs.run_folder(settings, "train", "../escape")
    with pytest.raises(InputRejected, match="Unknown job kind"):
        jobs.list_runs(settings, "bake")


def test_a_job_whose_process_died_reads_failed():
    settings = load_settings()
    # `runs list` exits at once without reporting: the run must not stay "queued" forever
    run = jobs.start(settings, "eval", ["runs", "list"], {"what": "smoke"})
    assert run.pid and run.command.startswith("python -m medgemma runs list")
    assert _wait(lambda: not jobs.pid_alive(run.pid), timeout=60)
    after = jobs.get_run(run.folder)
    assert after.state == "failed" and "exited" in after.error
    assert "no runs yet" in jobs.tail_log(run.folder) or "eval" in jobs.tail_log(run.folder)

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    jobs.write_status(run.folder, state="running", pid=dead.pid, error="")
    assert jobs.get_run(run.folder).state == "failed"


def test_cancel_escalates_to_sigkill_when_sigterm_is_ignored():
    settings = load_settings()
    folder = jobs.create_run(settings, "export", {})
    code = "import signal, time  # medgemma\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == b"up"
        jobs.write_status(folder, state="running", pid=proc.pid)
        assert jobs.get_run(folder).state == "running"  # alive, seen through /proc as a medgemma job
        (folder / ".partial.tmp").write_text("half")
        run = jobs.cancel(folder, grace_s=1.0)
        assert run.state == "cancelled" and run.ended and not jobs.pid_alive(proc.pid)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert not (folder / ".partial.tmp").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cancel_a_training_run_leaves_a_consistent_folder(tiny_gemma_dir, tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is condition {i}?", "answer": f"Condition {i} is a "
                                        "disease of the lungs."}) + "\n" for i in range(8)))
    cfg = train.TrainConfig(name="cancel-me", model=str(tiny_gemma_dir), data=(str(data),), max_steps=2000,
                            save_steps=1, save_total_limit=2, max_length=320)
    settings = load_settings()
    run = train.start(cfg, settings)
    folder = run.folder
    try:
        assert _wait(lambda: len(jobs.read_metrics(folder)) >= 2 or not jobs.pid_alive(run.pid)), "no progress"
        assert jobs.get_run(folder).state == "running", jobs.tail_log(folder)

        child = jobs._CHILDREN.pop(run.pid)  # as if the app restarted: state comes from files and /proc
        restarted = jobs.get_run(folder)
        assert (restarted.state, restarted.pid, restarted.config["name"]) == ("running", run.pid, "cancel-me")
        assert restarted.command.startswith("python -m medgemma train --config")

        cancelled = jobs.cancel(folder, grace_s=60)
        assert cancelled.state == "cancelled" and cancelled.ended and not jobs.pid_alive(run.pid)
        assert child.wait(timeout=10) != 0
    finally:
        if jobs.pid_alive(run.pid):
            os.killpg(run.pid, signal.SIGKILL)

    assert _status(folder)["state"] == "cancelled"
    assert not (folder / "adapter").exists() and not list(folder.glob(".*.tmp"))
    checkpoints = list((folder / "checkpoints").glob("checkpoint-*"))
    assert all((c / "trainer_state.json").is_file() for c in checkpoints)
    assert train.last_checkpoint(folder) is not None or not checkpoints
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert lines and all(json.loads(line)["step"] >= 1 for line in lines)
    assert json.loads((folder / "config.json").read_text())["max_steps"] == 2000
    assert [r.state for r in jobs.list_runs(settings, "train")] == ["cancelled"]
