"""Concurrent chat load on loopback: N gradio_client sessions ask questions for T seconds; prints a table
(requests, errors, answers carrying sources, latency percentiles). Bounded in time and in count.

The app runs in a child process (`--serve`), as app.py builds it. By default its model, guard and knowledge
base are the test fakes (tests/fakes.py), so this measures the app and its queue, not a model; `--real`
serves the configured model (llama.cpp) with the real guard and a tiny MedQuAD knowledge base.
Run: .venv/bin/python benchmarks/load.py [--clients 16] [--seconds 60] [--real]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for _p in (REPO, REPO / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

QUESTIONS = [
    "What causes gout?",
    "What are the symptoms of anemia?",
    "How is high blood pressure treated?",
    "What is glaucoma?",
    "How can I prevent type 2 diabetes?",
    "What is psoriasis?",
    "How is asthma diagnosed?",
    "What causes kidney stones?",
]
SOURCES_TITLE = "📚 Sources"


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # question sent -> final answer, seconds
    first_tokens: list[float] = field(default_factory=list)  # question sent -> first answer text
    with_sources: int = 0
    errors: list[str] = field(default_factory=list)
    hung: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies) + len(self.errors)

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies) or [float("nan")]
        first = sorted(self.first_tokens) or [float("nan")]
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "errors": len(self.errors) + self.hung,
            "with sources": self.with_sources,
            "req/s": round(self.requests / self.seconds, 2) if self.seconds else 0.0,
            "p50 s": round(pct(lat, 0.50), 3),
            "p95 s": round(pct(lat, 0.95), 3),
            "max s": round(lat[-1], 3),
            "first text p50 s": round(pct(first, 0.50), 3),
        }


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _text(message: dict) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else str(content)


def check_answer(history: list[dict]) -> tuple[bool, str]:
    """(carries sources, problem): an answer must have a Sources panel with links and answer text."""
    panels = [m for m in history if (m.get("metadata") or {}).get("title", "").startswith(SOURCES_TITLE)]
    answers = [
        m for m in history if m.get("role") == "assistant" and not m.get("metadata") and _text(m).strip()
    ]
    if not answers:
        return False, "no answer text"
    return bool(panels and "http" in _text(panels[0])), ""


def _ask(client: Any, question: str) -> tuple[float, float | None, list[dict]]:
    from admin.chat_render import WRITING  # the answer's status before its first verified sentence

    started = time.perf_counter()
    first = None
    history: list[dict] = []
    job = client.submit(question, [], api_name="/chat")
    for output in job:  # streamed updates; the first one holds only the question
        history = output[0]
        if first is None and any(  # the first verified sentence (the "Writing ..." status is not one)
            m.get("role") == "assistant" and not m.get("metadata") and _text(m) and _text(m) != WRITING
            for m in history
        ):
            first = time.perf_counter() - started
    final = job.outputs()
    history = final[-1][0] if final else history
    return time.perf_counter() - started, first, history


def run_load(
    url: str, clients: int = 16, seconds: float = 60.0, max_requests: int = 100_000, grace: float = 60.0
) -> LoadResult:
    """Each client asks questions back to back until `seconds` pass (or `max_requests` in all); a client
    still waiting `grace` seconds after the end counts as hung."""
    from gradio_client import Client

    result = LoadResult(clients, seconds)
    lock = threading.Lock()
    budget = [max_requests]
    deadline = time.monotonic() + seconds

    def worker(index: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # noqa: BLE001 - counted, shown in the table
            with lock:
                result.errors.append(f"connect: {exc!r}")
            return
        n = 0
        try:
            while time.monotonic() < deadline:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                question = QUESTIONS[(index + n) % len(QUESTIONS)]
                n += 1
                try:
                    latency, first, history = _ask(client, question)
                    sources, problem = check_answer(history)
                except Exception as exc:  # noqa: BLE001
                    latency, first, sources, problem = 0.0, None, False, repr(exc)
                with lock:
                    if problem:
                        result.errors.append(f"{question}: {problem}")
                        continue
                    result.latencies.append(latency)
                    result.with_sources += int(sources)
                    if first is not None:
                        result.first_tokens.append(first)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, deadline + grace - time.monotonic()))
    result.hung = sum(t.is_alive() for t in threads)
    result.seconds = time.monotonic() - started
    return result


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = [" | ".join(k.ljust(widths[k]) for k in keys), "-+-".join("-" * widths[k] for k in keys)]
    lines += [" | ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines)


# ---- the server side ---------------------------------------------------------------------------------


def serve(real: bool) -> None:
    """Build and launch the app (fakes unless `real`), warm it up, print READY <url>, serve until killed."""
    from live_app import fake_services
    from live_app import serve as serve_app

    from medgemma.chat.pipeline import ChatSettings, answer
    from medgemma.chat.services import Services
    from medgemma.config import load_settings

    settings = load_settings(overrides={"chat_rate_per_minute": 1_000_000})
    if real:
        cached = REPO / ".cache" / "test-models" / "models"  # packaged models the tests already prepared
        if not settings.path("models").exists() and cached.is_dir():
            settings.path("models").parent.mkdir(parents=True, exist_ok=True)
            settings.path("models").symlink_to(cached)
        services = Services(settings)
        _tiny_knowledge_base(settings)
    else:
        services = fake_services(settings)
    list(answer("What causes gout?", [], ChatSettings.from_settings(settings), services))  # warm-up: loads
    # the embedder (and the model) once, as a running app would have
    with serve_app(settings, services) as app:
        print(f"READY {app.url}", flush=True)
        while True:
            time.sleep(3600)


def _tiny_knowledge_base(settings: Any, records: int = 300) -> None:
    """A small MedQuAD index under the data home (real embeddings), unless one exists."""
    import gzip

    from medgemma.knowledge.base import KnowledgeBase

    kb = KnowledgeBase(settings)
    if kb.snapshot() is not None:
        return
    source = (settings.data_path or Path("/nonexistent")) / "corpus" / "medquad_answered.jsonl.gz"
    if not source.is_file():
        raise SystemExit(f"--real needs {source} (the shared MedQuAD data) or a built index")
    target = settings.path("tiny-medquad.jsonl")
    with gzip.open(source, "rt", encoding="utf-8") as fh, target.open("w", encoding="utf-8") as out:
        for n, line in enumerate(fh):
            if n >= records:
                break
            out.write(line)
    kb.add_files([target], limits=False)


def start_server(home: str, real: bool = False, timeout: float = 900.0) -> tuple[subprocess.Popen, str]:
    """Start `load.py --serve` with its data home in `home`; returns the child and the app's URL once ready."""
    env = {**os.environ, "MEDGEMMA_HOME": home, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    args = [sys.executable, __file__, "--serve"] + (["--real"] if real else [])
    Path(home).mkdir(parents=True, exist_ok=True)
    log = Path(home) / "load-server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY "):
            return proc, line.split()[1]
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise RuntimeError(f"the app did not start; see {log}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--real", action="store_true", help="the configured model, real guard and knowledge base")
    ap.add_argument("--url", help="load an app that is already running instead of starting one")
    ap.add_argument("--home", help="data home for the app (kept; with --real its tiny index is reused)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.real)
        return
    with tempfile.TemporaryDirectory(prefix="medgemma-load-") as scratch:
        proc, url = (None, args.url) if args.url else start_server(args.home or scratch, args.real)
        try:
            result = run_load(url, args.clients, args.seconds, args.max_requests)
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()
    print(
        f"app: {'real model, guard and knowledge base' if args.real else 'fakes (scripted model)'} at {url}"
    )
    print(table([result.row()]))
    if result.errors:
        print(f"\n{len(result.errors)} errors; first: {result.errors[:3]}")
    if result.latencies:
        print(f"mean {statistics.mean(result.latencies):.3f} s over {len(result.latencies)} answers")


if __name__ == "__main__":
    main()
