"""Reliability, reported as figures (run with -s to see them): 16 concurrent chat clients for 60 s; the chat
answering while an admin job runs; kill -9 during training, then resume; a full disk and a permission error
during export. Kill -9 during an index build: tests/knowledge/test_store.py::test_kill_9_during_build_keeps_previous_index_serving.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client
from live_app import serve

from benchmarks.load import check_answer, run_load, start_server, table
from medgemma import jobs
from medgemma.config import load_settings
from medgemma.knowledge.base import KnowledgeBase
from medgemma.training.trainer import last_checkpoint

REPO = Path(__file__).resolve().parent.parent
LOAD_CLIENTS, LOAD_SECONDS = 16, 60
QA = [
    ("What is diabetes?", "Diabetes is a disease in which blood glucose levels are above normal."),
    ("What is asthma?", "Asthma is a chronic disease that affects the airways of the lungs."),
    ("How is anemia treated?", "Treatment may include medicines, a healthy diet and iron."),
    ("What is a fever?", "A fever is a body temperature that is higher than normal."),
]


def wait_for(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.mark.slow
def test_sixteen_concurrent_chat_clients_for_a_minute(tmp_path):
    proc, url = start_server(str(tmp_path / "load-home"))
    try:
        result = run_load(url, LOAD_CLIENTS, LOAD_SECONDS, max_requests=20_000, grace=90)
    finally:
        proc.kill()
        proc.wait()
    print(
        f"\n[load] {LOAD_CLIENTS} gradio_client sessions, {LOAD_SECONDS} s, app with fakes, loopback\n"
        + table([result.row()])
    )
    assert result.errors == [] and result.hung == 0
    assert result.requests >= LOAD_CLIENTS  # every client got answers
    assert result.with_sources == result.requests  # every answer carries sources


def test_chat_keeps_answering_while_an_admin_job_runs(tmp_path, shared_data):
    """Long admin work runs as a `python -m medgemma` child process, so the chat is not starved."""
    settings = load_settings(
        env={
            "MEDGEMMA_HOME": str(tmp_path / "home"),
            "MEDGEMMA_ADMIN_PASSWORD": "pw",
            "MEDGEMMA_DATA_DIR": str(shared_data),
            "MEDGEMMA_STARTER_CORPUS": "medquad",
        }
    )
    with serve(settings) as app:
        admin, user = Client(app.url, verbose=False), Client(app.url, verbose=False)
        try:

            def ask() -> float:
                started = time.perf_counter()
                history, *_ = user.predict("What causes gout?", [], api_name="/chat")
                assert check_answer(history) == (True, "")
                return time.perf_counter() - started

            before = [ask() for _ in range(3)]
            admin.predict("pw", api_name="/admin_login")
            started = time.perf_counter()
            status, *_ = admin.predict(api_name="/kb_starter")  # the run id stays in the session's state
            handler_s = time.perf_counter() - started
            run_id = re.match(r"\*\*(.+?)\*\*", status).group(1)
            run = jobs.find_run(settings, run_id, "index")
            assert run.pid and run.pid != os.getpid() and jobs.pid_alive(run.pid)
            cmdline = Path(f"/proc/{run.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            assert "-m medgemma index build" in cmdline
            kb = KnowledgeBase(settings)  # wait until the child is embedding, not just starting up

            def embedding() -> bool:
                status = kb.build_status()
                return status.get("state") == "building" and float(status.get("fraction") or 0) > 0

            assert wait_for(embedding, 300, 0.5), jobs.tail_log(run.folder)
            progress = kb.build_status()
            during = []
            for _ in range(5):
                during.append(ask())
                assert jobs.get_run(run.folder).state == "running", jobs.tail_log(run.folder)
            status, *_ = admin.predict(api_name="/kb_cancel")
            assert "cancelled" in status
        finally:
            admin.close()
            user.close()
            for job in jobs.list_runs(settings, "index"):  # never leave a build running after a failure
                if job.pid and jobs.pid_alive(job.pid):
                    jobs.stop(job.folder, grace_s=2.0)
    print(
        f"\n[admin job] start handler returned in {handler_s:.2f} s (job pid {run.pid}); chat latency: first "
        f"answer {before[0]:.2f} s (loads the embedder), then {max(before[1:]):.2f} s max; during the index "
        f"build ({progress.get('message')}) {max(during):.2f} s max ({len(during)} answers, all with sources)"
    )


# ---- kill -9 during training, then resume ------------------------------------------------------------------


def _medgemma(args: list[str], home: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "MEDGEMMA_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen([sys.executable, "-m", "medgemma", *args], cwd=REPO, env=env, text=True, **kwargs)


@pytest.fixture(scope="module")
def killed_and_resumed(tiny_gemma_dir, tmp_path_factory):
    """A CLI training run killed with SIGKILL after a checkpoint, then resumed to the end."""
    root = tmp_path_factory.mktemp("train-kill")
    home, folder = root / "home", root / "run"
    data = root / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QA * 3))
    recipe = root / "recipe.yaml"
    recipe.write_text(
        f"model: {tiny_gemma_dir}\ndata: [{data}]\nmax_steps: 24\nsave_steps: 4\nbatch_size: 2\n"
        "max_length: 512\nsave_total_limit: 2\nwarmup_ratio: 0.0\nlearning_rate: 0.01\n"
    )
    args = ["train", "--config", str(recipe), "--out", str(folder), "--json"]
    started = time.monotonic()
    log = (root / "first.log").open("w")
    proc = _medgemma(args, home, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:

        def checkpoint_step() -> int:
            ckpt = last_checkpoint(folder) if (folder / "checkpoints").is_dir() else None
            return int(ckpt.name.split("-")[-1]) if ckpt else 0

        assert wait_for(lambda: checkpoint_step() >= 8 or proc.poll() is not None, 300, 0.05)
        assert proc.poll() is None, (
            f"training ended before the kill:\n{(root / 'first.log').read_text()[-3000:]}"
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    killed = {
        "returncode": proc.returncode,
        "checkpoint": checkpoint_step(),
        "last_step": max((m["step"] for m in jobs.read_metrics(folder)), default=0),
        "state_after_kill": jobs.get_run(folder).state,
        "adapter_after_kill": (folder / "adapter").exists(),
        "seconds": round(time.monotonic() - started, 1),
    }
    started = time.monotonic()
    resume = _medgemma([*args, "--resume"], home, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = resume.communicate(timeout=600)
    resumed = {
        "returncode": resume.returncode,
        "stdout": out,
        "stderr": err[-3000:],
        "seconds": round(time.monotonic() - started, 1),
    }
    return folder, killed, resumed


def test_kill_9_during_training_then_resume_finishes_the_run(killed_and_resumed):
    folder, killed, resumed = killed_and_resumed
    print(
        f"\n[train kill -9] killed after {killed['seconds']} s at step {killed['last_step']} (checkpoint "
        f"{killed['checkpoint']}), run read as '{killed['state_after_kill']}'; resumed in {resumed['seconds']} s"
    )
    assert killed["returncode"] == -signal.SIGKILL, "training finished before it could be killed"
    assert killed["state_after_kill"] == "failed" and not killed["adapter_after_kill"]
    assert killed["checkpoint"] >= 8
    assert resumed["returncode"] == 0, resumed["stderr"]
    result = json.loads(resumed["stdout"])
    assert result["metrics"]["steps"] == 24 and Path(result["adapter"]).is_dir()
    assert jobs.get_run(folder).state == "done"
    steps = [m["step"] for m in jobs.read_metrics(folder) if "loss" in m]
    # the resumed process logs from where the step count first goes back (or, if the killed one logged
    # nothing past its checkpoint, from the first step after it); it starts after the checkpoint, not at 1
    restart = next((i for i in range(1, len(steps)) if steps[i] <= steps[i - 1]), None)
    after = steps[restart:] if restart is not None else [s for s in steps if s > killed["checkpoint"]]
    assert after[0] == killed["checkpoint"] + 1 and after[-1] == 24, after[:5]
    state = json.loads((last_checkpoint(folder) / "trainer_state.json").read_text())
    assert state["global_step"] == 24


# ---- export: a full disk, a folder it may not write --------------------------------------------------------

EXPORT = """
import resource, signal, sys
limit = int(sys.argv[1])
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, like a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from medgemma.cli import main
sys.exit(main(["export", "--adapter", sys.argv[2], "--format", sys.argv[3], "--out", sys.argv[4]]))
"""


def _export(
    adapter: Path, fmt: str, out: Path, home: Path, fsize_limit: int = 0
) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDGEMMA_HOME": str(home), "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", EXPORT, str(fsize_limit), str(adapter), fmt, str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_full_disk_during_export_gives_a_clear_error(killed_and_resumed, tmp_path):
    folder, _, _ = killed_and_resumed
    out = tmp_path / "exports" / "merged"
    done = _export(folder / "adapter", "merged-fp32", out, tmp_path / "home", fsize_limit=64_000)
    print(f"\n[export, 64 kB file size limit] exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert re.search(r"error: The disk holding .* is full .*File too large.* Free some space", done.stderr)
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_permission_error_during_export_gives_a_clear_error(killed_and_resumed, tmp_path):
    folder, _, _ = killed_and_resumed
    if os.geteuid() == 0:
        out = Path("/sys/medgemma-export-test/lora")  # sysfs refuses new folders, even to root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = locked / "lora"
    done = _export(folder / "adapter", "lora", out, tmp_path / "home")
    print(f"\n[export, unwritable folder] exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert re.search(
        r"error: Cannot write the export to .*(not permitted|Permission denied|Read-only)", done.stderr
    )
    assert not out.exists()
