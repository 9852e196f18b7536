"""Evaluation on the PostgreSQL store, through the CLI a user runs: `index build FILES` then `eval
retrieval` with MEDGEMMA_DATABASE_URL set, on real MedQuAD pages and the packaged MiniLM; the figures
and the saved runs come from the database's knowledge base (not from a file index under the data home)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from medgemma.cli import main

PAGES = 6  # small: each page is embedded by the real encoder


def medquad_pages(data_dir: Path, n: int) -> list[dict]:
    """The first `n` distinct NIH pages of one MedQuAD site, one answer each, as the uploader's JSONL."""
    pages: dict[str, dict] = {}
    with gzip.open(data_dir / "corpus" / "medquad_answered.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("source") == "NIDDK" and row["url"] not in pages and row["qtype"] == "information":
                pages[row["url"]] = {"title": row["focus"], "url": row["url"], "text": row["answer"]}
                if len(pages) == n:
                    break
    return list(pages.values())


@pytest.mark.slow
def test_index_and_eval_retrieval_run_on_postgresql(pg_url, shared_data, tmp_path, monkeypatch, capsys):
    pages = medquad_pages(shared_data, PAGES)
    corpus = tmp_path / "niddk.jsonl"
    corpus.write_text("".join(json.dumps(p) + "\n" for p in pages), encoding="utf-8")
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        "".join(
            json.dumps({"question": f"What is {p['title']}?", "relevant_urls": [p["url"]]}) + "\n"
            for p in pages
        )
    )
    home = tmp_path / "home"
    monkeypatch.setenv("MEDGEMMA_HOME", str(home))
    monkeypatch.setenv("MEDGEMMA_DATABASE_URL", pg_url)

    assert main(["index", "build", str(corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["status"] == "indexed"
    assert not (home / "indexes").exists() and not list(home.glob("**/manifest.json"))  # nothing on disk

    assert main(["eval", "retrieval", "--data", str(dev), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["questions"] == PAGES
    assert result["hybrid"]["recall@5"] == 1.0 and result["dense"]["recall@5"] == 1.0
    assert result["bm25"]["mrr"] > 0.5

    import psycopg

    with psycopg.connect(pg_url) as conn:
        (chunks,) = conn.execute("SELECT count(*) FROM kb_chunks WHERE embedding IS NOT NULL").fetchone()
    assert chunks >= PAGES
