"""Shared state on a real PostgreSQL: two Settings with their own data homes and one database URL play two
replicas. Feedback is stored once each (a retry after a lost connection too, and from two processes at
once), audit records, lock-outs, the job list (a real job) and the active adapter are the same from both,
and nothing of it lands in the data home's files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from medgemma import jobs
from medgemma.auth import AdminAuth
from medgemma.chat.feedback import good_examples, record_feedback
from medgemma.config import Settings
from medgemma.db.state import PgLockouts, feedback_store, shared_database
from medgemma.errors import AuthError, InputRejected
from medgemma.jobs.registry import HOST
from medgemma.models import adapters
from medgemma.safety import audit

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE = {"passages": [{"n": 1, "title": "Gout", "url": "u", "text": "Uric acid."}], "model": "m"}


@pytest.fixture
def replicas(pg_db, tmp_path):
    """Two replicas' settings: one database, two data homes."""
    return tuple(
        Settings(home=str(tmp_path / name), database_url=pg_db, admin_password="pw", data_dir="")
        for name in ("one", "two")
    )


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def _no_files(settings: Settings) -> None:
    home = settings.home_path
    written = [p for p in home.rglob("*.json*")] if home.exists() else []
    assert not written, written


# ---- feedback -------------------------------------------------------------------------------------


def test_feedback_from_both_replicas_is_stored_once_each(replicas):
    one, two = replicas
    a = record_feedback(one, "What causes gout?", "Uric acid [1].", "up", "clear", EVIDENCE)
    b = record_feedback(two, "What is gout?", "A kind of arthritis.", "down", "", {})
    seen = list(feedback_store(two).records())
    assert [r["id"] for r in seen] == [a["id"], b["id"]] and seen[0]["passages"][0]["text"] == "Uric acid."
    assert [r["question"] for r in good_examples(one)] == ["What causes gout?"]  # training reads the same
    feedback_store(one).add(a)  # the same record again (a retried write): still stored once
    assert _rows(one.database_url, "SELECT count(*) FROM feedback") == [(2,)]
    _no_files(one), _no_files(two)


