"""`mimic data crawl`: fetch metadata and top comments with yt-dlp (as a library), normalise, resume after a stop.

One `extract_info(url, download=False)` per URL with `getcomments=True` and YouTube's `comment_sort=top` and
`max_comments=<n>,all,0` (at most n comments, top-level only, no replies). Each record is normalised by
`mimic_data.normalize` (see its docstring for the field mapping).

Files under `out_dir`:
- `ledger.jsonl`: append-only, one row per attempt (url, attempt, status, transient, error_class, message, video_id,
  time_utc, yt_dlp_version). Statuses come from `mimic_data.hydrate.ytdlp_errors`, plus `invalid_record` when the info
  dict does not make a valid record (permanent).
- `records.jsonl`: validated records, appended before their ledger row, so a kill never marks a URL done without
  its record (a re-crawl may repeat a record; the last copy wins).
- `records.parquet`: written by the final step (`finalize`, or `mimic data crawl --finalize`), sorted by video_id.
Resume: a URL whose latest ledger row is ok or a permanent failure is skipped; transient failures are retried.
A run stops early after `max_consecutive_blocks` bot checks / rate limits in a row, rather than burning the list.

Limits of the source (documented, not papered over):
- TikTok: yt-dlp has no TikTok comment extraction, so TikTok records carry no comments.
- YouTube from datacenter IPs answers "Sign in to confirm you're not a bot": pass `--cookies cookies.txt`
  (Netscape format, exported from a logged-in browser; a throwaway account, since it can be banned), keep
  `--sleep` at 5-10 s (yt-dlp's wiki reports ~300 videos/hour per session), or use `--proxy`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mimic_data.hydrate.ytdlp_errors import BLOCK_STATUSES, YtDlpLogger, classify_ytdlp_error, is_settled, root_cause
from mimic_data.io import JsonlLedger, write_parquet
from mimic_data.normalize import normalize_info
from mimic_data.schema import VideoRecord, records_to_table, validate_batch

LEDGER_NAME = "ledger.jsonl"
RECORDS_NAME = "records.jsonl"
PARQUET_NAME = "records.parquet"
_MAX_MESSAGE_CHARS = 2000

log = logging.getLogger(__name__)


def ydl_options(max_comments: int = 100, *, cookies: str | None = None, proxy: str | None = None) -> dict[str, Any]:
    """YoutubeDL options for a metadata-and-comments crawl (no media download)."""
    opts: dict[str, Any] = {
        "skip_download": True,
        "getcomments": True,
        "extractor_args": {"youtube": {"comment_sort": ["top"], "max_comments": [str(max_comments), "all", "0"]}},
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": YtDlpLogger(),
    }
    if cookies:
        opts["cookiefile"] = str(cookies)
    if proxy:
        opts["proxy"] = proxy
    return opts


def _default_ydl_factory(opts: dict[str, Any]):
    from yt_dlp import YoutubeDL

    return YoutubeDL(opts)


def _ytdlp_version() -> str:
    try:
        from yt_dlp.version import __version__
    except ImportError:
        return "unknown"
    return __version__


def latest_attempts(ledger_path: Path) -> dict[str, dict[str, Any]]:
    """The latest ledger row per URL (rows are appended in time order)."""
    return JsonlLedger(ledger_path).latest(key=lambda row: row.get("url"))


def _record_json(record: VideoRecord) -> dict[str, Any]:
    row = record.to_row()
    row["upload_time"] = record.upload_time.isoformat()
    row["snapshot_date"] = record.snapshot_date.isoformat()
    return row


def _dedupe_urls(urls: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(u.strip() for u in urls if u and u.strip()))


def crawl(urls: Iterable[str], out_dir: str | Path, *, max_comments: int = 100, snapshot_date: dt.date | None = None,
          ydl_factory: Callable[[dict[str, Any]], Any] | None = None, sleep: float = 5.0,
          cookies: str | None = None, proxy: str | None = None, max_consecutive_blocks: int = 5) -> dict[str, Any]:
    """Crawl the URLs not yet settled in `out_dir`'s ledger, then write records.parquet; returns a summary."""
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    ledger_path = out_dir / LEDGER_NAME
    ledger, records = JsonlLedger(ledger_path), JsonlLedger(out_dir / RECORDS_NAME)
    snapshot_date = snapshot_date or dt.datetime.now(dt.UTC).date()
    urls = _dedupe_urls(urls)
    latest = latest_attempts(ledger_path)
    attempts_so_far = Counter(row["url"] for row in ledger if "url" in row)
    todo = [u for u in urls if not is_settled(latest.get(u))]
    statuses: Counter[str] = Counter()
    consecutive_blocks, stopped_early = 0, False
    version = _ytdlp_version()
    factory = ydl_factory or _default_ydl_factory
    with factory(ydl_options(max_comments, cookies=cookies, proxy=proxy)) as ydl:
        for i, url in enumerate(tqdm(todo, desc="crawl", unit="url", disable=None)):
            if i and sleep > 0:
                time.sleep(sleep)
            row = _attempt(ydl, url, snapshot_date, records)
            row.update(attempt=attempts_so_far[url] + 1, yt_dlp_version=version,
                       time_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
            ledger.append(row)
            statuses[row["status"]] += 1
            consecutive_blocks = consecutive_blocks + 1 if row["status"] in BLOCK_STATUSES else 0
            if max_consecutive_blocks and consecutive_blocks >= max_consecutive_blocks:
                log.warning("stopping: %d bot checks / rate limits in a row (last: %s); see the cookies advice in "
                            "mimic_data/README_crawl.md", consecutive_blocks, url)
                stopped_early = True
                break
    parquet_path, n_records = finalize(out_dir)
    return {"urls": len(urls), "skipped_settled": len(urls) - len(todo), "attempted": sum(statuses.values()),
            "by_status": dict(sorted(statuses.items())), "stopped_early": stopped_early,
            "records": n_records, "parquet": str(parquet_path)}


def _attempt(ydl, url: str, snapshot_date: dt.date, records: JsonlLedger) -> dict[str, Any]:
    """One extract + normalise; appends the record on success and returns the ledger row (without bookkeeping)."""
    try:
        info = ydl.extract_info(url, download=False)
    except Exception as exc:  # every failure is classified into the ledger, none stops the crawl
        status, transient = classify_ytdlp_error(exc)
        return {"url": url, "status": status, "transient": transient, "error_class": type(root_cause(exc)).__name__,
                "message": str(exc)[:_MAX_MESSAGE_CHARS], "video_id": None}
    try:
        if info is None:
            raise ValueError("yt-dlp returned no info dict")
        record = normalize_info(info, snapshot_date=snapshot_date, url=url)
    except Exception as exc:  # a malformed info dict is this URL's permanent failure, not the run's
        return {"url": url, "status": "invalid_record", "transient": False, "error_class": type(exc).__name__,
                "message": str(exc)[:_MAX_MESSAGE_CHARS], "video_id": (info or {}).get("id")}
    records.append(_record_json(record))
    return {"url": url, "status": "ok", "transient": False, "error_class": None, "message": "",
            "video_id": record.video_id}


def finalize(out_dir: str | Path) -> tuple[Path, int]:
    """Write records.parquet from records.jsonl: last copy of each video wins, sorted by video_id."""
    out_dir = Path(out_dir)
    # keyed by repr so that a row without a video_id still reaches validation, which names it
    latest_by_id = JsonlLedger(out_dir / RECORDS_NAME).latest(key=lambda row: repr(row.get("video_id")))
    records, errors = validate_batch(latest_by_id.values())
    if errors:
        listed = "; ".join(str(e) for e in errors[:5])
        raise ValueError(f"{out_dir / RECORDS_NAME}: {len(errors)} invalid rows, parquet not written: {listed}")
    records.sort(key=lambda r: r.video_id)
    path = write_parquet(out_dir / PARQUET_NAME, records_to_table(records))
    return path, len(records)


def read_url_file(path: str | Path) -> list[str]:
    """One URL per line; blank lines and lines starting with '#' are ignored."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _run_crawl(args: argparse.Namespace) -> int:
    if args.finalize:
        path, n = finalize(args.out)
        print(f"wrote {path} ({n} records)")
        return 0
    urls = list(args.urls) + (read_url_file(args.from_file) if args.from_file else [])
    if not urls:
        raise SystemExit("mimic data crawl: give URLs or --from-file FILE (or --finalize)")
    snapshot = dt.date.fromisoformat(args.snapshot_date) if args.snapshot_date else None
    summary = crawl(urls, args.out, max_comments=args.max_comments, snapshot_date=snapshot, sleep=args.sleep,
                    cookies=args.cookies, proxy=args.proxy, max_consecutive_blocks=args.max_consecutive_blocks)
    print(json.dumps(summary, indent=2))
    return 1 if summary["stopped_early"] else 0


def register_crawl(data_subparsers) -> argparse.ArgumentParser:
    """Add `crawl` to the `mimic data` subparsers."""
    parser = data_subparsers.add_parser("crawl", help="fetch metadata + top comments with yt-dlp (resumable)",
                                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("urls", nargs="*", help="video URLs (YouTube or TikTok)")
    parser.add_argument("--from-file", help="file with one URL per line ('#' starts a comment line)")
    parser.add_argument("--out", default="runs/crawl", help="output folder (ledger, records) [%(default)s]")
    parser.add_argument("--max-comments", type=int, default=100, help="top-level comments per video [%(default)s]")
    parser.add_argument("--cookies", help="Netscape cookies.txt, needed when YouTube asks to confirm you're not a bot")
    parser.add_argument("--proxy", help="proxy URL passed to yt-dlp")
    parser.add_argument("--sleep", type=float, default=5.0, help="seconds between videos [%(default)s]")
    parser.add_argument("--snapshot-date", help="YYYY-MM-DD stored as snapshot_date [today, UTC]")
    parser.add_argument("--max-consecutive-blocks", type=int, default=5,
                        help="stop after this many bot checks / rate limits in a row; 0 = never [%(default)s]")
    parser.add_argument("--finalize", action="store_true", help="only write records.parquet from records.jsonl")
    parser.set_defaults(handler=_run_crawl)
    return parser
