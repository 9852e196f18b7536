"""Stores stay safe: no pickle anywhere in the repository (nor torch.load without weights_only), and paths
built from user input (safe_join, run ids) stay under the data home."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from medgemma.config import load_settings
from medgemma.errors import InputRejected
from medgemma.storage import safe_join

REPO = Path(__file__).resolve().parent.parent

PICKLE_PATTERNS = [
    (
        re.compile(r"^\s*(import|from)\s+(c?pickle|cloudpickle|dill|joblib)\b", re.M),
        "imports a pickle library",
    ),
    (re.compile(r"\bpickle\.loads?\("), "calls pickle.load"),
    (re.compile(r"allow_pickle" + r"\s*=\s*True"), "np.load that allows pickles"),
]
TORCH_LOAD = re.compile(r"torch\.load\(")
SKIP_DIRS = {
    ".venv",
    ".cache",
    ".git",
    "artifacts",
    "node_modules",
    "__pycache__",
    ".ruff_cache",
    ".pytest_cache",
}


def repo_files(suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for folder, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".medgemma")]
        found += [Path(folder) / n for n in names if n.endswith(suffixes)]
    return found


def test_no_pickle_anywhere_in_the_repository():
    problems = []
    files = repo_files((".py",))
    assert len(files) > 40
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern, what in PICKLE_PATTERNS:
            for m in pattern.finditer(text):
                problems.append(f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1} {what}")
        for m in TORCH_LOAD.finditer(text):
            call = text[m.start() : text.find(")", m.start()) + 1]
            if "weights_only=True" not in call:
                problems.append(
                    f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1} "
                    "torch.load without weights_only=True"
                )
    assert problems == []
    stores = repo_files((".pkl", ".pickle", ".joblib"))
    assert stores == []


@pytest.mark.parametrize(
    "parts",
    [
        ("..",),
        ("..", "etc", "passwd"),
        ("/etc/passwd",),
        ("a", "..", "..", "b"),
        ("runs", "/tmp"),
        ("~root",),
    ],
)
def test_safe_join_refuses_paths_outside_the_data_home(tmp_path, parts):
    root = tmp_path / "root"
    root.mkdir()
    if parts == ("~root",):  # not expanded: stays a plain name under the root
        assert safe_join(root, *parts) == root.resolve() / "~root"
        return
    with pytest.raises(InputRejected, match="outside the data home"):
        safe_join(root, *parts)


def test_safe_join_follows_symlinks_and_allows_nested_paths(tmp_path):
    root = tmp_path / "root"
    (root / "runs").mkdir(parents=True)
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(InputRejected):
        safe_join(root, "escape", "secret.txt")
    assert safe_join(root, "runs", "train", "r1") == root.resolve() / "runs" / "train" / "r1"
    assert safe_join(root, "runs", "..", "runs") == root.resolve() / "runs"
    assert safe_join(root) == root.resolve()


def test_run_ids_from_the_ui_cannot_escape_the_runs_folder():
    from medgemma import jobs

    settings = load_settings()
    for bad in ("../../etc", "/etc/passwd", ".hidden", "a/b", "a\\b", ""):
        with pytest.raises(InputRejected, match="Invalid run id"):
            jobs.run_folder(settings, "train", bad)
    with pytest.raises(InputRejected, match="Unknown job kind"):
        jobs.runs_root(settings, "../x")
