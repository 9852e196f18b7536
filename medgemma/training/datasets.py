"""datasets.py turns user dataset files (JSON/JSONL/CSV) into fine-tuning examples.

An Example is chat messages (built with prompts.build, as the chat sees them) plus the answer to learn.
It detects or maps columns, names bad rows, previews files and computes token-length statistics.
Built-in medical sources are in training/sources.py. It knows nothing about models: the caller passes a tokenizer.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medgemma.chat.prompts import build
from medgemma.config import Settings
from medgemma.errors import DatasetError
from medgemma.knowledge.uploads import size_problem
from medgemma.storage import atomic_write_bytes

FILE_TYPES = (".json", ".jsonl", ".csv")
# Accepted column names, in detection order (case-insensitive). "messages" is a chat list.
FORMATS: dict[str, tuple[tuple[str, ...], ...]] = {
    "chat": (("messages", "conversations", "conversation"),),
    "instruction": (("instruction",), ("output", "response")),
    "qa": (("question", "query", "prompt"), ("answer", "response", "completion", "output")),
}

Renderer = Callable[[Sequence[dict], bool], str]


@dataclass(frozen=True)
class Example:
    """One training pair: the prompt as chat messages and the answer the model should give."""

    messages: tuple[dict, ...]
    answer: str
    source: str = ""

    @property
    def question(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    def to_dict(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "answer": self.answer, "source": self.source}


# ---- files ----------------------------------------------------------------------------------


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSON (list of objects, or {"data": [...]}), JSONL or CSV file."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"Dataset file not found: {p}")
    suffix = p.suffix.lower()
    if suffix not in FILE_TYPES:
        raise DatasetError(
            f"Dataset {p.name}: use a .json, .jsonl or .csv file (got '{suffix or 'no extension'}')."
        )
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"Dataset {p.name} is not UTF-8 text.") from None
    if suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    elif suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"Dataset {p.name}, line {n}: not valid JSON ({exc.msg}).") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"Dataset {p.name} is not valid JSON ({exc.msg}, line {exc.lineno})."
            ) from None
        rows = data.get("data", data.get("rows")) if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DatasetError(f"Dataset {p.name} must hold a list of objects (one per example).")
    if not rows:
        raise DatasetError(f"Dataset {p.name} has no rows.")
    return rows


def detect_columns(
    columns: Iterable[str], mapping: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """Pick the format and map roles to column names: ("qa", {"question": "Q", "answer": "A"}).

    A mapping given by the user (role -> column) wins; roles are question/answer, instruction/input/output
    or messages.
    """
    present = {c.lower().strip(): c for c in columns if c is not None}
    if mapping:
        mapping = {k: v for k, v in mapping.items() if v}
        missing = [v for v in mapping.values() if v.lower().strip() not in present]
        if missing:
            raise DatasetError(
                f"Mapped column(s) {', '.join(map(repr, missing))} not found; "
                f"the file has: {', '.join(present.values())}."
            )
        roles = {k: present[v.lower().strip()] for k, v in mapping.items()}
        if "messages" in roles:
            return "chat", {"messages": roles["messages"]}
        if "instruction" in roles and "output" in roles:
            return "instruction", roles
        if "question" in roles and "answer" in roles:
            return "qa", roles
        raise DatasetError("A column mapping needs question+answer, instruction+output, or messages.")
    for fmt, groups in FORMATS.items():
        found = [next((present[n] for n in names if n in present), None) for names in groups]
        if all(found):
            roles = dict(zip(_ROLES[fmt], found, strict=True))
            if fmt == "instruction" and "input" in present:
                roles["input"] = present["input"]
            return fmt, roles
    raise DatasetError(
        "No usable columns: expected question/answer, instruction/input/output, or a chat 'messages' "
        f"column; the file has: {', '.join(present.values()) or 'no columns'}. Map them explicitly."
    )


_ROLES = {"chat": ("messages",), "instruction": ("instruction", "output"), "qa": ("question", "answer")}


def rows_to_examples(
    rows: Sequence[dict[str, Any]], fmt: str, roles: dict[str, str], source: str, skip_invalid: bool = False
) -> tuple[list[Example], list[str]]:
    """Convert rows; returns examples and one problem line per bad row (raises unless skip_invalid)."""
    examples: list[Example] = []
    problems: list[str] = []
    for n, row in enumerate(rows, 1):
        try:
            examples.append(_row_example(row, fmt, roles, source))
        except ValueError as exc:
            problems.append(f"row {n}: {exc}")
    if problems and not skip_invalid:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise DatasetError(
            f"Dataset {source}: {len(problems)} of {len(rows)} rows are unusable ({shown}). "
            "Fix them, or skip invalid rows."
        )
    return examples, problems


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _row_example(row: dict[str, Any], fmt: str, roles: dict[str, str], source: str) -> Example:
    if fmt == "chat":
        msgs = row.get(roles["messages"])
        if isinstance(msgs, str):
            try:
                msgs = json.loads(msgs)
            except json.JSONDecodeError:
                raise ValueError("'messages' is not a JSON list") from None
        if not isinstance(msgs, list) or not msgs:
            raise ValueError("empty 'messages'")
        turns = [
            {
                "role": _text(m.get("role") or m.get("from"))
                .replace("human", "user")
                .replace("gpt", "assistant"),
                "content": _text(m.get("content") or m.get("value")),
            }
            for m in msgs
            if isinstance(m, dict)
        ]
        if any(t["role"] not in {"system", "user", "assistant"} or not t["content"] for t in turns):
            raise ValueError("each message needs a role (system/user/assistant) and non-empty content")
        if turns[-1]["role"] != "assistant" or not any(t["role"] == "user" for t in turns):
            raise ValueError("a conversation must contain a user turn and end with an assistant turn")
        return Example(tuple(turns[:-1]), turns[-1]["content"], source)
    if fmt == "instruction":
        question = _text(row.get(roles["instruction"]))
        extra = _text(row.get(roles.get("input", ""), ""))
        question = f"{question}\n\n{extra}" if extra else question
        answer = _text(row.get(roles["output"]))
    else:
        question, answer = _text(row.get(roles["question"])), _text(row.get(roles["answer"]))
    if not question or not answer:
        raise ValueError(f"empty {'question' if not question else 'answer'}")
    return Example(tuple(build(question, []).messages), answer, source)


def load_file(
    path: str | Path, mapping: dict[str, str] | None = None, skip_invalid: bool = False
) -> list[Example]:
    rows = read_rows(path)
    fmt, roles = detect_columns(_all_keys(rows), mapping)
    return rows_to_examples(rows, fmt, roles, Path(path).name, skip_invalid)[0]


def _all_keys(rows: Sequence[dict]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows[:200]:
        keys.update(dict.fromkeys(k for k in row if k is not None))
    return list(keys)


def store_upload(settings: Settings, source: str | Path, name: str = "") -> Path:
    """Copy an uploaded dataset (checked first: the upload size cap, then readable rows) to <home>/datasets/,
    where background runs find it."""
    source = Path(source)
    if problem := size_problem(source, settings):
        raise DatasetError(f"Dataset {name or source.name}: {problem}.")
    read_rows(source)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name or source.name).stem).strip("-.") or "dataset"
    target = settings.path("datasets", f"{stem}{source.suffix.lower()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, source.read_bytes())
    return target


# ---- rendering and statistics ---------------------------------------------------------------


def split_render(example: Example, render: Renderer) -> tuple[str, str]:
    """(prompt text ending with the model-turn opener, completion text closing the turn)."""
    prompt = render(list(example.messages), True)
    full = render([*example.messages, {"role": "assistant", "content": example.answer}], False)
    if not full.startswith(prompt):
        # templates that rewrite earlier turns: fall back to the answer and nothing else
        return prompt, example.answer
    return prompt, full[len(prompt) :]


def token_stats(
    examples: Sequence[Example], render: Renderer, count: Callable[[str], int], max_length: int
) -> dict[str, Any]:
    """Token lengths of prompt+completion: min/mean/p50/p95/max and the rows over max_length."""
    lengths = [count("".join(split_render(e, render))) for e in examples]
    if not lengths:
        return {"examples": 0}
    ordered = sorted(lengths)
    over = [i + 1 for i, n in enumerate(lengths) if n > max_length]
    return {
        "examples": len(lengths),
        "min": ordered[0],
        "mean": round(statistics.fmean(lengths), 1),
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        "max": ordered[-1],
        "max_length": max_length,
        "over_limit": len(over),
        "over_limit_rows": over[:20],
        "lengths": lengths,
    }


def check_lengths(
    examples: list[Example], lengths: Sequence[int], max_length: int, policy: str
) -> list[Example]:
    """Apply the over-long policy: 'error' names the rows, 'drop' removes them, 'truncate' keeps them."""
    over = [i for i, n in enumerate(lengths) if n > max_length]
    if not over or policy == "truncate":
        return examples
    if policy == "drop":
        skip = set(over)
        kept = [e for i, e in enumerate(examples) if i not in skip]
        if not kept:
            raise DatasetError(
                f"All {len(examples)} examples are longer than max_length={max_length} tokens."
            )
        return kept
    rows = ", ".join(str(i + 1) for i in over[:10]) + (" ..." if len(over) > 10 else "")
    raise DatasetError(
        f"{len(over)} example(s) are longer than max_length={max_length} tokens (rows {rows}; "
        f"longest {max(lengths)}). Raise max_length, or set long_examples to drop or truncate."
    )


def preview(path: str | Path, mapping: dict[str, str] | None = None, rows: int = 5) -> dict[str, Any]:
    """What the UI shows after an upload: detected format and columns, sample rows, row problems."""
    raw = read_rows(path)
    fmt, roles = detect_columns(_all_keys(raw), mapping)
    examples, problems = rows_to_examples(raw, fmt, roles, Path(path).name, skip_invalid=True)
    sample = [{"question": e.question[:500], "answer": e.answer[:500]} for e in examples[:rows]]
    return {
        "file": Path(path).name,
        "format": fmt,
        "columns": roles,
        "rows": len(raw),
        "usable": len(examples),
        "problems": problems[:50],
        "sample": sample,
    }
