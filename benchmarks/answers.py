"""Answers worth reading (issue 15): the base model vs the shipped reference adapter vs extractive quotes.

Selection rule (fixed before the first run; seed 2027):
- medquad: MedQuAD's held-out pages (training.sources.is_heldout_medquad, 1 page in 20, never trained on),
  grouped by source; each source's pages shuffled with random.Random(2027); 100 pages taken round-robin over
  the 9 sources, skipping a page whose answers all have fewer than 20 words; one question per page drawn
  with the same generator among its answers of >= 20 words. Background: 250 *training* pages taken
  round-robin the same way, skipping any whose URL or focus is a held-out page's. Index A = background +
  held-out pages (answerable); index B = background only (unanswerable: the abstention rate).
- pubmedqa (a public set nobody here wrote, never trained on: training uses only PubMedQA's other ids):
  60 of its 500 test ids, random.Random(2027).sample of the sorted ids. Index P = the abstract sections of
  all 500 test ids (the right abstract is 1 of 500); reference = PubMedQA's long answer. Unanswerable:
  the same 60 questions against index B (MedQuAD pages only).
- Systems, each through pipeline.answer with the real guard and the chat's default settings (k=4,
  temperature 0.2, seed 0, 200 new tokens, "auto" mode): base = Gemma 3 270M Q4_K_M in llama.cpp without an
  adapter; adapter = the same with the shipped reference adapter (GGUF LoRA); extractive = quotes only.
Columns: token F1 and ROUGE-L of the shown answer (without [n]) against the reference (an abstention scores
0); supported = share of checked sentences the verifier passed (what the shown answer was drawn from);
generated = answers whose sentences came from the model (the rest fell back to quotes or abstained);
repeated = answers with a sentence twice; abstain = answers that said "I don't know" (or found no source)
on index A (false abstention) and on the unanswerable run; first token / first verified sentence / whole answer = p50 seconds.
Run (about 40 min on 2 idle cores): .venv/bin/python benchmarks/answers.py [--systems base,adapter,extractive]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from abstention import long_enough, pages_by_source, repeated, round_robin, write_jsonl  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SEED = 2027
SAYS_NO = ("abstain", "no_source")  # "I don't know" with the nearest sources, or no source found at all
SYSTEMS = {
    "base": {"mode": "auto", "adapter": "none"},
    "adapter": {"mode": "auto", "adapter": "reference"},
    "extractive": {"mode": "extractive", "adapter": "none"},
}


def select_medquad(n: int, n_background: int, seed: int = SEED):
    from medgemma.training.sources import is_heldout_medquad

    rng = random.Random(seed)
    by_source = pages_by_source(SHARED / "corpus" / "medquad_answered.jsonl.gz")
    held_src = {s: [p for p in pages if is_heldout_medquad(p[0]["url"])] for s, pages in by_source.items()}
    train_src = {
        s: [p for p in pages if not is_heldout_medquad(p[0]["url"])] for s, pages in by_source.items()
    }
    for pages in (*held_src.values(), *train_src.values()):
        rng.shuffle(pages)
    held = round_robin(
        held_src, {s: iter(p) for s, p in held_src.items()}, n, lambda p: any(map(long_enough, p))
    )
    questions = [rng.choice([r for r in p if long_enough(r)]) for p in held]
    urls, foci = {p[0]["url"] for p in held}, {p[0]["focus"].strip().lower() for p in held}
    background = round_robin(
        train_src,
        {s: iter(p) for s, p in train_src.items()},
        n_background,
        lambda p: p[0]["url"] not in urls and p[0]["focus"].strip().lower() not in foci,
    )
    return (
        [{"question": q["question"], "reference": q["answer"], "id": q["qid"]} for q in questions],
        held,
        background,
    )


def select_pubmedqa(n: int, seed: int = SEED, index: int = 500):
    data = json.loads((SHARED / "benchmarks" / "ori_pqal.json").read_text(encoding="utf-8"))
    test = sorted(json.loads((SHARED / "benchmarks" / "test_ground_truth.json").read_text(encoding="utf-8")))
    picked = random.Random(seed).sample(test, n)
    test = sorted(set(picked) | set(test[:index]))
    questions = [
        {"question": data[i]["QUESTION"], "reference": data[i]["LONG_ANSWER"], "id": i} for i in picked
    ]
    rows = [
        {
            "id": f"pmid{i}",
            "title": data[i]["QUESTION"],
            "text": " ".join(data[i]["CONTEXTS"]),
            "url": f"https://pubmed.ncbi.nlm.nih.gov/{i}/",
            "source": "PubMed",
        }
        for i in test
    ]
    return questions, rows


def knowledge_home(root: Path, name: str, files: list[Path]) -> Path:
    """A data home with its own index (built once, reused by later runs) and the main home's models."""
    home = root / name
    if not (home / "built").is_file():
        home.mkdir(parents=True, exist_ok=True)
        models = home / "models"
        if not models.exists():
            models.symlink_to(Path(os.path.expanduser("~/.medgemma/models")).resolve())
        services = make_services(home)
        t = time.perf_counter()
        services.knowledge().add_files(files, limits=False)
        (home / "built").write_text(f"{time.perf_counter() - t:.0f}", encoding="utf-8")
    return home


