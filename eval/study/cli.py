"""`mimic study …`: build a blind-test sheet, check it, serve the annotation app, simulate, export, aggregate, score
proxies. A refused input (a bad file, a human item found in a public folder) ends with a one-line error and exit 2."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path


def _one_line_errors(handler):
    """Refusals the study raises on purpose become one line on stderr and exit status 2, not a traceback."""

    @functools.wraps(handler)
    def run(args) -> int:
        from mimic_bench.writer import StudyPoolLeak

        from .sheet import StudyInputError
        from .store import StudyError

        try:
            return handler(args)
        except (StudyInputError, StudyError, StudyPoolLeak, FileNotFoundError) as err:
            print(f"mimic study {args.study_command}: error: {err}", file=sys.stderr)
            return 2

    return run


def _build(args) -> int:
    from .sheet import build_sheet

    secret = bytes.fromhex(Path(args.secret_file).read_text().strip()) if args.secret_file else None
    design = build_sheet(args.bench, args.generations, args.out, pool_dir=args.pool, seed=args.seed,
                         n_videos=args.n_videos, n_calibration=args.n_calibration, n_attention=args.n_attention,
                         k=args.k, secret=secret, public_dirs=args.public)
    print(f"study {design['study_id']}: {design['n_items']} items over {design['n_videos']} videos, "
          f"{design['n_models']} models -> {args.out}/items_public.parquet (source map in {args.out}/secret/)")
    return 0


def _tokens(args) -> int:
    from mimic_data.io import atomic_write_text

    from .store import StudyStore

    issued = StudyStore(args.db, args.study, public_dirs=tuple(args.public)).issue_tokens(args.n)
    atomic_write_text(args.out, "annotator_id,token\n" + "".join(f"{a},{t}\n" for a, t in issued))
    Path(args.out).chmod(0o600)
    print(f"{len(issued)} tokens -> {args.out} (hand each annotator one token; keep the file private)")
    return 0


def _serve(args) -> int:
    from .app import serve

    serve(args.study, args.db, port=args.port, k=args.k, lease_seconds=args.lease_minutes * 60,
          public_dirs=tuple(args.public))
    return 0


def _simulate(args) -> int:
    from mimic_data.io import atomic_write_json

    from .loadtest import load_test

    latents = {}
    for pair in args.latent:
        source, _, value = pair.partition("=")
        latents[source] = float(value)
    report = load_test(args.study, args.db, n_annotators=args.annotators, seed=args.seed, latents=latents,
                       public_dirs=tuple(args.public))
    atomic_write_json(args.out, report)
    print(f"SIMULATED annotators: {report['judgments_in_db']} judgments stored by {args.annotators} annotators in "
          f"{report['wall_s']:.1f}s; db matches accepted: {report['db_matches_accepted']} -> {args.out}")
    return 0 if report["db_matches_accepted"] and report["db_rows_unique"] else 1


def _export(args) -> int:
    from .export import export_judgments, read_judgments

    path = export_judgments(read_judgments(args.db), args.out, simulated=args.simulated)
    print(f"judgments -> {path}")
    return 0


def _aggregate(args) -> int:
    from .aggregate import aggregate, results_table, write_results
    from .export import read_judgments
    from .sheet import load_manifest

    result = aggregate(read_judgments(args.judgments), load_manifest(args.study), n_boot=args.n_boot, seed=args.seed,
                       max_failed_checks=args.max_failed_checks)
    result["simulated"] = args.simulated
    title = "SIMULATED judgments (not people)" if args.simulated else ""
    paths = write_results(result, args.out, title=title)
    print(results_table(result), "\n".join(f"{k}: {v}" for k, v in paths.items()))
    return 0


def _proxies(args) -> int:
    from mimic_data.io import atomic_write_json

    from .proxies import compute_proxies

    result = compute_proxies(args.bench, args.generations, args.data, embedder=args.embedder, seed=args.seed)
    atomic_write_json(args.out, result)
    print(json.dumps(result["sources"], indent=1))
    return 0


def _validate(args) -> int:
    from mimic_data.io import atomic_write_json

    from .quality import quality_table, study_quality

    report = study_quality(args.study)
    atomic_write_json(args.out, report)
    print(quality_table(report), end="")
    flagged = report["flagged_sources"]
    print(f"flagged sources: {', '.join(flagged) if flagged else 'none'} -> {args.out}")
    return 1 if flagged and args.strict else 0


def _validate_proxies(args) -> int:
    from mimic_data.io import atomic_write_json

    from .proxies import validate_proxies

    proxies = json.loads(Path(args.proxies).read_text())
    study = json.loads(Path(args.results).read_text())
    result = validate_proxies(proxies, study, n_boot=args.n_boot, seed=args.seed)
    result["simulated_judgments"] = bool(study.get("simulated"))
    atomic_write_json(args.out, result)
    for name, r in result["proxies"].items():
        rho = "n/a" if r["spearman"] is None else f"{r['spearman']:+.2f} [{r['ci'][0]:+.2f}, {r['ci'][1]:+.2f}]"
        print(f"{name:28s} Spearman vs judged-human %: {rho}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("study", help="comment-mimicking human study: build, serve, aggregate, proxies")
    sub = parser.add_subparsers(dest="study_command", required=True)

    public_help = "another public folder (e.g. a MIMIC-Data release) no human item may appear in; repeatable"
    p = sub.add_parser("build", help="blind-test sheet: held-out real comments + one per model, shuffled, opaque ids")
    p.add_argument("--bench", required=True, help="(hydrated) MIMIC-Bench folder with comment_generation.parquet")
    p.add_argument("--pool", required=True, help="the private study pool folder written by `mimic bench build`")
    p.add_argument("--generations", nargs="+", required=True, help="`mimic eval generate` JSONL files")
    p.add_argument("--public", action="append", default=[], help=public_help)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-videos", type=int, default=None, help="seeded subset of bench videos (default: all)")
    p.add_argument("--n-calibration", type=int, default=2, help="videos every annotator judges (crossed block)")
    p.add_argument("--n-attention", type=int, default=3, help="attention-check lines (calibration videos first)")
    p.add_argument("--k", type=int, default=3, help="annotators per item")
    p.add_argument("--secret-file", help="hex HMAC key; default: a new random key in OUT/secret/")
    p.set_defaults(handler=_one_line_errors(_build))

    p = sub.add_parser("tokens", help="issue annotator sign-in tokens")
    p.add_argument("--study", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--out", required=True, help="CSV of annotator_id,token (mode 0600)")
    p.add_argument("--public", action="append", default=[], help=public_help)
    p.set_defaults(handler=_one_line_errors(_tokens))

    p = sub.add_parser("serve", help="annotation app on 127.0.0.1")
    p.add_argument("--study", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--k", type=int, default=None, help="override the design's annotators per item")
    p.add_argument("--lease-minutes", type=float, default=30)
    p.add_argument("--public", action="append", default=[], help=public_help)
    p.set_defaults(handler=_one_line_errors(_serve))

    p = sub.add_parser("simulate", help="SIMULATED annotators judge the study over loopback (load test)")
    p.add_argument("--study", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--annotators", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latent", action="append", default=[], metavar="SOURCE=P",
                   help="simulated human-likeness of a source (default: seeded draw; real comments 0.88)")
    p.add_argument("--out", required=True, help="load-test report JSON")
    p.add_argument("--public", action="append", default=[], help=public_help)
    p.set_defaults(handler=_one_line_errors(_simulate))

    p = sub.add_parser("export", help="judgments -> parquet + datasets folder")
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--simulated", action="store_true", help="label the export as simulated")
    p.set_defaults(handler=_one_line_errors(_export))

    p = sub.add_parser("aggregate", help="%% judged human, realism, agreement, exclusions, table and chart")
    p.add_argument("--study", required=True)
    p.add_argument("--judgments", required=True, help="SQLite database or exported parquet")
    p.add_argument("--out", required=True)
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-failed-checks", type=int, default=1, help="exclude annotators failing more checks")
    p.add_argument("--simulated", action="store_true", help="label results as simulated")
    p.set_defaults(handler=_one_line_errors(_aggregate))

    p = sub.add_parser("proxies", help="automatic human-likeness proxies per source")
    p.add_argument("--bench", required=True)
    p.add_argument("--generations", nargs="+", required=True)
    p.add_argument("--data", help="MIMIC-Data folder (comments.parquet, splits.parquet) for the detector")
    p.add_argument("--embedder", choices=["minilm", "tfidf"], default="minilm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_one_line_errors(_proxies))

    p = sub.add_parser("validate", help="quality checks before serving: cross-video duplicates, length and emoji "
                       "distributions per source, identity leaks")
    p.add_argument("--study", required=True)
    p.add_argument("--out", required=True, help="quality report JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when any source is flagged")
    p.set_defaults(handler=_one_line_errors(_validate))

    p = sub.add_parser("validate-proxies", help="Spearman of each proxy vs the study's judged-human %% (bootstrap CI)")
    p.add_argument("--proxies", required=True)
    p.add_argument("--results", required=True, help="study_results.json from `mimic study aggregate`")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_one_line_errors(_validate_proxies))
