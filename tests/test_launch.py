"""The app starts on a CPU-starved machine: Gradio's own launch-time probe of localhost (a HEAD with a 3 s
timeout, abandoned at the first timeout) made launch raise "When localhost is not accessible, a shareable
link must be created" when another thread of the process held the GIL; app.launch skips that probe."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import gradio as gr
import pytest

ROOT = Path(__file__).resolve().parent.parent

STARVED = textwrap.dedent(
    """
    import sys, threading, time
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from live_app import fake_services, free_port
    from medgemma.config import load_settings
    from app import build_app, launch
    import httpx

    settings = load_settings(env={{"MEDGEMMA_HOME": {home!r}}})
    demo, _ = build_app(settings, fake_services(settings))

    def hog():  # a C call that keeps the GIL for about half a second at a time, over and over
        while True:
            sum(range(3 * 10**7))

    threading.Thread(target=hog, daemon=True).start()
    for attempt in range(5):  # a free port can be taken between free_port() and the bind: pick another
        port = free_port()
        try:
            {launcher}
            break
        except OSError:
            if attempt == 4:
                raise
    print("status", httpx.get(f"http://127.0.0.1:{{port}}/", timeout=120).status_code, flush=True)
    demo.close()
    """
)
GRADIO_LAUNCH = (
    'demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)'
)
APP_LAUNCH = 'launch(demo, settings, host="127.0.0.1", port=port, block=False, quiet=True)'


def _start(tmp_path: Path, launcher: str) -> subprocess.CompletedProcess:
    script = STARVED.format(root=str(ROOT), tests=str(ROOT / "tests"), home=str(tmp_path), launcher=launcher)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=280)


def test_gradio_still_has_the_switch_app_launch_relies_on():
    assert "_frontend" in inspect.signature(gr.Blocks.launch).parameters


@pytest.mark.slow
def test_app_starts_while_another_thread_starves_the_gil(tmp_path):
    """Both halves run under the same starvation: app.launch serves the page. Gradio's plain launch loses
    its probe's race most of the time (3 of 3 runs on an idle machine, but it won once in a CI run where the
    suite's other work changed the timing), so it is not required to fail: when it does, it must be with
    the localhost error that app.launch avoids."""
    plain = _start(tmp_path, GRADIO_LAUNCH)
    assert plain.returncode == 0 or "When localhost is not accessible" in plain.stderr, plain.stderr[-2000:]
    ours = _start(tmp_path, APP_LAUNCH)
    assert ours.returncode == 0 and "status 200" in ours.stdout, ours.stderr[-2000:]