def _drop_connections(url: str) -> None:
    killed = _rows(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert killed and all(ok for (ok,) in killed)


def test_calls_after_the_server_dropped_the_connections_are_retried_once_and_store_once(replicas):
    one, _ = replicas
    record_feedback(one, "q1", "a1", "up")  # leaves a connection in the pool
    _drop_connections(one.database_url)
    assert [r["question"] for r in feedback_store(one).records()] == ["q1"]  # a read
    _drop_connections(one.database_url)
    record_feedback(one, "q2", "a2", "down")  # a write
    assert _rows(one.database_url, "SELECT record->>'question' FROM feedback ORDER BY seq") == [
        ("q1",),
        ("q2",),
    ]


def test_bad_feedback_is_refused_before_anything_is_stored(replicas):
    one, _ = replicas
    with pytest.raises(InputRejected, match="Rating must be"):
        record_feedback(one, "q", "a", "sideways")
    assert _rows(one.database_url, "SELECT count(*) FROM feedback") == [(0,)]


def test_two_processes_writing_feedback_at_once_lose_nothing(replicas):
    one, _ = replicas
    code = (
        "import sys; from medgemma.config import Settings; from medgemma.chat.feedback import record_feedback\n"
        "s = Settings(home=sys.argv[2], database_url=sys.argv[1], data_dir='')\n"
        "for i in range(25): record_feedback(s, f'{sys.argv[3]} q{i}', 'answer', 'up')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, one.database_url, one.home, name], cwd=ROOT)
        for name in ("left", "right")
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    rows = _rows(
        one.database_url, "SELECT split_part(record->>'question', ' ', 1), count(*) FROM feedback GROUP BY 1"
    )
    assert sorted(rows) == [("left", 25), ("right", 25)]


# ---- audit logs ---------------------------------------------------------------------------------------


def test_audit_records_of_both_replicas_are_in_one_log(replicas):
    one, two = replicas
    audit.write(one, "safety", {"stage": "input", "label": "emergency", "session": "s1"})
    AdminAuth(two, on_space=False).audit("admin", "kb-add", {"files": 1})
    assert [r["label"] for r in audit.read(two, "safety")] == ["emergency"]
    assert [r["action"] for r in audit.read(one, "admin")] == ["kb-add"]
    with pytest.raises(ValueError, match="unknown audit stream"):
        audit.write(one, "other", {})
    _no_files(one), _no_files(two)


def test_the_safety_guard_audits_into_the_database(replicas):
    from medgemma.safety.guard import SafetyGuard

    one, two = replicas
    guard = SafetyGuard(replace(one, safety_learned=False))
    verdict = guard.check_input("I have crushing chest pain and can't breathe", session_id="visitor-1")
    assert verdict.label == "emergency"
    [row] = list(audit.read(two, "safety"))
    assert row["label"] == "emergency" and row["stage"] == "input" and "text" not in row


# ---- lock-outs -----------------------------------------------------------------------------------------


def test_a_lock_out_through_one_replica_holds_on_the_other(replicas):
    one, two = replicas
    first, second = AdminAuth(one, on_space=False), AdminAuth(two, on_space=False)
    for _ in range(5):
        with pytest.raises(AuthError, match="Wrong admin password"):
            first.login("guess", client="203.0.113.9")
    with pytest.raises(AuthError, match="Too many failed logins"):
        second.login("pw", client="203.0.113.9")  # even the right password, on the other replica
    assert second.login("pw", client="198.51.100.1").user == "admin"  # another client is not locked out
    stored = _rows(one.database_url, "SELECT DISTINCT client FROM login_failures")
    assert stored and "203.0.113.9" not in str(stored) and len(stored[0][0]) == 64  # hashed, not the address


def test_a_lock_out_ends_with_its_window_and_a_good_login_clears_failures(replicas):
    one, two = replicas
    db = shared_database(one)
    left, right = PgLockouts(db, 2, 1.0), PgLockouts(shared_database(two), 2, 1.0)
    left.record("c"), left.record("c")
    assert 0.0 < right.wait_s("c") <= 1.0 and right.wait_s("other") == 0.0 and right.keys() == 1
    time.sleep(1.2)
    assert right.wait_s("c") == 0.0
    left.record("c"), right.reset("c")
    assert _rows(one.database_url, "SELECT count(*) FROM login_failures") == [(0,)]


# ---- jobs ----------------------------------------------------------------------------------------------


def test_a_job_started_through_one_replica_is_listed_by_the_other(replicas, shared_data):
    one, two = replicas
    one = replace(one, data_dir=str(shared_data))
    job_id = jobs.start(one, "eval", {"suite": "safety", "limit": 3, "rag": False})
    [listed] = jobs.list(two)
    assert listed.job_id == job_id and listed.kind == "eval" and listed.state in ("queued", "running", "done")
    deadline = time.monotonic() + 240
    while jobs.progress(two, job_id).active and time.monotonic() < deadline:
        time.sleep(0.5)
    done = jobs.progress(two, job_id)  # read by the replica that did not start it
    assert done.state == "done" and done.result["n"] == 3 and done.config["suite"] == "safety", done
    [(state, host, pid)] = _rows(one.database_url, "SELECT state, host, pid FROM jobs")
    assert (state, host) == ("done", HOST) and pid
    assert not two.path("runs").exists()  # the run folder is on the replica that ran it


def test_a_job_running_on_another_machine_keeps_its_state_and_is_cancelled_there(replicas):
    one, two = replicas
    status = {
        "kind": "index",
        "run_id": "r1",
        "state": "running",
        "pid": 1,
        "created": "2026-12-02T17:00:00+00:00",
    }
    with psycopg.connect(one.database_url) as conn:
        conn.execute(
            "INSERT INTO jobs (id, kind, state, host, pid, folder, created, status)"
            " VALUES ('r1', 'index', 'running', 'elsewhere', 1, '/srv/runs/index/r1', %s, %s)",
            (status["created"], json.dumps(status)),
        )
    [run] = jobs.list_runs(two, "index")
    assert (run.run_id, run.state, run.host) == ("r1", "running", "elsewhere")  # no pid check across machines
    with pytest.raises(InputRejected, match="runs on elsewhere"):
        jobs.cancel(two, "r1")
    with pytest.raises(InputRejected, match="still running"):  # one index job at a time, across replicas
        jobs.start(two, "index", {"action": "rebuild"})


def test_a_job_killed_on_this_machine_reads_as_failed_and_old_run_folders_are_still_listed(
    replicas, tmp_path
):
    one, two = replicas
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs: the job's process was killed before it could record its end
    status = {
        "kind": "eval",
        "run_id": "killed",
        "state": "running",
        "pid": dead.pid,
        "created": "2026-12-02T17:00:00+00:00",
    }
    with psycopg.connect(one.database_url) as conn:
        conn.execute(
            "INSERT INTO jobs (id, kind, state, host, pid, folder, created, status)"
            " VALUES ('killed', 'eval', 'running', %s, %s, '/gone', %s, %s)",
            (HOST, dead.pid, status["created"], json.dumps(status)),
        )
    before = replace(two, database_url="")  # a run made in replica 2's home before the database was set up
    jobs.create_run(before, "train", {"recipe": "old"}, run_id="from-files")
    listed = {r.run_id: r for r in jobs.list_runs(two)}
    assert listed["killed"].state == "failed" and "killed or crashed" in listed["killed"].error
    assert listed["from-files"].state == "queued" and jobs.find_run(two, "from-files").config == {
        "recipe": "old"
    }
    assert "from-files" not in {r.run_id for r in jobs.list_runs(one)}  # it lives in replica 2's home only


# ---- the active adapter ------------------------------------------------------------------------------


def test_the_active_adapter_chosen_on_one_replica_is_used_by_the_other(replicas):
    one, two = replicas
    folder = one.path("adapters", "med-a")
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    adapters.write_manifest(folder, name="med-a", base_model="", created="2026-12-02")
    assert adapters.active_adapter_path(two) is None  # never chosen
    adapters.activate(one, "med-a")
    assert adapters.active_adapter_path(two) == str(folder) and adapters.active(two).name == "med-a"
    adapters.deactivate(two)
    assert adapters.active_adapter_path(one) == "" and adapters.active(one) is None
    assert not one.path(adapters.ACTIVE_FILE).exists() and not two.path(adapters.ACTIVE_FILE).exists()


def test_without_a_database_url_everything_stays_in_files(tmp_path):
    local = Settings(home=str(tmp_path / "solo"), admin_password="pw", data_dir="")
    assert shared_database(local) is None
    record_feedback(local, "q", "a", "up")
    audit.write(local, "safety", {"label": "harmful"})
    auth = AdminAuth(local, on_space=False)
    with pytest.raises(AuthError):
        auth.login("guess", client="c")
    assert len(local.path("feedback", "feedback.jsonl").read_text().splitlines()) == 1
    assert [r["action"] for r in audit.read(local, "admin")] == ["login_failed"]
    assert local.path("audit", "safety.jsonl").is_file() and auth._failures.keys() == 1
