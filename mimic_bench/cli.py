"""`mimic bench …`: build, audit and release MIMIC-Bench, and score sample files."""

from __future__ import annotations

import json


def _build(args) -> None:
    from .writer import build_bench

    stats = build_bench(args.data, args.out, seed=args.seed, embedder=args.embedder)
    for task, s in stats["tasks"].items():
        print(f"{task:10s} {s['questions']:6d} questions  skipped: {s['skipped'] or '-'}")
    print(f"comment_generation {stats['comment_generation_items']} items; {stats['seconds']['total']} s -> {args.out}")


def _audit(args) -> int:
    from .audit import audit, audit_table
    from .embed import get_embedder

    report = audit(args.bench, args.data, get_embedder(args.embedder), seed=args.seed, train_videos=args.train_videos)
    print(audit_table(report))
    print(f"no blind heuristic departs from chance by > {report['departure_se']} SE (bench or audit build): "
          f"{report['blind_ok']}; "
          f"letters balanced: {report['letter_balance_ok']}; hard questions: {report['hard_questions']}")
    return 0 if report["blind_ok"] and report["letter_balance_ok"] else 1


def _release(args) -> None:
    from .release import release

    release(args.bench, args.out, source=args.source)
    print(f"released MIMIC-Bench to {args.out}")


def _score(args) -> None:
    from mimic_data.io import atomic_write_json, read_jsonl

    from .scoring import score

    result = score(list(read_jsonl(args.samples)), n_bootstrap=args.bootstrap, seed=args.seed)
    if args.out:
        atomic_write_json(args.out, result)
    overall = result["overall"]
    print(json.dumps({"overall_acc": overall["acc"], "acc_valid": overall["acc_valid"],
                      "unparsed_rate": overall["unparsed_rate"],
                      "per_task": {t: b["acc"] for t, b in result["per_task"].items()}}, indent=2))


def register(subparsers) -> None:
    from .embed import EMBEDDERS

    parser = subparsers.add_parser("bench", help="MIMIC-Bench: build, audit, release, score")
    sub = parser.add_subparsers(dest="bench_command", required=True)

    p = sub.add_parser("build", help="the 7 MCQ tasks + comment items of the bench videos of a MIMIC-Data folder")
    p.add_argument("--data", required=True, help="folder with records.parquet and splits.parquet")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embedder", choices=EMBEDDERS, default="minilm", help="semantic-contrast embeddings [%(default)s]")
    p.set_defaults(handler=_build)

    p = sub.add_parser("audit", help="letter balance, two-sided blind heuristics, oracle ceilings, decidable_from "
                                     "-> audit.json")
    p.add_argument("--bench", required=True, help="folder written by `mimic bench build`")
    p.add_argument("--data", required=True, help="the MIMIC-Data folder it was built from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-videos", type=int, default=2000, help="train videos sampled for the audit build")
    p.add_argument("--embedder", choices=EMBEDDERS, default="minilm")
    p.set_defaults(handler=_audit)

    p = sub.add_parser("release", help="write the Hub-ready folder (configs, audit.json, card; no videos)")
    p.add_argument("--bench", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--source", default="synthetic world", help="provenance line for the card")
    p.set_defaults(handler=_release)

    p = sub.add_parser("score", help="score a JSONL of samples (mimic_bench.scoring.score) -> results JSON")
    p.add_argument("--samples", required=True)
    p.add_argument("--out")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_score)
