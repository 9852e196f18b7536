"""Shared fixtures: every test gets its own data home and Gradio temp dir under tmp_path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
for _p in (REPO, REPO / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Point MEDGEMMA_HOME and GRADIO_TEMP_DIR at tmp_path; drop MEDGEMMA_* settings from the caller."""
    for key in list(os.environ):
        if key.startswith("MEDGEMMA_"):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MEDGEMMA_HOME", str(home))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    if SHARED_DATA.is_dir():
        monkeypatch.setenv("MEDGEMMA_DATA_DIR", str(SHARED_DATA))
    return home


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def models_cache() -> Path:
    """A data home shared across tests for prepared packaged models (assembled GGUF, converted HF)."""
    path = Path(os.environ.get("MEDGEMMA_TEST_MODELS", REPO / ".cache" / "test-models"))
    path.mkdir(parents=True, exist_ok=True)
    return path


from tiny_gemma import tiny_gemma_dir  # noqa: E402,F401  (session fixture: a 2-layer Gemma3 on disk)
