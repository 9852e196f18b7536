"""A person's walk through the real app, in headless Chromium: ask a MedQuAD question and open a citation,
then log in, upload a CSV in the Training tab, train a few LoRA steps on the default model, watch the loss,
use the new adapter in the chat without a restart, go back to the base model, export the adapter to GGUF
q8_0 in the Export tab and chat with that file through llama.cpp.

Unlike tests/test_e2e_browser.py (fakes, seconds), this runs the real packaged models and the knowledge base
of --home, so it takes minutes. It prints what it saw and saves screenshots to artifacts/walkthrough/.

    .venv/bin/python scripts/walkthrough.py --home ~/.medgemma [--steps 4] [--skip-training]
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "artifacts" / "walkthrough"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
ROWS = [
    ("What is gout?", "Gout is a form of arthritis caused by too much uric acid in the blood [1]."),
    ("What causes anemia?", "Anemia is most often caused by too little iron in the body [1]."),
    ("What is glaucoma?", "Glaucoma is a group of eye diseases that damage the optic nerve [1]."),
    (
        "What is asthma?",
        "Asthma is a chronic disease that inflames and narrows the airways of the lungs [1].",
    ),
    (
        "What are kidney stones?",
        "Kidney stones are hard deposits of minerals and salts that form in the kidneys [1].",
    ),
    ("What is psoriasis?", "Psoriasis is a skin disease that causes red, itchy, scaly patches [1]."),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(home: str, password: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "MEDGEMMA_HOME": home,
        "MEDGEMMA_ADMIN_PASSWORD": password,
        "MEDGEMMA_PORT": str(port),
        "MEDGEMMA_HOST": "127.0.0.1",
    }
    proc = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(SHOTS / "app.log", "w"),
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited ({proc.returncode}); see {SHOTS / 'app.log'}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("the app did not answer within 10 minutes")


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    print(f"  screenshot {SHOTS / name}.png")


def ask(page, question: str, timeout_s: float) -> dict:
    """Ask, wait for the verified answer (its support line), and return what the chat shows."""
    before = page.locator("#chatbot").inner_text()
    page.fill("#question textarea", question)
    started = time.monotonic()
    page.click("#send")
    page.wait_for_function(
        "n => document.querySelector('#chatbot').innerText.split('Support:').length - 1 > n",
        arg=before.count("Support:"),
        timeout=timeout_s * 1000,
    )
    links = page.locator("#chatbot a[href^='http']")
    hrefs = sorted({links.nth(i).get_attribute("href") for i in range(links.count())})
    return {
        "seconds": round(time.monotonic() - started, 1),
        "text": page.locator("#chatbot").inner_text(),
        "hrefs": hrefs,
    }


def chat_part(page, question: str) -> None:
    print(f"Chat: {question!r}")
    seen = ask(page, question, timeout_s=300)
    shot(page, "1-chat-answer")
    print(f"  answered in {seen['seconds']} s; source links: {seen['hrefs']}")
    answer_links = page.locator(
        "#chatbot .message.bot a[href^='http'], #chatbot [data-testid='bot'] a[href^='http']"
    )
    if answer_links.count():
        first = answer_links.first
        with page.context.expect_page() as opened:
            first.click()
        print(f"  clicking [{first.inner_text().strip()}] opened {opened.value.url}")
        opened.value.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def training_part(page, password: str, steps: int) -> str:
    print("Admin: log in")
    open_tab(page, "Admin")
    page.fill("#admin-password input", password)
    page.click("#admin-login")
    page.wait_for_function("() => document.querySelector('#admin-status').innerText.includes('Logged in')")
    open_tab(page, "Training")
    data = Path(tempfile.mkdtemp()) / "clinic-faq.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "answer"])
        writer.writerows(ROWS)
    page.locator("#train-upload input[type=file]").set_input_files(str(data))
    page.wait_for_function(
        "() => /usable/.test(document.querySelector('#train-preview-note').innerText)", timeout=120_000
    )
    remove = page.locator("#train-sources .token-remove.remove-all")
    if remove.count():  # train on the CSV alone: drop the preselected built-in source
        remove.first.click()
    print(f"  upload preview: {page.locator('#train-preview-note').inner_text()[:200]!r}")
    for label, value in (
        ("Max steps (0 = epochs)", steps),
        ("Batch size", 1),
        ("Max length (tokens)", 256),
        ("Log every N steps", 1),
        ("Checkpoint every N steps", max(1, steps // 2)),
    ):
        field = page.get_by_label(label, exact=True)
        field.fill(str(value))
        field.press("Tab")
    page.wait_for_timeout(500)
    page.click("#train-start")
    started = time.monotonic()
    page.wait_for_function(
        "() => /done|failed|cancelled/.test(document.querySelector('#train-status').innerText)",
        timeout=1_800_000,
    )
    status = page.locator("#train-status").inner_text()
    print(f"  training finished in {time.monotonic() - started:.0f} s: {status.splitlines()[0]!r}")
    print(f"  {' '.join(status.split())[:300]}")
    shot(page, "2-training-done")
    if "done" not in status:
        raise SystemExit("training did not finish")
    page.click("#train-use-run")
    page.wait_for_function("() => document.querySelector('#train-active').innerText.length > 0")
    print(f"  {page.locator('#train-active').inner_text()!r}")
    open_tab(page, "Chat")
    seen = ask(page, "What is gout?", timeout_s=600)
    shot(page, "3-chat-with-adapter")
    last = seen["text"].rsplit("What is gout?", 1)[-1]
    print(f"  with the adapter, answered in {seen['seconds']} s: {' '.join(last.split())[:300]!r}")
    open_tab(page, "Admin")
    open_tab(page, "Training")
    page.click("#train-base")
    page.wait_for_function("() => /base model/i.test(document.querySelector('#train-active').innerText)")
    print(f"  {page.locator('#train-active').inner_text()!r}")
    return run_id_from(status)


def run_id_from(status: str) -> str:
    return status.split()[0].strip("*")


def export_part(page, run_id: str, fmt_label: str = "GGUF q8_0 (llama.cpp)") -> None:
    print(f"Export: {run_id} as {fmt_label}")
    open_tab(page, "Admin")
    open_tab(page, "Export")
    page.click("#export-refresh")
    pick(page, "#export-adapter", run_id)
    pick(page, "#export-format", fmt_label)
    page.wait_for_timeout(500)
    print(f"  command: {page.locator('#export-command textarea').input_value()}")
    started = time.monotonic()
    page.click("#export-start")
    page.wait_for_function(
        "() => /done|failed|cancelled/.test(document.querySelector('#export-status').innerText)",
        timeout=1_800_000,
    )
    status = " ".join(page.locator("#export-status").inner_text().split())
    print(f"  export finished in {time.monotonic() - started:.0f} s: {status[:300]!r}")
    shot(page, "4-export-done")
    open_tab(page, "Chat")
    page.get_by_text("Settings", exact=True).click()
    pick(page, "#chat-model", f"export: {run_id}-")
    seen = ask(page, "What is gout?", timeout_s=600)
    shot(page, "5-chat-with-gguf-export")
    last = seen["text"].rsplit("What is gout?", 1)[-1]
    print(f"  through the export, answered in {seen['seconds']} s: {' '.join(last.split())[:300]!r}")
    loads = [line.strip() for line in (SHOTS / "app.log").read_text().splitlines() if "Loading " in line]
    print(f"  app log: {loads[-1] if loads else 'no model load logged'}")


def pick(page, elem_id: str, text: str) -> None:
    """Choose the first option of a Gradio dropdown whose label contains `text`."""
    box = page.locator(f"{elem_id} input")
    box.click()
    page.locator("ul[role=listbox] li", has_text=text).first.click()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--home", default=str(Path.home() / ".medgemma"), help="data home with models and an index"
    )
    ap.add_argument("--question", default="What are the symptoms of gout?")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--skip-export", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    proc, url = start_app(args.home, password)
    print(f"app at {url} (home {args.home})")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            # no internet here: a citation's page opens as a stand-in, so the URL it went to can be read
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(url)
                    else route.fulfill(
                        status=200, content_type="text/html", body="<title>source</title>stand-in"
                    )
                ),
            )
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("#question textarea")
            chat_part(page, args.question)
            if not args.skip_training:
                run_id = training_part(page, password, args.steps)
                if not args.skip_export:
                    export_part(page, run_id)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
