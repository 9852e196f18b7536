"""The chat as a visitor sees it with the defaults: the shipped reference adapter in llama.cpp, on a fresh
data home (the MedQuAD starter build running: keyword side first, meaning search filling in behind).
Asks the chat's example questions in headless Chromium (Debian's chromium), one at a time, and for each
saves a screenshot, the time to the first verified sentence on screen and to the finished answer, and
the [n] links with the URLs they open.

Run: .venv/bin/python scripts/answer_screenshots.py [--out artifacts/screenshots] [--adapter reference]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from admin.chat import EXAMPLES  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
QUESTIONS = ["What are the symptoms of gout?", *EXAMPLES]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(home: Path, port: int, adapter: str) -> subprocess.Popen:
    models = Path(os.path.expanduser("~/.medgemma/models"))
    shutil.copytree(models, home / "models", copy_function=os.link)  # hard links: no second copy on disk
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEDGEMMA_")},
        "MEDGEMMA_HOME": str(home),
        "MEDGEMMA_PORT": str(port),
        "MEDGEMMA_ADAPTER": adapter,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = (home / "app.log").open("wb")
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=log)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> float:
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited ({proc.returncode}); see its log")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return time.monotonic() - t
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"no HTTP 200 from {url} within {timeout:.0f} s")


END = r"Support:|don't know|no source|Call \d|Llame|doctor today"
LINKS = "() => [...document.querySelectorAll('#chatbot a')].map(a => [a.innerText.trim(), a.href])"


def ends(page) -> int:
    return page.evaluate(f"() => (document.querySelector('#chatbot').innerText.match(/{END}/g) || []).length")


def ask(page, question: str, timeout_s: float) -> dict:
    """Send one question; time its first [n] sentence on screen and its end (the Support line or an
    answer without sources); the [n] links that appeared with it."""
    before_text, before_ends, before_links = page.inner_text("#chatbot"), ends(page), page.evaluate(LINKS)
    page.fill("#question textarea", question)
    page.click("#send")
    t, first, finished = time.monotonic(), None, False
    while time.monotonic() - t < timeout_s:
        new = page.inner_text("#chatbot")[len(before_text) :]
        if first is None and re.search(r"\[\d+\]", new):
            first = round(time.monotonic() - t, 2)
        if ends(page) > before_ends:
            finished = True
            break
        time.sleep(0.2)
    links = page.evaluate(LINKS)[len(before_links) :]
    return {
        "question": question,
        "first_cited_sentence_s": first,
        "done_s": round(time.monotonic() - t, 1),
        "finished": finished,
        "links": links,
        "text": page.inner_text("#chatbot")[len(before_text) :].strip()[:3000],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "screenshots"))
    ap.add_argument("--adapter", default="reference")
    ap.add_argument("--warmup", type=float, default=75, help="seconds to let the keyword side build first")
    ap.add_argument("--timeout", type=float, default=120, help="seconds allowed per answer")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="medgemma-answers-ui-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start(home, port, args.adapter)
    results = []
    try:
        print(f"HTTP 200 after {wait_ready(url, proc):.1f} s; letting the keyword side build", flush=True)
        time.sleep(args.warmup)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url)
            page.wait_for_selector("#question textarea")
            for i, q in enumerate(QUESTIONS, 1):
                r = ask(page, q, args.timeout)
                shot = out / f"answer-{i}.png"
                page.screenshot(path=str(shot), full_page=True)
                r["screenshot"] = str(shot)
                results.append(r)
                print(json.dumps(r), flush=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    (out / "answers.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"log: {home / 'app.log'}")


if __name__ == "__main__":
    main()
