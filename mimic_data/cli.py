"""`mimic data …`: synthesise, render, select and release MIMIC-Data."""

from __future__ import annotations

from pathlib import Path


def _synth(args) -> None:
    from .synth import synthesize

    synthesize(args.out, n=args.n, seed=args.seed)
    print(f"wrote {args.n} synthetic records to {args.out}")


def _render(args) -> None:
    import pyarrow.parquet as pq

    from .synth import render

    if args.split:
        splits = pq.read_table(Path(args.world) / "splits.parquet").to_pylist()
        ids = [r["video_id"] for r in splits if r["split"] in args.split]
        if args.limit:
            ids = ids[: args.limit]
    else:
        ids = Path(args.ids).read_text().split()
    paths = render(args.world, ids, args.out)
    print(f"rendered {len(paths)} videos under {args.out}")


def _select(args) -> None:
    import pyarrow.parquet as pq

    from .io import write_parquet
    from .select import SelectionConfig, check_no_overlap, select_splits

    records = pq.read_table(Path(args.data) / "records.parquet")
    cfg = SelectionConfig(bench_size=args.bench_size, top_tiers=(args.top2, args.top5), min_comments=args.min_comments)
    splits = select_splits(records, cfg)
    check_no_overlap(records, splits)
    write_parquet(Path(args.data) / "splits.parquet", splits)
    counts = {s: splits["split"].to_pylist().count(s) for s in ("bench", "train", "excluded")}
    print(f"splits: {counts}")


def _release(args) -> None:
    import pyarrow.parquet as pq

    from .release import release

    data = Path(args.data)
    release(pq.read_table(data / "records.parquet"), pq.read_table(data / "splits.parquet"), args.out,
            source=args.source)
    print(f"released MIMIC-Data to {args.out}")


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="MIMIC-Data: synth, render, crawl, select, release")
    sub = parser.add_subparsers(dest="data_command", required=True)

    from .crawl import register_crawl

    register_crawl(sub)

    p = sub.add_parser("synth", help="write N synthetic-world records (records.parquet + world.parquet)")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_synth)

    p = sub.add_parser("render", help="render synthetic videos as H.264 mp4 (existing files are kept)")
    p.add_argument("--world", required=True, help="folder written by `mimic data synth`")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--ids", help="file with one video id per line")
    group.add_argument("--split", nargs="+", choices=("bench", "train", "excluded"), help="render these splits")
    p.add_argument("--limit", type=int, default=0, help="with --split: render at most this many (first by id)")
    p.add_argument("--out", required=True, help="root; videos go to videos/<platform>/<id[:2]>/<id>.mp4")
    p.set_defaults(handler=_render)

    p = sub.add_parser("select", help="interaction score, top-2 %% / 5 %% bench selection, splits.parquet")
    p.add_argument("--data", required=True, help="folder with records.parquet")
    p.add_argument("--bench-size", type=int, default=4000)
    p.add_argument("--top2", type=float, default=0.02)
    p.add_argument("--top5", type=float, default=0.05)
    p.add_argument("--min-comments", type=int, default=5)
    p.set_defaults(handler=_select)

    p = sub.add_parser("release", help="write the Hub-ready MIMIC-Data folder (parquet configs + card, no videos)")
    p.add_argument("--data", required=True, help="folder with records.parquet and splits.parquet")
    p.add_argument("--out", required=True)
    p.add_argument("--source", default="synthetic world", help="provenance line for the card")
    p.set_defaults(handler=_release)
