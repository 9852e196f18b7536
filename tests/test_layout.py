"""The layout the README describes: packages that re-export what they own, a small top level, short modules
and tabs, no Gradio inside the library."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIB = REPO / "medgemma"
PACKAGES = sorted(p.parent.name for p in LIB.glob("*/__init__.py"))
MAX_MODULE_LINES, MAX_BUILD_TAB_LINES, MAX_TOP_LEVEL_MODULES = 400, 80, 12


def test_the_library_has_its_packages_and_a_small_top_level():
    assert {"knowledge", "models", "chat", "safety", "training", "evaluation", "export", "commands"} <= set(
        PACKAGES
    )
    top = sorted(p.name for p in LIB.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_says_what_it_owns_and_its_public_names_resolve(package):
    module = importlib.import_module(f"medgemma.{package}")
    assert (module.__doc__ or "").strip(), f"medgemma/{package}/__init__.py has no docstring"
    for name in getattr(module, "__all__", []):
        assert getattr(module, name) is not None, f"medgemma.{package}.{name}"
    assert not hasattr(module, "no_such_name")


def _modules():
    return sorted(
        p
        for d in (LIB, REPO / "admin", REPO / "tests", REPO / "benchmarks", REPO / "scripts")
        for p in d.rglob("*.py")
    )


def test_every_module_opens_with_a_docstring_and_stays_short():
    long, undocumented = [], []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
        if text.strip() and not ast.get_docstring(ast.parse(text)):
            undocumented.append(str(path.relative_to(REPO)))
    assert not long and not undocumented, (long, undocumented)


def test_no_gradio_inside_the_library():
    offenders = []
    for path in LIB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.relative_to(REPO)}:{node.lineno}" for n in names if n.split(".")[0] == "gradio"
            ]
    assert not offenders, offenders


def test_admin_tabs_build_their_layout_in_a_short_build_tab():
    long = []
    for path in (REPO / "admin").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == "build_tab":
                n = node.end_lineno - node.lineno + 1
                if n > MAX_BUILD_TAB_LINES:
                    long.append(f"{path.name}: build_tab is {n} lines")
    assert not long, long


def test_test_files_have_unique_names():
    """tests/ has no __init__.py files, so pytest imports each test file by its basename: two files with
    one name in different folders stop the whole run at collection ("import file mismatch")."""
    names = [p.name for p in (REPO / "tests").rglob("test_*.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
