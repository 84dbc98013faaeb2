"""`mimic data …`: synthesise, render, crawl, select and release MIMIC-Data; the argument types and the one-line
error wrapper that `mimic data …` and `mimic hydrate …` share."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path


def one_line_errors(command: str, handler: Callable[[argparse.Namespace], int | None]):
    """The handler, with a user's mistake (a missing or wrong folder or file, a bad value) ending as one line on stderr
    and exit status 1 instead of a traceback."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int | None:
        try:
            return handler(args)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"{command}: {exc}") from None

    return run


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 0")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number >= 0")
    return value


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected YYYY-MM-DD") from exc


def existing_folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: no such folder")
    return path


def _read_table(path: Path):
    """A parquet table, or a FileNotFoundError that says which file is missing (pyarrow's names only the path)."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return pq.read_table(path)


def _synth(args) -> None:
    from .synth import synthesize

    synthesize(args.out, n=args.n, seed=args.seed)
    print(f"wrote {args.n} synthetic records to {args.out}")


def _render(args) -> None:
    from .synth import render

    if args.split:
        splits = _read_table(Path(args.world) / "splits.parquet").to_pylist()
        ids = [r["video_id"] for r in splits if r["split"] in args.split]
        if args.limit:
            ids = ids[: args.limit]
    else:
        ids = Path(args.ids).read_text().split()
    paths = render(args.world, ids, args.out)
    print(f"rendered {len(paths)} videos under {args.out}")


def _select(args) -> None:
    from .io import write_parquet
    from .select import SelectionConfig, check_no_overlap, select_splits

    records = _read_table(Path(args.data) / "records.parquet")
    cfg = SelectionConfig(bench_size=args.bench_size, top_tiers=(args.top2, args.top5), min_comments=args.min_comments)
    splits = select_splits(records, cfg)
    check_no_overlap(records, splits)
    write_parquet(Path(args.data) / "splits.parquet", splits)
    counts = {s: splits["split"].to_pylist().count(s) for s in ("bench", "train", "excluded")}
    print(f"splits: {counts}")


def _release(args) -> None:
    from .release import release

    data = Path(args.data)
    release(_read_table(data / "records.parquet"), _read_table(data / "splits.parquet"), args.out,
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
    p.set_defaults(handler=one_line_errors("mimic data synth", _synth))

    p = sub.add_parser("render", help="render synthetic videos as H.264 mp4 (existing files are kept)")
    p.add_argument("--world", required=True, help="folder written by `mimic data synth`")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--ids", help="file with one video id per line")
    group.add_argument("--split", nargs="+", choices=("bench", "train", "excluded"), help="render these splits")
    p.add_argument("--limit", type=int, default=0, help="with --split: render at most this many (first by id)")
    p.add_argument("--out", required=True, help="root; videos go to videos/<platform>/<id[:2]>/<id>.mp4")
    p.set_defaults(handler=one_line_errors("mimic data render", _render))

    p = sub.add_parser("select", help="interaction score, top-2 %% / 5 %% bench selection, splits.parquet")
    p.add_argument("--data", required=True, help="folder with records.parquet")
    p.add_argument("--bench-size", type=int, default=4000)
    p.add_argument("--top2", type=float, default=0.02)
    p.add_argument("--top5", type=float, default=0.05)
    p.add_argument("--min-comments", type=int, default=5)
    p.set_defaults(handler=one_line_errors("mimic data select", _select))

    p = sub.add_parser("release", help="write the Hub-ready MIMIC-Data folder (parquet configs + card, no videos)")
    p.add_argument("--data", required=True, help="folder with records.parquet and splits.parquet")
    p.add_argument("--out", required=True)
    p.add_argument("--source", default="synthetic world", help="provenance line for the card")
    p.set_defaults(handler=one_line_errors("mimic data release", _release))
