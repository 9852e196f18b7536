"""Verbs `index build|add|remove|list|stats`, `search` and `eval retrieval` over the knowledge base."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from medgemma.commands import add_common, print_json, say, settings_from
from medgemma.errors import InputRejected


def _progress(quiet: bool, run_folder: str = ""):
    """Progress lines on stderr; in a job, also {fraction, message} records in its metrics.jsonl (at
    most two a second, and the last one)."""
    state = {"last": "", "logged": 0.0}

    def report(fraction: float, message: str) -> None:
        line = f"[{fraction:6.1%}] {message}"
        if not quiet and line != state["last"]:
            say(line, err=True)
            state["last"] = line
        if run_folder and (fraction >= 1.0 or time.monotonic() - state["logged"] >= 0.5):
            from medgemma import jobs

            state["logged"] = time.monotonic()
            jobs.log_metrics(Path(run_folder), {"fraction": round(fraction, 4), "message": message})

    return report


def _kb(args: argparse.Namespace, **overrides):
    from medgemma.knowledge.base import KnowledgeBase

    return KnowledgeBase(settings_from(args, **overrides), name=args.index)


def _common(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--index", default="default", help="index name under the data home (default: default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def register(sub: argparse._SubParsersAction) -> None:
    idx = sub.add_parser("index", help="build and manage the knowledge base")
    isub = idx.add_subparsers(dest="index_verb", metavar="ACTION")
    isub.required = True

    p = isub.add_parser("build", help="build the starter corpus (no paths) or index the given files/folders")
    _common(p)
    p.add_argument("paths", nargs="*", help="files or folders; none = the starter corpus (MedQuAD or PubMed)")
    p.add_argument("--rebuild", action="store_true", help="re-chunk and re-embed every stored document")
    p.add_argument("--starter-corpus", choices=["auto", "medquad", "pubmed"], help="override the setting")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--run-folder", default="", help="run as a background job recorded in this folder")
    p.set_defaults(handler=_build)

    p = isub.add_parser("add", help="add or update files and folders (txt, md, json, jsonl, csv, pdf, xml)")
    _common(p)
    p.add_argument("paths", nargs="+")
    p.add_argument("--text-column", default="", help="record field holding the text (CSV/JSON/JSONL)")
    p.add_argument("--title-column", default="", help="record field holding the title")
    p.add_argument("--url-column", default="", help="record field holding the URL")
    p.add_argument("--limits", action="store_true", help="apply the upload limits (max_upload_mb/files)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--run-folder", default="", help="run as a background job recorded in this folder")
    p.set_defaults(handler=_add)

    p = isub.add_parser("remove", help="remove documents (by doc id) or all documents of a source file")
    _common(p)
    p.add_argument("ids", nargs="+")
    p.set_defaults(handler=_remove)

    p = isub.add_parser("list", help="list indexed documents with chunk counts")
    _common(p)
    p.add_argument("--source", default="", help="only documents of this source (file name)")
    p.add_argument("--limit", type=int, default=50, help="rows to print (0 = all)")
    p.set_defaults(handler=_list)

    p = isub.add_parser("stats", help="index size, model, sources and build status")
    _common(p)
    p.set_defaults(handler=_stats)

    p = sub.add_parser("search", help="search the knowledge base (dense + BM25 fused)")
    _common(p)
    p.add_argument("query")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--min-score", type=float, default=None, help="minimum dense cosine (default: setting)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.set_defaults(handler=_search)


def register_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retrieval", help="recall@k, MRR and nDCG@k of dense, BM25 and hybrid retrieval")
    _common(p)
    p.add_argument("--data", required=True, help="JSONL rows {question, relevant_urls | relevant_doc_ids}")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--min-score", type=float, default=None, help="apply a dense threshold (default: none)")
    p.add_argument("--limit", type=int, default=0, help="only the first N rows")
    p.set_defaults(handler=_eval)


def _print_statuses(statuses, as_json: bool) -> int:
    if as_json:
        print_json({"files": [s.to_dict() for s in statuses]})
    else:
        for s in statuses:
            say(f"{s.name}: {s.label}")
    return 1 if statuses and all(s.status == "failed" for s in statuses) else 0


def _build(args: argparse.Namespace) -> int:
    if not args.run_folder:
        return _build_now(args)
    from medgemma import jobs

    with jobs.job_context(Path(args.run_folder), kind="index"):
        code = _build_now(args)
        if code:
            raise InputRejected("the index build did not finish; see the log above")
    return code


def _build_now(args: argparse.Namespace) -> int:
    kb = _kb(args, starter_corpus=args.starter_corpus)
    progress = _progress(args.quiet, args.run_folder)
    if args.rebuild:
        result = kb.rebuild(progress)
        if args.json:
            print_json(result)
        else:
            say(
                f"rebuilt {result['documents']} documents, {result['chunks']} chunks in {result['seconds']} s"
            )
        return 0
    if args.paths:
        return _print_statuses(kb.add_files(args.paths, progress, limits=False), args.json)
    result = kb.ensure_starter_index(progress)
    if args.json:
        print_json(result)
    else:
        say(f"{result['state']}: {result.get('message', '')}")
    return 0 if result["state"] in ("ready", "skipped") else 1


def _add(args: argparse.Namespace) -> int:
    if not args.run_folder:
        return _add_now(args)
    from medgemma import jobs

    folder = Path(args.run_folder)
    with jobs.job_context(folder, kind="index"):
        code = _add_now(args, lambda statuses: jobs.set_result(folder, files=[s.to_dict() for s in statuses]))
        if code:
            raise InputRejected("no file could be indexed; see the per-file statuses")
    return code


def _add_now(args: argparse.Namespace, record=None) -> int:
    from medgemma.knowledge.ingest import ColumnMap

    kb = _kb(args)
    columns = ColumnMap(args.text_column, args.title_column, args.url_column)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise InputRejected(f"not found: {', '.join(missing)}")
    statuses = kb.add_files(
        args.paths, _progress(args.quiet, args.run_folder), columns=columns, limits=args.limits
    )
    if record is not None:
        record(statuses)
    return _print_statuses(statuses, args.json)


def _remove(args: argparse.Namespace) -> int:
    kb = _kb(args)
    removed = {doc_id: kb.remove(doc_id) for doc_id in args.ids}
    if args.json:
        print_json({"removed": removed})
    else:
        for doc_id, n in removed.items():
            say(f"removed {n} document(s): {doc_id}")
    return 0


def _list(args: argparse.Namespace) -> int:
    docs = [d for d in _kb(args).list_documents() if not args.source or d.source_key == args.source]
    shown = docs if args.limit <= 0 else docs[: args.limit]
    if args.json:
        print_json({"total": len(docs), "documents": [d.to_dict() for d in shown]})
        return 0
    for d in shown:
        say(f"{d.doc_id}\t{d.chunks} chunks\t{d.title}\t{d.url or d.source}")
    if len(shown) < len(docs):
        say(f"... {len(docs) - len(shown)} more (use --limit 0 or --source)")
    say(f"{len(docs)} documents")
    return 0


def _stats(args: argparse.Namespace) -> int:
    stats = _kb(args).stats()
    if args.json:
        print_json(stats)
        return 0
    if not stats["ready"]:
        say(f"no index yet at {stats['path']}; build: {stats['build'] or 'not started'}")
        return 0
    say(f"index {stats['name']} (generation {stats['generation']}) at {stats['path']}")
    say(
        f"  {stats['documents']} documents, {stats['chunks']} chunks, {stats['index_type']} "
        f"{stats['embedding_model']} ({stats['dimension']}d), built {stats['built_at']}"
    )
    for key, src in stats["sources"].items():
        state = "complete" if src.get("complete") else "partial"
        say(f"  source {key}: {src.get('documents')} documents, {src.get('chunks')} chunks ({state})")
    if stats.get("build"):
        say(f"  build: {stats['build'].get('state')} - {stats['build'].get('message', '')}")
    if stats.get("warning"):
        say(f"  warning: {stats['warning']}")
    return 0


def _search(args: argparse.Namespace) -> int:
    hits = _kb(args).search(args.query, k=args.k, min_score=args.min_score, mode=args.mode)
    if args.json:
        print_json({"query": args.query, "mode": args.mode, "hits": [h.to_dict() for h in hits]})
        return 0
    if not hits:
        say("no passage passed the minimum score")
    for h in hits:
        where = h.chunk.url or (f"{h.chunk.source}, page {h.chunk.page}" if h.chunk.page else h.chunk.source)
        bm25 = "-" if h.bm25 is None else f"{h.bm25:.2f}"
        say(f"{h.rank}. {h.chunk.title} [{where}] fused={h.score:.4f} dense={h.dense:.3f} bm25={bm25}")
        say(f"   {h.chunk.text[:200]}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from medgemma.evaluation.reports import retrieval_modes
    from medgemma.knowledge.retrieve import MODES

    kb = _kb(args)
    result = retrieval_modes(
        kb.settings, kb.retriever(), args.data, k=args.k, min_score=args.min_score, limit=args.limit
    )
    say(f"saved as evaluation runs {', '.join(result.pop('run_ids'))}", err=True)
    if args.json:
        print_json(result)
        return 0
    names = [f"recall@{args.k}", "mrr", f"ndcg@{args.k}"]
    say(f"{result['questions']} questions, k={args.k}, document level")
    say(f"{'mode':<8}" + "".join(f"{n:>11}" for n in names))
    for mode in MODES:
        say(f"{mode:<8}" + "".join(f"{result[mode][n]:>11.3f}" for n in names))
    return 0
