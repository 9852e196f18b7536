"""Two real app processes on different ports, with their own data homes and one PostgreSQL database, behave
as one app: an upload through one is searchable (and cited in the chat) through the other, feedback given
through both is stored once each, an admin lock-out triggered through one holds on the other, and the
upload's index job started through one is seen by the other. Only the chat model is a fake (the scripted
one of tests/fakes.py, as tests/live_app.py uses); the database, the knowledge store, the embedder, the
guard and the index job are real."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from gradio_client import Client, handle_file
from live_app import free_port, rest_call

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "replica-admin-pw"
ANSWER = "Gout is caused by too much uric acid in the blood [1]."
DOCUMENT = (
    "Gout\n\nGout is caused by too much uric acid in the blood. Uric acid crystals collect in a joint, "
    "most often the big toe, which becomes hot, swollen and very painful. Attacks come on over hours.\n"
)
LAUNCHER = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from fakes import ScriptedBackend
    from app import build_app, launch
    from medgemma.chat.services import Services
    from medgemma.config import load_settings
    from medgemma.logs import setup_logging

    settings = load_settings()
    setup_logging(settings.log_level)
    demo, _ = build_app(settings, Services(settings, backend=ScriptedBackend({answer!r})))
    launch(demo, settings, block=True, quiet=True)
    """
)


@dataclass
class Replica:
    url: str
    home: Path
    proc: subprocess.Popen
    log: Path


def replica_env(url: str, home: Path, port: int) -> dict[str, str]:
    """The environment of one replica: its own home and port, the shared database, the admin password."""
    return {
        **os.environ,
        "MEDGEMMA_HOME": str(home),
        "MEDGEMMA_HOST": "127.0.0.1",
        "MEDGEMMA_PORT": str(port),
        "MEDGEMMA_DATABASE_URL": url,
        "MEDGEMMA_ADMIN_PASSWORD": PASSWORD,
        "MEDGEMMA_STARTER_CORPUS": "none",
        "MEDGEMMA_SAFETY_LEARNED": "false",
        "MEDGEMMA_TRUSTED_PROXIES": "127.0.0.1",  # the test plays a proxy: X-Forwarded-For names the visitor
        "MEDGEMMA_LOG_LEVEL": "WARNING",
    }


def start(url: str, home: Path) -> Replica:
    """Start one app process (python -c LAUNCHER); `ready` waits until it serves its page."""
    home.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), home.parent / f"{home.name}.log"
    code = LAUNCHER.format(root=str(ROOT), tests=str(ROOT / "tests"), answer=ANSWER)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=replica_env(url, home, port), stdout=out, stderr=out
        )
    return Replica(f"http://127.0.0.1:{port}", home, proc, log)


def ready(app: Replica, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert app.proc.poll() is None, app.log.read_text()[-3000:]
        try:
            if httpx.get(app.url + "/", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "replica did not start:\n" + app.log.read_text()[-3000:]
        time.sleep(0.5)


def stop(app: Replica) -> None:
    app.proc.terminate()
    try:
        app.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        app.proc.kill()
        app.proc.wait()


@contextmanager
def replicas(url: str, *homes: Path) -> Iterator[list[Replica]]:
    """Start the app processes at once (each migrates the database on start: the first to take the lock
    applies the migrations), wait until all serve, stop them at the end."""
    apps: list[Replica] = []
    try:
        apps.extend(start(url, home) for home in homes)
        for app in apps:
            ready(app)
        yield apps
    finally:
        for app in apps:
            stop(app)


def admin(app: Replica) -> Client:
    client = Client(app.url + "/", verbose=False)
    assert "Logged in" in client.predict(PASSWORD, api_name="/admin_login")[0]
    return client


def login_as(app: Replica, password: str, visitor: str) -> str:
    """An admin login through the REST API from `visitor` (behind the trusted proxy); the status line."""
    event, payload = rest_call(app.url, "admin_login", [password], headers={"X-Forwarded-For": visitor})
    assert event == "complete", payload
    return payload[1]


def sources_of(history: list[dict]) -> str:
    panels = [m for m in history if (m.get("metadata") or {}).get("title", "").startswith("📚 Sources")]
    return " ".join(str(m["content"]) for m in panels)


def wait_for(predicate, timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


@pytest.mark.slow
def test_two_app_processes_on_one_database_behave_as_one_app(pg_url, tmp_path):
    (tmp_path / "gout.txt").write_text(DOCUMENT, encoding="utf-8")
    with ExitStack() as stack:  # both start on an empty database at once
        one, two = stack.enter_context(replicas(pg_url, tmp_path / "one", tmp_path / "two"))
        admin1, admin2 = admin(one), admin(two)
        stack.callback(admin1.close), stack.callback(admin2.close)

        # an upload through replica 1 runs as an index job; replica 2 sees that job: it refuses a second one
        status, command, *_ = admin1.predict(
            [handle_file(str(tmp_path / "gout.txt"))], "", "", "", api_name="/kb_add"
        )
        job_id = status.split("**")[1]
        assert "index add" in command
        with pytest.raises(Exception, match=f"Index job {job_id} is still running"):
            admin2.predict(api_name="/kb_rebuild")

        # replica 2 finds the document once the job has committed it, in the Knowledge tab and in the chat
        def listed() -> bool:
            _, docs, _ = admin2.predict("", api_name="/kb_documents")
            return [d[0] for d in docs["data"]] == ["gout.txt"]

        assert wait_for(listed, timeout=300), (one.log.read_text()[-3000:], two.log.read_text()[-3000:])
        hits = admin2.predict("what causes gout", 3, 0.0, api_name="/kb_search")
        assert hits["data"][0][1].lower() == "gout" and float(hits["data"][0][4]) > 0.3, hits
        visitor2 = Client(two.url + "/", verbose=False)
        stack.callback(visitor2.close)
        history, *_ = visitor2.predict("What causes gout?", [], api_name="/chat")
        assert "gout.txt" in sources_of(history) or "Gout" in sources_of(history), history

        # feedback through both replicas: stored once each, in the one database
        visitor1 = Client(one.url + "/", verbose=False)
        stack.callback(visitor1.close)
        visitor1.predict("What causes gout?", [], api_name="/chat")
        assert "saved" in visitor1.predict("from replica one", api_name="/feedback_up")[0]
        assert "saved" in visitor2.predict("from replica two", api_name="/feedback_down")[0]
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute(
                "SELECT rating, record->>'comment', record->>'answer' FROM feedback"
            ).fetchall()
            [(kb_job_state,)] = conn.execute("SELECT state FROM jobs WHERE id = %s", (job_id,)).fetchall()
        assert sorted(r[:2] for r in rows) == [("down", "from replica two"), ("up", "from replica one")]
        assert all("uric acid" in r[2] for r in rows) and kb_job_state == "done"
        for app in (one, two):  # nothing of it in either data home's files
            assert not (app.home / "feedback").exists() and not (app.home / "audit").exists()

        # five wrong passwords through replica 1 lock that visitor out of replica 2 too, and only them
        for _ in range(5):
            assert "Wrong admin password" in login_as(one, "guess", "203.0.113.9")
        assert "Too many failed logins" in login_as(two, PASSWORD, "203.0.113.9")
        assert "Logged in" in login_as(two, PASSWORD, "198.51.100.7")
        with psycopg.connect(pg_url) as conn:
            actions = [
                r[0] for r in conn.execute("SELECT record->>'action' FROM audit_log WHERE stream = 'admin'")
            ]
        assert actions.count("login_failed") == 5 and "kb-add" in actions
        assert one.proc.poll() is None and two.proc.poll() is None
