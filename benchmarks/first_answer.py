"""A fresh Space's first minute: `python app.py` on an empty data home, the time to the first HTTP 200,
then the time from it to a cited answer (from the right MedQuAD page) to a question about a page near the
END of the starter corpus (the last pages the dense side reaches). Asks again every few seconds until the
answer cites the page. Prints a small table; never asserts.

Run: .venv/bin/python benchmarks/first_answer.py [--question ... --url ...] [--timeout 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from startup import free_port

REPO = Path(__file__).resolve().parent.parent
QUESTION = "What are the signs and symptoms of 47,XYY syndrome?"
URL = "ghr.nlm.nih.gov/condition/47xyy-syndrome"  # page 5,472 of 5,476 in the starter's order


def text_of(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def wait_for_200(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"no HTTP 200 within {timeout:.0f} s")


def ask(url: str, question: str) -> tuple[str, str, str]:
    """(answer text, sources panel text, status line) of one chat turn through the public API."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    try:
        history = client.predict(question, [], api_name="/chat")[0]
    finally:
        client.close()
    answers = [text_of(m) for m in history if m["role"] == "assistant" and not m.get("metadata")]
    panels = [
        text_of(m) for m in history if (m.get("metadata") or {}).get("title", "").startswith("📚 Sources")
    ]
    return (answers[-1] if answers else ""), (panels[0] if panels else ""), ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--url", default=URL, help="the page the answer must cite (a URL fragment)")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--home", default="", help="data home (default: a new empty temporary folder)")
    args = ap.parse_args()
    home = args.home or tempfile.mkdtemp(prefix="medgemma-empty-")
    port = free_port()
    env = {
        **os.environ,
        "MEDGEMMA_HOME": home,
        "MEDGEMMA_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = open(Path(home) / "app.log", "w")  # noqa: SIM115 - closed at the end
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_200(url, proc, args.timeout)
        t200 = time.perf_counter()
        tries, answer, panel = 0, "", ""
        while time.perf_counter() - t200 < args.timeout:
            tries += 1
            asked = time.perf_counter()
            answer, panel, _ = ask(url, args.question)
            took = time.perf_counter() - asked
            cited = args.url in panel and "[[" in answer
            print(
                f"  try {tries}: {time.perf_counter() - t200:6.1f} s after the 200, turn {took:5.1f} s, "
                f"{'cited' if cited else 'not cited'}: {answer[:110]!r}",
                flush=True,
            )
            if cited:
                break
            time.sleep(3)
        t_cited = time.perf_counter()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    print(f"\n| step | seconds |\n|---|---|\n| start -> first HTTP 200 | {t200 - t0:.1f} |")
    verdict = "cited" if args.url in panel else "NOT cited"
    print(f"| first 200 -> answer citing {args.url} ({verdict}, {tries} tries) | {t_cited - t200:.1f} |")
    print(f"\nquestion: {args.question}\nanswer: {answer[:400]}\napp log: {home}/app.log")


if __name__ == "__main__":
    main()