def make_services(home: Path):
    from medgemma.chat.services import Services
    from medgemma.config import load_settings

    return Services(load_settings(overrides={"home": str(home), "starter_corpus": "none"}))


def ask(questions: list[dict], services, system: str) -> list[dict]:
    from medgemma.chat.citations import strip_markers
    from medgemma.chat.events import Done
    from medgemma.chat.pipeline import ChatSettings, answer
    from medgemma.evaluation.metrics import rouge, token_f1

    chat = ChatSettings.from_settings(services.settings, k=4, model="gemma-3-270m", **SYSTEMS[system])
    out = []
    for q in questions:
        t = time.perf_counter()
        done = next(e for e in answer(q["question"], [], chat, services) if isinstance(e, Done))
        plain = " ".join(strip_markers(s.text) for s in done.sentences)
        out.append(
            {
                "id": q["id"],
                "question": q["question"],
                "answer": done.text,
                "mode": done.mode,
                "adapter": done.adapter,
                "safety": done.safety,
                "support": done.support,
                "checked": len(done.sentences) + len(done.dropped),
                "repeated": repeated(done.sentences),
                "token_f1": round(token_f1(plain, q["reference"]), 4) if plain else 0.0,
                "rouge_l": round(rouge(plain, q["reference"])["rougeL"], 4) if plain else 0.0,
                "first_token_s": done.timings.first_token_s,
                "first_sentence_s": done.timings.first_sentence_s,
                "total_s": round(time.perf_counter() - t, 3),
            }
        )
        print(
            f"  {system:<10} {len(out):>3}/{len(questions)} {done.mode:<10} F1 {out[-1]['token_f1']:.2f}",
            flush=True,
        )
    return out


def p50(values) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.2f}" if values else "-"


def row(name: str, system: str, answered: list[dict], unanswerable: list[dict]) -> list[str]:
    drawn = [r for r in answered if r["checked"]]
    n = len(answered)
    return [
        name,
        system,
        f"{statistics.mean(r['token_f1'] for r in answered):.3f}",
        f"{statistics.mean(r['rouge_l'] for r in answered):.3f}",
        f"{statistics.mean(r['support'] for r in drawn):.3f}" if drawn else "-",
        f"{sum(r['mode'] == 'generative' for r in answered)}/{n}",
        f"{sum(r['repeated'] for r in answered)}/{n}",
        f"{sum(r['mode'] in SAYS_NO for r in answered)}/{n}",
        f"{sum(r['mode'] in SAYS_NO for r in unanswerable)}/{len(unanswerable)}",
        p50(r["first_token_s"] for r in answered),
        p50(r["first_sentence_s"] for r in answered),
        p50(r["total_s"] for r in answered),
    ]


