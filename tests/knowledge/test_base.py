"""The knowledge-base facade end to end with MiniLM: statuses, incremental updates, limits, model change,
starter build (batched, resumable, PubMed fallback), reads during a build, and the CLI verbs."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import pytest
from pdf_factory import text_pdf

from medgemma.cli import main
from medgemma.config import load_settings
from medgemma.errors import IndexNotReady, InputRejected, UserFacingError
from medgemma.knowledge import dense
from medgemma.knowledge.base import KnowledgeBase
from medgemma.knowledge.embeddings import Embedder
from tests.knowledge.test_ingest import PUBMED_XML

pytestmark = pytest.mark.slow

FLU = "Influenza is a contagious respiratory illness caused by flu viruses. A yearly flu vaccine is the best protection."
GOUT = "Gout is a painful arthritis. Uric acid crystals build up in a joint, often the big toe, and cause swelling."
ASTHMA = (
    "Asthma narrows the airways. Wheezing and chest tightness are common. Inhalers relax the airway muscles."
)


def kb_for(**overrides) -> KnowledgeBase:
    return KnowledgeBase(load_settings(overrides=overrides or None))


@pytest.fixture
def files(tmp_path) -> Path:
    d = tmp_path / "files"
    d.mkdir()
    (d / "flu.txt").write_text(FLU)
    (d / "flu-copy.txt").write_text(FLU)
    (d / "gout.md").write_text(f"# Gout\n\n{GOUT}\n")
    (d / "empty.txt").write_text("")
    (d / "broken.pdf").write_bytes(b"%PDF-1.4 not a real pdf")
    (d / "notext.csv").write_text("title,url\nA,https://a.org\n")
    (d / "slides.pptx").write_bytes(b"PK")
    text_pdf(d / "asthma.pdf", [[ASTHMA], ["Peak flow meters measure how well air moves out of the lungs."]])
    return d


@pytest.fixture
def counting(monkeypatch):
    """Counts texts sent to the real embedder (a spy on the collaborator, not a fake)."""
    seen: list[str] = []
    original = Embedder.encode

    def encode(self, texts, *args, **kwargs):
        seen.extend(texts)
        return original(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "encode", encode)
    return seen


def test_statuses_for_a_mixed_batch(files):
    kb = kb_for()
    order = [
        "flu.txt",
        "flu-copy.txt",
        "gout.md",
        "empty.txt",
        "broken.pdf",
        "notext.csv",
        "slides.pptx",
        "asthma.pdf",
    ]
    statuses = {s.name: s for s in kb.add_files([files / n for n in order])}
    assert list(statuses) == order
    assert statuses["flu.txt"].status == "indexed" and statuses["flu.txt"].chunks == 1
    assert statuses["flu-copy.txt"].status == "duplicate"
    assert statuses["gout.md"].status == "indexed"
    assert statuses["asthma.pdf"].status == "indexed" and statuses["asthma.pdf"].chunks == 2
    assert statuses["empty.txt"].status == "failed" and "empty" in statuses["empty.txt"].message
    assert "not a readable PDF" in statuses["broken.pdf"].message
    assert "no text column" in statuses["notext.csv"].message
    assert "unsupported" in statuses["slides.pptx"].message
    assert statuses["asthma.pdf"].label == "indexed (2 chunks)"
    hits = kb.search("peak flow meter", k=1, min_score=0.0)
    assert hits[0].chunk.source == "asthma.pdf" and hits[0].chunk.page == 2
    docs = {d.doc_id: d for d in kb.list_documents()}
    assert set(docs) == {"flu.txt", "gout.md", "asthma.pdf"} and docs["asthma.pdf"].chunks == 2
    stats = kb.stats()
    assert stats["documents"] == 3 and stats["chunks"] == 4 and stats["embedding_model"] == "all-MiniLM-L6-v2"
    assert stats["dimension"] == 384 and stats["index_type"] == "flat" and "warning" not in stats


def test_incremental_unchanged_changed_and_removed(tmp_path, counting):
    kb = kb_for()
    doc = tmp_path / "leaflet.md"
    doc.write_text(f"# Leaflet\n\n## Flu\n{FLU}\n\n## Gout\n{GOUT}\n")
    other = tmp_path / "asthma.txt"
    other.write_text(ASTHMA)
    assert [s.status for s in kb.add_files([doc, other])] == ["indexed", "indexed"]
    generation, embedded = kb.store.latest(), len(counting)
    assert embedded == 3
    assert [s.status for s in kb.add_files([doc, other])] == ["unchanged", "unchanged"]
    assert kb.store.latest() == generation and len(counting) == embedded  # nothing re-embedded, no new commit
    doc.write_text(
        f"# Leaflet\n\n## Flu\n{FLU}\n\n## Gout\nGout flares can be prevented with medicines "
        "that lower uric acid.\n"
    )
    [status] = kb.add_files([doc])
    assert status.status == "indexed" and status.chunks == 2
    assert len(counting) == embedded + 1  # only the changed section was embedded again
    texts = [c.text for c in kb.snapshot().chunks]
    assert not any("often the big toe" in t for t in texts) and any("lower uric acid" in t for t in texts)
    assert kb.remove("asthma.txt") == 1  # by source (file) name
    with pytest.raises(UserFacingError, match="No document"):
        kb.remove("nope")
    assert [d.doc_id for d in kb.list_documents()] == ["leaflet.md"]
    assert kb.remove("leaflet.md") == 1
    assert kb.list_documents() == [] and kb.search("flu", k=3) == []


def test_upload_limits(tmp_path):
    kb = kb_for(max_upload_mb=1, max_upload_files=2)
    big = tmp_path / "big.txt"
    big.write_text("word " * 300_000)
    small = tmp_path / "small.txt"
    small.write_text(FLU)
    statuses = kb.add_files([big, small])
    assert (
        statuses[0].status == "failed"
        and "too large" in statuses[0].message
        and "1 MB" in statuses[0].message
    )
    assert statuses[1].status == "indexed"
    with pytest.raises(InputRejected, match="at most 2"):
        kb.add_files([small, big, tmp_path / "third.txt"])


def test_changed_embedding_model_forces_rebuild(tmp_path):
    kb = kb_for()
    (tmp_path / "flu.txt").write_text(FLU)
    kb.add_files([tmp_path / "flu.txt"])
    manifest_path = kb.store.gen_path(kb.store.latest()) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["embedding_model"] = "an-older-model"
    manifest_path.write_text(json.dumps(manifest))
    kb.state.snapshots.clear()  # read the edited manifest back, as a new process would
    assert "an-older-model" in kb.stats()["warning"]
    (tmp_path / "gout.txt").write_text(GOUT)
    messages: list[str] = []
    [status] = kb.add_files([tmp_path / "gout.txt"], progress=lambda f, m: messages.append(m))
    assert status.status == "indexed"
    assert any("built with an-older-model" in m and "rebuilding all 1 documents" in m for m in messages)
    snap = kb.snapshot()
    assert snap.model == "all-MiniLM-L6-v2" and {c.doc_id for c in snap.chunks} == {"flu.txt", "gout.txt"}
    assert "warning" not in kb.stats()


def medquad_rows(shared: Path, sources: dict[str, int]) -> list[dict]:
    """The first pages of each named MedQuAD source (all their answers)."""
    out, pages = [], {s: [] for s in sources}
    for line in gzip.open(shared / "corpus" / "medquad_answered.jsonl.gz", "rt"):
        row = json.loads(line)
        wanted = pages.get(row["source"])
        if wanted is None:
            continue
        if row["url"] not in wanted:
            if len(wanted) >= sources[row["source"]]:
                continue
            wanted.append(row["url"])
        if len(row["answer"]) < 1200:
            out.append(row)
    return out


def test_starter_build_is_lexical_first_consumer_first_and_resumable(
    tmp_path, shared_data, monkeypatch, counting
):
    data = tmp_path / "data" / "corpus"
    data.mkdir(parents=True)
    rows = medquad_rows(shared_data, {"GARD": 2, "MPlusHealthTopics": 6, "CDC": 1})
    (data / "medquad_answered.jsonl.gz").write_bytes(gzip.compress("\n".join(map(json.dumps, rows)).encode()))
    monkeypatch.setattr(dense, "FIRST_BATCH_CHUNKS", 3)
    kb = kb_for(data_dir=str(tmp_path / "data"))
    with pytest.raises(IndexNotReady, match="empty"):
        kb.search("flu")

    def interrupt(fraction, message):  # the app is stopped after the first batch of vectors is saved
        if message.startswith("Keyword search") and kb.store.latest() >= 2:
            raise KeyboardInterrupt("stopped")

    with pytest.raises(KeyboardInterrupt):
        kb.ensure_starter_index(interrupt)
    partial = kb.snapshot()
    assert partial.generation == 2 and 0 < partial.dense < len(partial.chunks)
    [src] = partial.manifest["sources"].values()
    assert src["complete"] is True and src["starter"] is True  # every page is in the keyword side
    assert partial.manifest["documents"] == len({(r["source"], r["doc_id"]) for r in rows})
    embedded_sources = {c.source for c in partial.chunks[: partial.dense]}
    assert embedded_sources <= {"MedQuAD/MPlusHealthTopics", "MedQuAD/CDC"}  # consumer-health pages first
    gard = next(c for c in partial.chunks[partial.dense :] if c.source == "MedQuAD/GARD")
    [hit] = kb.search(gard.title, k=1, min_score=-1)  # a page without vectors answers by keyword
    assert hit.chunk.doc_id == gard.doc_id and hit.bm25
    assert "Meaning search" in kb.coverage().line()
    embedded_before = len(counting)
    result = kb.ensure_starter_index()
    assert result["state"] == "ready" and "filled in" in result["message"]
    full = kb.snapshot()
    assert full.complete and full.generation > 3 and full.chunks is partial.chunks
    resumed = len(counting) - embedded_before
    assert resumed == len(full.chunks) - partial.dense  # committed batches were kept
    assert kb.build_status()["state"] == "ready" and kb.coverage().line() == ""
    assert kb.ensure_starter_index()["state"] == "ready" and kb.snapshot().generation == full.generation


def test_pubmed_fallback_when_medquad_is_missing(tmp_path):
    kb = kb_for(data_dir=str(tmp_path / "nothing-here"), starter_corpus="pubmed")
    downloads = kb.settings.path("downloads")
    downloads.mkdir(parents=True)
    (downloads / "pubmed21n1298.xml.gz").write_bytes(gzip.compress(PUBMED_XML.encode()))
    assert kb.ensure_starter_index()["state"] == "ready"
    hit = kb.search("does aspirin prevent another stroke", k=1, min_score=0.0)[0]
    assert hit.chunk.doc_id == "pmid:333" and hit.chunk.url == "https://pubmed.ncbi.nlm.nih.gov/333/"
    assert kb_for(starter_corpus="none").ensure_starter_index()["state"] == "skipped"


def test_searches_keep_working_during_a_build(tmp_path):
    kb = kb_for()
    (tmp_path / "flu.txt").write_text(FLU)
    kb.add_files([tmp_path / "flu.txt"])
    many = tmp_path / "many.jsonl"
    many.write_text(
        "\n".join(
            json.dumps({"title": f"Note {i}", "text": f"{GOUT} Note number {i} about joints."})
            for i in range(40)
        )
    )
    errors: list[BaseException] = []
    builder = threading.Thread(target=lambda: kb.add_files([many]))
    builder.start()
    seen_generations = set()
    while builder.is_alive():
        try:
            reader = KnowledgeBase(kb.settings, state=kb.state)  # another reader in this process
            hits = reader.search("flu vaccine", k=1, min_score=0.0)
            assert hits and hits[0].chunk.doc_id == "flu.txt"
            seen_generations.add(reader.snapshot().generation)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
            break
    builder.join()
    assert not errors and 1 in seen_generations
    assert kb.snapshot().manifest["documents"] == 41


def test_cli_verbs(tmp_path, capsys):
    (tmp_path / "flu.txt").write_text(FLU)
    (tmp_path / "gout.csv").write_text(f'name,body,link\nGout,"{GOUT}",https://example.org/gout\n')
    assert (
        main(
            [
                "index",
                "add",
                str(tmp_path / "flu.txt"),
                str(tmp_path / "gout.csv"),
                "--text-column",
                "body",
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    files = json.loads(capsys.readouterr().out)["files"]
    assert [f["status"] for f in files] == ["indexed", "indexed"]
    assert main(["search", "swollen big toe", "--k", "1", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["chunk"]["url"] == "https://example.org/gout" and hit["dense"] and "bm25" in hit
    assert main(["index", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 2
    assert main(["index", "stats"]) == 0
    assert "2 documents, 2 chunks" in capsys.readouterr().out
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        json.dumps({"question": "big toe hurts", "relevant_urls": ["https://example.org/gout"]}) + "\n"
    )
    assert main(["eval", "retrieval", "--data", str(dev), "--k", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["hybrid"]["recall@5"] == 1.0 and set(result["dense"]) == {"recall@5", "mrr", "ndcg@5"}
    assert main(["eval", "retrieval", "--data", str(dev)]) == 0
    assert "hybrid" in capsys.readouterr().out
    assert main(["index", "remove", "gout.csv#1"]) == 0
    assert main(["index", "remove", "nope"]) == 2
    assert "No document" in capsys.readouterr().err
