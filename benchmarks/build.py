"""Build throughput against the encoder: the starter build (lexical first, then dense.fill) on the first N
chunks of MedQuAD vs raw `SentenceTransformer.encode` on the same chunk texts (same batch size, same
torch thread count), with the build's own breakdown (chunk / encode / write / serve = BM25 + loading each
commit for search). `--upload-path` also times the batched add path (embed a batch, commit it), where each
commit changes the chunk set so BM25 is rebuilt every time (what the starter build did before).

Raw encode runs before and after the builds; the ratio uses their mean (the machine is shared).
Run: .venv/bin/python benchmarks/build.py --chunks 2000 5000 [--upload-path] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medgemma.config import load_settings  # noqa: E402
from medgemma.knowledge import corpus  # noqa: E402
from medgemma.knowledge.base import KnowledgeBase  # noqa: E402
from medgemma.knowledge.builder import Builder, Source  # noqa: E402
from medgemma.knowledge.chunking import embedding_text  # noqa: E402
from medgemma.knowledge.dense import Reporter  # noqa: E402

BATCH = 32  # what dense.embed_chunks passes to the encoder


def slice_documents(n_chunks: int):
    """The first documents of the starter corpus (its order) whose chunks add up to about n_chunks."""
    settings = load_settings(overrides={"home": tempfile.mkdtemp(prefix="bench-build-")})
    kb = KnowledgeBase(settings)
    src = corpus.find_starter("medquad", settings.data_path, settings.path("downloads"))
    if src is None:
        raise SystemExit("MedQuAD not found: set MEDGEMMA_DATA_DIR to the shared data folder")
    chunker = kb._chunker(kb._embedder())
    docs, chunks = [], []
    for doc in src.load():
        if len(chunks) >= n_chunks and doc.doc_id != docs[-1].doc_id:
            break
        docs.append(doc)
        chunks.extend(chunker.chunk(doc))
    return docs, chunks


def raw_encode(kb: KnowledgeBase, texts: list[str]) -> float:
    model = kb._embedder()._model  # the SentenceTransformer itself, no project code around it
    t = time.perf_counter()
    model.encode(
        texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return time.perf_counter() - t


def build(docs, lexical_first: bool) -> tuple[float, dict, int]:
    """Wall seconds, the builder's timings and the chunks indexed, on a fresh data home."""
    settings = load_settings(overrides={"home": tempfile.mkdtemp(prefix="bench-build-")})
    kb = KnowledgeBase(settings)
    embedder = kb._embedder()
    chunker = kb._chunker(embedder)
    src = Source("slice", "h", "medquad", lambda: list(docs), starter=True)
    t = time.perf_counter()
    builder = Builder(
        kb.store,
        embedder,
        chunker,
        kb._extra(chunker),
        Reporter(kb.store, None, "indexing", True),
        kb.warm,
        lexical_first,
    )
    builder.run([src])
    wall = time.perf_counter() - t
    snap = kb.snapshot()
    assert snap.complete, "the build left chunks without vectors"
    return wall, builder.timings.to_dict(), len(snap.chunks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, nargs="+", default=[2000])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    ap.add_argument("--upload-path", action="store_true", help="also time the batched add path")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    kb = KnowledgeBase(load_settings(overrides={"home": tempfile.mkdtemp(prefix="bench-build-")}))
    print(
        f"torch threads {torch.get_num_threads()}, batch size {BATCH}, load average {os.getloadavg()[0]:.1f}"
    )
    rows = []
    for n in args.chunks:
        docs, chunks = slice_documents(n)
        texts = [embedding_text(c) for c in chunks]
        raw = [raw_encode(kb, texts)]
        runs = [("lexical first (starter)", *build(docs, True))]
        if args.upload_path:
            runs.append(("batched add (upload)", *build(docs, False)))
        raw.append(raw_encode(kb, texts))
        raw_s = sum(raw) / len(raw)
        for name, wall, t, indexed in runs:
            other = wall - t["chunk"] - t["encode"] - t["write"] - t["serve"]
            rows.append(
                f"| {indexed:,} | {name} | {len(texts) / raw_s:.1f} (±{abs(raw[0] - raw[1]) / raw_s:.0%}) | "
                f"{indexed / wall:.1f} | {raw_s / wall * indexed / len(texts):.3f} | {t['chunk']:.1f} | "
                f"{t['encode']:.1f} | {t['write']:.1f} | {t['serve']:.1f} | {other:.1f} | {t['commits']} |"
            )
        print(f"done {n}: raw encode {raw[0]:.1f} s / {raw[1]:.1f} s", flush=True)
    print(
        "\n| chunks | build | raw encode chunks/s (spread) | build chunks/s | ratio | chunk s | encode s | "
        "write s | serve (BM25 + load) s | other s | commits |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
