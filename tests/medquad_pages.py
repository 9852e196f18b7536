"""Real MedQuAD pages as the chat tests' passages: rows read from ../shared/data (never copied into the
repository), parsed by the project's own corpus reader and chunker, returned as Hits in a chosen order."""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from medgemma.knowledge.chunking import Chunker, chunk_documents
from medgemma.knowledge.corpus import medquad_from_records
from medgemma.types import Hit

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
MEDQUAD = SHARED_DATA / "corpus" / "medquad_answered.jsonl.gz"


@lru_cache(maxsize=1)
def _rows() -> tuple[dict, ...]:
    with gzip.open(MEDQUAD, "rt", encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh)


def rows(focus: str, source: str | None = None, qtype: str | None = None) -> list[dict]:
    return [
        r
        for r in _rows()
        if r["focus"] == focus
        and (source is None or r["source"] == source)
        and (qtype is None or r["qtype"] == qtype)
    ]


def hits(*selections: tuple[str, str | None, str | None], dense: float = 0.5) -> list[Hit]:
    """Hits for (focus, source, qtype) selections, in order: every chunk of every matching answer."""
    out: list[Hit] = []
    for focus, source, qtype in selections:
        docs = medquad_from_records(rows(focus, source, qtype))
        for chunk in chunk_documents(docs, Chunker()):
            out.append(Hit(chunk, 0.03 - 0.001 * len(out), dense=dense, bm25=5.0))
    return out
