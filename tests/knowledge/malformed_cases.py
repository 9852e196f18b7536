"""The malformed inputs a visitor or an admin can send, each with the clear error it must get: uploads,
chat messages, API payloads, settings and training recipes. tests/knowledge/test_malformed.py runs them.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client, handle_file
from live_app import rest_call

from medgemma.config import load_settings
from medgemma.training.config import load_config

PASSWORD = "malformed-test-password"
MAX_FILES = 3  # and 1 MB per file


@dataclass
class Env:
    url: str
    user: Client  # an anonymous chat user who has asked nothing yet
    admin: Client  # logged in
    files: Path
    home: Path


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # api | file | config
    run: Callable[[Env], Any]
    expect: str  # regex the error (or the per-file status) must match


def upload(env: Env, name: str, data: bytes) -> Any:
    path = env.files / name
    path.write_bytes(data)
    return handle_file(str(path))


def kb_add(env: Env, *files: tuple[str, bytes]) -> str:
    """The per-file status rows of an admin upload, as text (an upload with no usable file is refused
    instead, with an error naming each file and its problem)."""
    statuses, *_ = env.admin.predict([upload(env, n, d) for n, d in files], "", "", "", api_name="/kb_add")
    return " | ".join(" ".join(map(str, row)) for row in statuses["data"])


def chat(env: Env, message: Any, history: Any = None) -> Any:
    return env.user.predict(message, [] if history is None else history, api_name="/chat")


def settings_from_yaml(env: Env, text: str) -> Any:
    path = env.files / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={"MEDGEMMA_HOME": str(env.home)})


def settings_from_env(env: Env, **values: str) -> Any:
    return load_settings(
        env={"MEDGEMMA_HOME": str(env.home), **{f"MEDGEMMA_{k.upper()}": v for k, v in values.items()}}
    )


def recipe(env: Env, text: str) -> Any:
    path = env.files / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(str(path))


def http_post(env: Env, path: str, **kwargs: Any) -> str:
    r = httpx.post(env.url + path, timeout=60, **kwargs)
    return f"{r.status_code} {r.text}"


def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 30_000_000, compresslevel=9)  # 30 MB of zeros in ~30 kB; the cap is 20 MB


CASES = [
    # ---- chat API payloads (anonymous) ----
    Case("chat: empty message", "api", lambda e: chat(e, ""), r"Type a question first"),
    Case("chat: only whitespace", "api", lambda e: chat(e, " \n\t  "), r"Type a question first"),
    Case(
        "chat: only control characters",
        "api",
        lambda e: chat(e, "\x00\x01\x1b\x7f\x08"),
        r"Type a question first",
    ),
    Case(
        "chat: 1 MB question", "api", lambda e: chat(e, "x" * 1_000_000), r"too long \(over 2000 characters\)"
    ),
    Case("chat: 2001 emoji", "api", lambda e: chat(e, "🩺" * 2001), r"too long \(over 2000 characters\)"),
    Case(
        "chat: history is a string",
        "api",
        lambda e: chat(e, "What causes gout?", "oops"),
        r"validation error for ChatbotDataMessages",
    ),
    Case(
        "chat: history with a bad role",
        "api",
        lambda e: chat(e, "What causes gout?", [{"role": "hacker", "content": 5}]),
        r"validation error for ChatbotDataMessages",
    ),
    Case(
        "chat: history of numbers",
        "api",
        lambda e: chat(e, "What causes gout?", [1, 2]),
        r"validation errors? for ChatbotDataMessages",
    ),
    Case(
        "feedback before any answer",
        "api",
        lambda e: e.user.predict("great", api_name="/feedback_up"),
        r"There is no answer to rate yet",
    ),
    Case(
        "REST: body is not JSON",
        "api",
        lambda e: http_post(
            e, "/gradio_api/call/chat", content=b"{not json", headers={"content-type": "application/json"}
        ),
        r"^422 .*JSON decode error",
    ),
    Case(
        "REST: data is not a list",
        "api",
        lambda e: http_post(e, "/gradio_api/call/chat", json={"data": "x"}),
        r"^422 .*Input should be a valid list",
    ),
    Case(
        "REST: no arguments",
        "api",
        lambda e: rest_call(e.url, "chat", []),
        r"didn't receive enough input values \(needed: 4, got: 0\)",
    ),
    Case(
        "queue: join without a session",
        "api",
        lambda e: http_post(e, "/gradio_api/queue/join", json={"data": [], "fn_index": 2}),
        r"^400 .*Session hash not found",
    ),
    Case(
        "upload: over the size cap",
        "api",
        lambda e: http_post(e, "/gradio_api/upload", files={"files": ("big.txt", b"x" * 2_000_000)}),
        r"^413 .*File size exceeded maximum allowed size",
    ),
    Case(
        "login: no password (null)",
        "api",
        lambda e: e.user.predict(None, api_name="/admin_login"),
        r"Wrong admin password",
    ),
    Case(
        "login: 1 MB password",
        "api",
        lambda e: e.user.predict("p" * 1_000_000, api_name="/admin_login"),
        r"Wrong admin password",
    ),
    Case(
        "login: number instead of text",
        "api",
        lambda e: e.user.predict(12345, api_name="/admin_login"),
        r"Wrong admin password",
    ),
    # ---- admin API payloads (logged in) ----
    Case(
        "kb_search: k = -5",
        "api",
        lambda e: e.admin.predict("flu", -5, 0.2, api_name="/kb_search"),
        r"Value -5 is less than minimum value 1",
    ),
    Case(
        "kb_search: k is text",
        "api",
        lambda e: e.admin.predict("flu", "abc", 0.2, api_name="/kb_search"),
        r"Could not preprocess input component .*number",
    ),
    Case(
        "kb_search: no index yet",
        "api",
        lambda e: e.admin.predict("flu", 5, 0.2, api_name="/kb_search"),
        r"The knowledge base is empty",
    ),
    Case(
        "kb_delete: a path",
        "api",
        lambda e: e.admin.predict("../../etc/passwd", "", api_name="/kb_delete"),
        r"No document or source named '../../etc/passwd'",
    ),
    Case(
        "kb_delete: nothing",
        "api",
        lambda e: e.admin.predict("", "", api_name="/kb_delete"),
        r"Enter the doc id",
    ),
    Case(
        "kb_add: no files",
        "api",
        lambda e: e.admin.predict(None, "", "", "", api_name="/kb_add"),
        r"Choose one or more files first",
    ),
    Case(
        "kb_add: too many files",
        "api",
        lambda e: kb_add(e, *[(f"n{i}.txt", b"text") for i in range(MAX_FILES + 1)]),
        rf"{MAX_FILES + 1} files given; at most {MAX_FILES} per upload",
    ),
    Case(
        "eval_export: run id escapes",
        "api",
        lambda e: e.admin.predict(["../../etc/passwd"], "csv", api_name="/eval_export"),
        r"Invalid run id",
    ),
    Case(
        "eval_export: unknown format",
        "api",
        lambda e: e.admin.predict(["x"], "exe", api_name="/eval_export"),
        r"'exe' .*is not in the list of choices",
    ),
    Case(
        "eval_dashboard: run id escapes",
        "api",
        lambda e: e.admin.predict(["../../x"], api_name="/eval_dashboard"),
        r"Invalid run id",
    ),
    Case(
        "eval_start: unknown suite",
        "api",
        lambda e: e.admin.predict("nope", "gemma-3-270m", "", "on", 5, api_name="/eval_start"),
        r"nope is not in the list of choices",
    ),
    Case(
        "eval_start: negative limit",
        "api",
        lambda e: e.admin.predict("mirage-medqa", "gemma-3-270m", "", "on", -5, api_name="/eval_start"),
        r"Value -5 is less than minimum value 1",
    ),
    # ---- uploaded files (through the Knowledge base tab) ----
    Case(
        "file: .pdf that is not a PDF",
        "file",
        lambda e: kb_add(e, ("fake.pdf", b"Hello, no PDF here")),
        r"fake\.pdf(?: failed |: ).*not a PDF",
    ),
    Case(
        "file: PNG named .txt",
        "file",
        lambda e: kb_add(e, ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00")),
        r"photo\.txt(?: failed |: ).*PNG image",
    ),
    Case(
        "file: NUL bytes in text",
        "file",
        lambda e: kb_add(e, ("nul.md", b"a\x00b\x00c")),
        r"nul\.md(?: failed |: ).*NUL bytes",
    ),
    Case(
        "file: broken JSON",
        "file",
        lambda e: kb_add(e, ("broken.json", b'{"text": "unterminated')),
        r"broken\.json(?: failed |: ).*not valid JSON",
    ),
    Case(
        "file: prose named .jsonl",
        "file",
        lambda e: kb_add(e, ("prose.jsonl", b"just words\nmore words\n")),
        r"prose\.jsonl(?: failed |: ).*not JSON Lines",
    ),
    Case(
        "file: JSON named .csv",
        "file",
        lambda e: kb_add(e, ("data.csv", b'[{"text": "a"}]')),
        r"data\.csv(?: failed |: ).*looks like JSON",
    ),
    Case(
        "file: gzip bomb",
        "file",
        lambda e: kb_add(e, ("bomb.txt.gz", gzip_bomb())),
        r"bomb\.txt\.gz(?: failed |: ).*expands to more than",
    ),
    Case(
        "file: empty",
        "file",
        lambda e: kb_add(e, ("empty.txt", b"  \n")),
        r"empty\.txt(?: failed |: ).*empty",
    ),
    Case(
        "file: program (.exe)",
        "file",
        lambda e: kb_add(e, ("virus.exe", b"MZ\x90\x00")),
        r"Invalid file type",
    ),
    # ---- settings and training recipes ----
    Case(
        "settings: YAML syntax error",
        "config",
        lambda e: settings_from_yaml(e, "model: [unclosed\n"),
        r"is not valid YAML",
    ),
    Case(
        "settings: YAML list, not mapping",
        "config",
        lambda e: settings_from_yaml(e, "- a\n- b\n"),
        r"must hold a mapping",
    ),
    Case(
        "settings: unknown key",
        "config",
        lambda e: settings_from_yaml(e, "colour: blue\n"),
        r"Unknown setting 'colour'",
    ),
    Case(
        "settings: secret in a file",
        "config",
        lambda e: settings_from_yaml(e, "admin_password: x\n"),
        r"is a secret: set it with MEDGEMMA_ADMIN_PASSWORD",
    ),
    Case(
        "settings: control character",
        "config",
        lambda e: settings_from_yaml(e, 'model: "gem\x07ma"\n'),
        r"is not valid YAML",
    ),
    Case(
        "settings: missing file",
        "config",
        lambda e: load_settings(e.files / "nope.yaml"),
        r"Config file not found",
    ),
    Case(
        "env: port is text",
        "config",
        lambda e: settings_from_env(e, port="http"),
        r"Setting 'port' expects int, got 'http'",
    ),
    Case(
        "env: zero upload size",
        "config",
        lambda e: settings_from_env(e, max_upload_mb="0"),
        r"'max_upload_mb' must be positive",
    ),
    Case(
        "env: temperature 9",
        "config",
        lambda e: settings_from_env(e, temperature="9"),
        r"'temperature' must be within 0\.\.5",
    ),
    Case(
        "env: unknown backend",
        "config",
        lambda e: settings_from_env(e, backend="gpu"),
        r"'backend' must be one of auto, transformers, llamacpp, openai",
    ),
    Case(
        "recipe: wrong type",
        "config",
        lambda e: recipe(e, "batch_size: two\nmodel: x\n"),
        r"'batch_size' expects int; got 'two'",
    ),
    Case(
        "recipe: typo'd key",
        "config",
        lambda e: recipe(e, "lora_rank: 8\n"),
        r"Unknown training setting 'lora_rank'\. Did you mean 'lora_r'\?",
    ),
]