HEAD = [
    "set",
    "system",
    "token F1",
    "ROUGE-L",
    "supported",
    "generated",
    "repeated",
    "abstain (answerable)",
    "abstain (unanswerable)",
    "first token s",
    "first verified s",
    "whole answer s",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systems", default="base,adapter,extractive")
    ap.add_argument(
        "--adapter",
        default="reference",
        help="what the 'adapter' system loads: the shipped reference, or a rebuilt one's folder "
        "(scripts/reference_adapter.py --into FOLDER) to check that it reaches the same figures",
    )
    ap.add_argument("--medquad", type=int, default=100)
    ap.add_argument("--pubmedqa", type=int, default=60)
    ap.add_argument("--background", type=int, default=250, help="MedQuAD training pages in every index")
    ap.add_argument("--pubmed-index", type=int, default=500, help="PubMedQA test abstracts in index P")
    ap.add_argument("--show", type=int, default=15, help="answers printed in full (seeded random choice)")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "medgemma-answers-bench"))
    # the records quote MedQuAD's and PubMedQA's text: they stay outside the repository
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "answers_results.json"))
    args = ap.parse_args()
    SYSTEMS["adapter"]["adapter"] = args.adapter
    root = Path(args.cache)
    root.mkdir(parents=True, exist_ok=True)
    mq, held, background = select_medquad(args.medquad, args.background)
    pq, pubmed_rows = select_pubmedqa(args.pubmedqa, index=args.pubmed_index)
    b_file = write_jsonl(root / "background.jsonl", background)
    a_file = write_jsonl(root / "held_out.jsonl", held)
    p_file = root / "pubmedqa_test.jsonl"
    p_file.write_text("".join(json.dumps(r) + "\n" for r in pubmed_rows), encoding="utf-8")
    homes = {
        "B": knowledge_home(root, "index-B", [b_file]),
        "A": knowledge_home(root, "index-A", [b_file, a_file]),
        "P": knowledge_home(root, "index-P", [p_file]),
    }
    print(f"{len(mq)} MedQuAD + {len(pq)} PubMedQA questions; indexes under {root}", flush=True)
    if not args.systems:
        return
    results: dict[str, dict] = {}
    for system in filter(None, args.systems.split(",")):
        runs = {}
        for key, questions, home in (
            ("medquad", mq, "A"),
            ("medquad-unanswerable", mq, "B"),
            ("pubmedqa", pq, "P"),
            ("pubmedqa-unanswerable", pq, "B"),
        ):
            runs[key] = ask(questions, make_services(homes[home]), system)
        results[system] = runs
    table = [
        row(s, sys_, r[s], r[f"{s}-unanswerable"])
        for s in ("medquad", "pubmedqa")
        for sys_, r in results.items()
    ]
    print("\n| " + " | ".join(HEAD) + " |\n|" + "---|" * len(HEAD))
    for cells in sorted(table, key=lambda c: (c[0] != "medquad", c[1])):
        print("| " + " | ".join(cells) + " |")
    rng = random.Random(SEED)
    pool = [(s, sys_, r) for sys_, runs in results.items() for s in ("medquad", "pubmedqa") for r in runs[s]]
    print(f"\n{args.show} answers in full (random.Random({SEED}).sample of every (set, system, question)):")
    for s, sys_, r in rng.sample(pool, min(args.show, len(pool))):
        print(f"\n### [{s} · {sys_} · {r['mode']} · F1 {r['token_f1']:.2f}] {r['question']}\n\n{r['answer']}")
    Path(args.out).write_text(json.dumps({"table": table, "results": results}, indent=1), encoding="utf-8")
    print(f"\nper-question records: {args.out}")


if __name__ == "__main__":
    main()
