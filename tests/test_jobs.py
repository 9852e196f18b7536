"""Background jobs: the one job API (start, progress, cancel, list) on real `python -m medgemma` jobs, each
kind's arguments checked before anything starts, and the process layer under it (status files, dead
processes, restarts, cancel graceful and forced)."""

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
from medgemma.errors import ConfigError, InputRejected, UserFacingError
from medgemma.training import trainer as train

# The guard's own evaluation: a real job that needs no language model (900 examples: long enough to cancel).
QUICK = {"suite": "safety", "limit": 3, "rag": False}
LONG = {"suite": "safety-medsafetybench", "limit": 900, "rag": False}


def _wait(predicate, timeout=180.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _status(folder):
    return json.loads((folder / "status.json").read_text())


# ---- the job API ------------------------------------------------------------------------------


def test_every_kind_registers_its_spec():
    for kind in jobs.KINDS:
        assert jobs.spec(kind).kind == kind
    with pytest.raises(InputRejected, match="Unknown job kind"):
        jobs.start(load_settings(), "bake", {})


def test_start_progress_and_list_of_a_real_job(shared_data):
    settings = load_settings()
    job_id = jobs.start(settings, "eval", QUICK)
    first = jobs.progress(settings, job_id)
    assert (first.job_id, first.kind) == (job_id, "eval") and first.state in ("queued", "running", "done")
    assert first.command.startswith("python -m medgemma eval run --suite safety --rag off --limit 3")
    assert [j.job_id for j in jobs.list(settings, "eval")] == [job_id] and jobs.list(settings, "train") == []
    assert _wait(lambda: not jobs.progress(settings, job_id).active, timeout=240)
    done = jobs.progress(settings, job_id)
    assert done.state == "done" and not done.active and done.error == "", done.log
    assert done.fraction == 1.0 and done.message == "3/3 examples"
    assert done.metrics["done"] == done.metrics["total"] == 3 and done.metrics["primary"] == "accuracy"
    assert done.result["n"] == 3 and done.config["suite"] == "safety" and "run" in done.log
    [listed] = jobs.list(settings)
    assert listed.job_id == job_id and listed.state == "done" and listed.log == ""  # no log tail unless asked
    assert jobs.cancel(settings, job_id).state == "done"  # a finished job stays as it ended


def test_cancel_stops_a_running_job(shared_data):
    settings = load_settings()
    job_id = jobs.start(settings, "eval", LONG)
    pid = jobs.find_run(settings, job_id).pid
    assert _wait(lambda: jobs.progress(settings, job_id).state == "running", timeout=120)
    cancelled = jobs.cancel(settings, job_id, grace_s=30)
    assert (
        cancelled.state == "cancelled"
        and not cancelled.active
        and cancelled.error == "Cancelled by the user."
    )
    assert not jobs.pid_alive(pid) and jobs.progress(settings, job_id).state == "cancelled"
    assert [j.state for j in jobs.list(settings, "eval")] == ["cancelled"]


def test_a_job_whose_process_dies_reads_failed(shared_data):
    settings = load_settings()
    job_id = jobs.start(settings, "eval", LONG)
    run = jobs.find_run(settings, job_id)
    assert _wait(lambda: jobs.progress(settings, job_id).state == "running", timeout=120)
    os.killpg(run.pid, signal.SIGKILL)  # killed from outside: it never reports
    assert _wait(lambda: not jobs.pid_alive(run.pid), timeout=30)
    dead = jobs.progress(settings, job_id)
    assert dead.state == "failed" and not dead.active and "exited without reporting" in dead.error


def test_bad_arguments_are_named_before_any_job_starts(tmp_path):
    settings = load_settings()
    with pytest.raises(InputRejected, match="Unknown export format 'zip'"):
        jobs.start(settings, "export", {"adapter": "x", "format": "zip"})
    with pytest.raises(InputRejected, match="Pick an adapter"):
        jobs.start(settings, "export", {"adapter": " ", "format": "lora"})
    with pytest.raises(UserFacingError, match="no-such-adapter"):
        jobs.start(settings, "export", {"adapter": "no-such-adapter", "format": "lora"})
    with pytest.raises(InputRejected, match="limit must be a positive"):
        jobs.start(settings, "eval", {"suite": "safety", "limit": -1})
    with pytest.raises(ConfigError, match="lora_r"):
        jobs.start(settings, "train", {"config": {"lora_r": 0, "data": ["medquad"]}})
    with pytest.raises(InputRejected, match="No run named 'nope'"):
        jobs.start(settings, "train", {"resume": "nope"})
    with pytest.raises(InputRejected, match="Unknown index job 'bake'"):
        jobs.start(settings, "index", {"action": "bake"})
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(InputRejected, match="empty.txt: the file is empty"):
        jobs.start(settings, "index", {"action": "add", "files": [str(tmp_path / "empty.txt")]})
    assert not settings.path("runs").exists() and not settings.path("uploads").exists()


def test_an_upload_job_lists_every_file_in_the_order_given():
    """The index kind's reading merges the files refused before the job with the job's own statuses."""
    settings = load_settings()
    folder = jobs.create_run(
        settings,
        "index",
        {
            "action": "add",
            "files": ["a.txt", "bad.pdf", "b.md"],
            "refused": [{"name": "bad.pdf", "status": "failed", "message": "not a PDF"}],
        },
    )
    assert "files" not in jobs.progress(settings, folder.name).metrics  # not reported yet
    jobs.set_result(
        folder, files=[{"name": "a.txt", "status": "indexed"}, {"name": "b.md", "status": "unchanged"}]
    )
    jobs.log_metrics(folder, {"fraction": 1.0, "message": "indexed 1 of 2 files"})
    p = jobs.progress(settings, folder.name)
    assert [(f["name"], f["status"]) for f in p.metrics["files"]] == [
        ("a.txt", "indexed"),
        ("bad.pdf", "failed"),
        ("b.md", "unchanged"),
    ]
    assert (p.fraction, p.message) == (1.0, "indexed 1 of 2 files")


# ---- the process layer ---------------------------------------------------------------------------


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
    assert (_status(tmp_path / "bug")["state"], _status(tmp_path / "bug")["error"]) == (
        "failed",
        "RuntimeError: boom",
    )


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
    run = jobs.launch(settings, "eval", ["runs", "list"], {"what": "smoke"})
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
        run = jobs.stop(folder, grace_s=1.0)
        assert run.state == "cancelled" and run.ended and not jobs.pid_alive(proc.pid)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert not (folder / ".partial.tmp").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cancel_a_training_run_leaves_a_consistent_folder(tiny_gemma_dir, tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {"question": f"What is condition {i}?", "answer": f"Condition {i} is a disease of the lungs."}
            )
            + "\n"
            for i in range(8)
        )
    )
    cfg = train.TrainConfig(
        name="cancel-me",
        model=str(tiny_gemma_dir),
        data=(str(data),),
        max_steps=2000,
        save_steps=1,
        save_total_limit=2,
        max_length=320,
    )
    settings = load_settings()
    run = jobs.find_run(settings, jobs.start(settings, "train", {"config": cfg.to_dict()}), "train")
    folder = run.folder
    try:
        assert _wait(lambda: len(jobs.read_metrics(folder)) >= 2 or not jobs.pid_alive(run.pid)), (
            "no progress"
        )
        assert jobs.get_run(folder).state == "running", jobs.tail_log(folder)
        live = jobs.progress(settings, run.run_id)
        assert (
            live.metrics["step"] >= 1
            and live.metrics["max_steps"] == 2000
            and live.message.startswith("step ")
        )
        assert 0 < live.fraction < 1 and live.metrics["curve"][0]["step"] == 1

        child = jobs.runs._CHILDREN.pop(run.pid)  # as if the app restarted: state comes from files and /proc
        restarted = jobs.get_run(folder)
        assert (restarted.state, restarted.pid, restarted.config["name"]) == ("running", run.pid, "cancel-me")
        assert restarted.command.startswith("python -m medgemma train --config")

        cancelled = jobs.cancel(settings, run.run_id, grace_s=60)
        assert cancelled.state == "cancelled" and jobs.get_run(folder).ended and not jobs.pid_alive(run.pid)
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
    assert jobs.progress(settings, run.run_id).metrics["resumable"] == (
        train.last_checkpoint(folder) is not None
    )
