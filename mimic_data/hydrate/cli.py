"""`mimic hydrate …`: download a folder's videos with yt-dlp (ledger, resume, retries), then report and materialize.

    mimic hydrate download BENCH_DIR [--url-map SRC=DST] [--cookies cookies.txt] [--sleep 5] [--shard i/N]
    mimic hydrate download BENCH_DIR --workers 8 --engine ray --ray-address auto [--proxy URL]...   # a Ray cluster
    mimic hydrate report BENCH_DIR        # counts by status/platform, coverage per config, sha256 of available ids
    mimic hydrate materialize BENCH_DIR   # rewrite file_name in every config parquet (null where missing)
    mimic hydrate preflight BENCH_DIR     # every file in videos/: missing / zero-byte / truncated / undecodable / ...
    mimic hydrate serve RENDERED_ROOT     # loopback server of rendered synthetic videos (for --url-map)

Videos go to BENCH_DIR/videos/<platform>/<id[:2]>/<id>.mp4 (inside the folder, so `load_dataset(BENCH_DIR, cfg)`
yields a `video` column); the ledgers to BENCH_DIR/hydration/. See mimic_data/hydrate/download.py for the ledger and
resume rules.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..cli import existing_folder, non_negative_float, non_negative_int, one_line_errors


def _shard(text: str) -> tuple[int, int]:
    index, _, total = text.partition("/")
    shard = (int(index), int(total or 0))
    if not 0 <= shard[0] < shard[1]:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: expected i/N with 0 <= i < N")
    return shard


def _download(args) -> int:
    from ..engines import ShardFailed
    from .download import HydrateOptions, hydrate, load_manifest, parse_url_map
    from .report import format_report, materialize, report

    options = HydrateOptions(max_height=args.max_height, cookies=args.cookies, url_map=parse_url_map(args.url_map),
                             retries=args.retries, backoff=args.backoff,
                             max_consecutive_blocks=args.max_consecutive_blocks, socket_timeout=args.socket_timeout,
                             retry_failed=args.retry_failed)
    source = args.source or args.root
    try:
        summary = hydrate(source, args.root, options=options, shard=args.shard, workers=args.workers,
                          engine=args.engine, ray_address=args.ray_address, proxies=args.proxy, sleeps=args.sleep)
    except ShardFailed as exc:
        raise SystemExit(f"mimic hydrate download: {exc}") from None
    print(json.dumps(summary, indent=2))
    if not args.no_materialize:
        materialize(args.root)
    print(format_report(report(args.root, manifest=load_manifest(source))))
    problems = []
    if summary["failed"]:
        problems.append(f"{summary['failed']} of the videos tried failed {summary['by_status']}")
    if summary["stopped_early"]:
        problems.append("stopped early after consecutive bot checks / rate limits")
    if problems:
        print(f"mimic hydrate download: {'; '.join(problems)}; {summary['pending']} still to fetch "
              "(run it again to resume; `mimic hydrate report` for details)", file=sys.stderr)
    return 1 if problems else 0


def _report(args) -> int:
    from .download import load_manifest
    from .report import format_report, report

    manifest = load_manifest(args.root) if (args.root / "videos.parquet").exists() else None
    result = report(args.root, manifest=manifest)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


def _materialize(args) -> int:
    from .report import hydration_folder, materialize

    print(json.dumps(materialize(hydration_folder(args.root)), indent=2))
    return 0


def _preflight(args) -> int:
    from ..io import atomic_write_json
    from ..render import video_relpath
    from .download import load_manifest
    from .preflight import format_report, preflight

    if not (args.root / "videos").is_dir() and not (args.root / "videos.parquet").exists():
        raise ValueError(f"{args.root}: no videos/ folder and no videos.parquet manifest to check")
    expected = None
    if (args.root / "videos.parquet").exists():
        expected = [video_relpath(r["platform"], r["video_id"]) for r in load_manifest(args.root)]
    result = preflight(args.root, expected, min_duration_s=args.min_duration)
    if args.out:
        atomic_write_json(args.out, result)
    print(format_report(result))
    return 0


def _serve(args) -> int:
    import time

    from .server import VideoServer

    if not (args.rendered_root / "videos").is_dir():
        raise FileNotFoundError(f"{args.rendered_root}: no videos/ folder (serve the --out of `mimic data render`)")
    with VideoServer(args.rendered_root) as server:
        print(f"serving {args.rendered_root} at {server.base_url}/<platform>/<id>.mp4 (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def register(subparsers) -> None:
    from pathlib import Path

    from ..engines import add_worker_arguments

    parser = subparsers.add_parser("hydrate", help="download videos with yt-dlp; report, materialize, preflight",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="hydrate_command", required=True)

    p = sub.add_parser("download", help="download the videos of a folder's videos.parquet (resumable)")
    p.add_argument("root", type=Path, help="MIMIC-Bench / MIMIC-Data folder; videos and ledgers are written here")
    p.add_argument("--source", help="another manifest: a folder, a parquet (video_id, platform, url) or a URL list")
    p.add_argument("--url-map", action="append", default=[], metavar="SRC=DST",
                   help="rewrite URL prefix SRC to DST (mirrors; the demo's loopback server); repeatable")
    p.add_argument("--max-height", type=int, default=480, help="format cap in pixels [%(default)s]")
    p.add_argument("--cookies", help="Netscape cookies.txt (YouTube bot checks)")
    p.add_argument("--retries", type=non_negative_int, default=2,
                   help="in-place retries of a transient failure [%(default)s]")
    p.add_argument("--backoff", type=non_negative_float, default=2.0,
                   help="seconds before the first retry, doubling [%(default)s]")
    p.add_argument("--socket-timeout", type=float, default=30.0, help="[%(default)s]")
    p.add_argument("--max-consecutive-blocks", type=non_negative_int, default=5,
                   help="stop after this many videos in a row hit bot checks / 429s; 0 = never [%(default)s]")
    p.add_argument("--retry-failed", action="store_true", help="try only videos whose latest attempt failed")
    p.add_argument("--shard", type=_shard, help="i/N: only ids with crc32(id) %% N == i (one machine of N)")
    add_worker_arguments(p, unit="videos")
    p.add_argument("--no-materialize", action="store_true", help="do not rewrite file_name afterwards")
    p.set_defaults(handler=one_line_errors("mimic hydrate download", _download))

    p = sub.add_parser("report", help="counts by status/platform, coverage per config, available-id sha256")
    p.add_argument("root", type=existing_folder)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=one_line_errors("mimic hydrate report", _report))

    p = sub.add_parser("materialize", help="rewrite file_name in every config parquet (null where missing)")
    p.add_argument("root", type=existing_folder)
    p.set_defaults(handler=one_line_errors("mimic hydrate materialize", _materialize))

    p = sub.add_parser("preflight", help="check video files before sampling; a report, never a crash")
    p.add_argument("root", type=existing_folder)
    p.add_argument("--min-duration", type=non_negative_float, default=1.0,
                   help="shorter clips are flagged too_short [%(default)s]")
    p.add_argument("--out", help="also write the full report as JSON here")
    p.set_defaults(handler=one_line_errors("mimic hydrate preflight", _preflight))

    p = sub.add_parser("serve", help="serve rendered synthetic videos on 127.0.0.1 (for --url-map)")
    p.add_argument("rendered_root", type=existing_folder)
    p.set_defaults(handler=one_line_errors("mimic hydrate serve", _serve))
