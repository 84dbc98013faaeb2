"""`mimic data crawl`: fetch metadata and top comments with yt-dlp (as a library), normalise, resume after a stop.

One `extract_info(url, download=False)` per URL with `getcomments=True` and YouTube's `comment_sort=top` and
`max_comments=<n>,all,0` (at most n comments, top-level only, no replies). Each record is normalised by
`mimic_data.normalize` (see its docstring for the field mapping). `--from-info-json DIR` reads the `*.info.json` files
that `yt-dlp --write-info-json --skip-download` wrote instead of fetching, with the same ledger (keyed by the file's
absolute path), records and resume.

No source can stop the crawl: whatever a fetch raises or an info dict contains ends as that source's one ledger row
(ok, or a classified failure whose message names the source and the field).

Files under `out_dir` (with `workers=W > 1`, shard k of W writes `ledger-<k>-of-<W>.jsonl` and
`records-<k>-of-<W>.jsonl` instead, and every reader merges them all):
- `ledger.jsonl`: append-only, one row per attempt (url, attempt, status, transient, error_class, message, video_id,
  time_utc, yt_dlp_version); `url` is the .info.json path with `--from-info-json`. Statuses come from
  `mimic_data.hydrate.ytdlp_errors`, plus `invalid_record` when the info dict (or file) does not make a valid record
  (permanent), `io_error` when a file cannot be read (transient) and `not_a_video` for a playlist/channel .info.json
  (permanent, not a failure). `video_id` is set only when it is a safe id.
- `records.jsonl`: validated records plus their `source`, appended before their ledger row, so a kill never marks a
  source done without its record (a re-crawl may repeat a record; the last copy wins).
- `records.parquet`: written by the final step (`finalize`, or `mimic data crawl --finalize`) from the rows that pass
  validation (the same bounds as the crawl), sorted by video_id; invalid rows and videos that came from several
  sources are reported, not hidden.
Resume: a source whose latest ledger row is ok or a permanent failure is skipped; transient failures are retried.
A run (each worker's) stops early after `max_consecutive_blocks` bot checks / rate limits in a row, rather than burning
the list.
Scale-out: URLs are split by `mimic_data.io.shard_of(url, W)` over W workers run by `mimic_data.engines` ("local"
processes, or "ray" tasks on a cluster sharing `out_dir`), each with its own proxy and sleep when lists are given;
the driver merges their ledgers into the summary and writes records.parquet once.
The command exits 1, with a summary line on stderr, when a source failed, the run stopped early or rows were invalid.

Limits of the source (documented, not papered over):
- TikTok: yt-dlp has no TikTok comment extraction, so TikTok records carry no comments.
- YouTube from datacenter IPs answers "Sign in to confirm you're not a bot": pass `--cookies cookies.txt`
  (Netscape format, exported from a logged-in browser; a throwaway account, since it can be banned), keep
  `--sleep` at 5-10 s (yt-dlp's wiki reports ~300 videos/hour per session), or use `--proxy`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mimic_data.engines import LedgerTail, ShardFailed, add_worker_arguments, run_shards, worker_settings
from mimic_data.hydrate.ytdlp_errors import (
    BLOCK_STATUSES,
    YtDlpLogger,
    classify_ytdlp_error,
    ended_blocked,
    is_settled,
    root_cause,
)
from mimic_data.io import JsonlLedger, latest_by_key, shard_of, write_parquet
from mimic_data.normalize import normalize_info, platform_of
from mimic_data.schema import RecordError, VideoRecord, check_video_id, records_to_table, validate_batch

LEDGER_NAME = "ledger.jsonl"
RECORDS_NAME = "records.jsonl"
PARQUET_NAME = "records.parquet"
INFO_JSON_GLOB = "*.info.json"
_MAX_MESSAGE_CHARS = 2000
_CONTAINER_TYPES = ("playlist", "multi_video")  # yt-dlp writes an .info.json for the playlist/channel itself too
_NOT_FAILURES = frozenset({"ok", "not_a_video"})
_EXAMPLES = 20  # invalid rows quoted in a summary (all are counted)

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


@dataclasses.dataclass(frozen=True)
class CrawlSettings:
    """What one worker needs besides its URLs (proxy and sleep may differ per worker)."""
    snapshot_date: dt.date
    max_comments: int = 100
    sleep: float = 5.0
    cookies: str | None = None
    proxy: str | None = None
    max_consecutive_blocks: int = 5


def shard_file(out_dir: str | Path, name: str, shard: tuple[int, int]) -> Path:
    """`name` (ledger.jsonl, records.jsonl) for a single-worker run, `<stem>-<k>-of-<W>.jsonl` for shard k of W."""
    stem, _, suffix = name.partition(".")
    return Path(out_dir) / (name if shard == (0, 1) else f"{stem}-{shard[0]:03d}-of-{shard[1]:03d}.{suffix}")


def all_shard_files(out_dir: str | Path, name: str) -> list[Path]:
    """`name` and every shard's file of it that exists under out_dir: the single-worker file first, then by name."""
    stem, _, suffix = name.partition(".")
    shards = sorted(Path(out_dir).glob(f"{stem}-*-of-*.{suffix}"))
    return [p for p in [Path(out_dir) / name, *shards] if p.exists()]


def _ledger_rows(out_dir: str | Path) -> list[Any]:
    return [row for path in all_shard_files(out_dir, LEDGER_NAME) for row in JsonlLedger(path)]


def latest_attempts(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The latest ledger row per source (URL or .info.json path) over every ledger of out_dir (the highest attempt)."""
    return latest_by_key(_ledger_rows(out_dir), key=lambda row: row.get("url") if isinstance(row, dict) else None,
                         replaces=lambda current, row: row.get("attempt", 0) >= current.get("attempt", 0))


def ledger_text(text: str) -> str:
    """Text that a UTF-8 ledger can hold: a lone surrogate (an undecodable file name, a broken string) is escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _record_json(record: VideoRecord, source: str) -> dict[str, Any]:
    row = record.to_row()
    row["upload_time"] = record.upload_time.isoformat()
    row["snapshot_date"] = record.snapshot_date.isoformat()
    row["source"] = source
    return row


def _dedupe(sources: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ledger_text(s.strip()) for s in sources if s and s.strip()))


def crawl(urls: Iterable[str], out_dir: str | Path, *, max_comments: int = 100, snapshot_date: dt.date | None = None,
          ydl_factory: Callable[[dict[str, Any]], Any] | None = None, sleep: float = 5.0,
          cookies: str | None = None, proxy: str | None = None, max_consecutive_blocks: int = 5, workers: int = 1,
          engine: str = "local", ray_address: str | None = None, proxies: list[str] | None = None,
          sleeps: list[float] | None = None) -> dict[str, Any]:
    """Crawl the URLs not yet settled in `out_dir`'s ledgers, then write records.parquet; returns a summary.

    workers=W splits the URLs into W shards run by `engine` ("local" or "ray", see mimic_data.engines); proxies /
    sleeps: one for every worker or one per worker. A custom ydl_factory must be picklable to reach other processes.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers}")
    sources = _dedupe(urls)
    out_dir = Path(out_dir).absolute()  # workers elsewhere (Ray) do not share this process's working directory
    base = CrawlSettings(snapshot_date or dt.datetime.now(dt.UTC).date(), max_comments, sleep, cookies, proxy,
                         max_consecutive_blocks)
    shards = [(k, workers) for k in range(workers)]
    in_process = workers == 1 and engine == "local"
    jobs = [([s for s in sources if shard_of(s, workers) == k], out_dir, (k, workers), settings, ydl_factory,
             in_process)
            for k, settings in enumerate(worker_settings(base, workers, proxy=proxies, sleep=sleeps))]
    return _run_jobs(crawl_shard, jobs, shards, sources, out_dir, max_consecutive_blocks=max_consecutive_blocks,
                     engine=engine, ray_address=ray_address)


def crawl_shard(urls: list[str], out_dir: str | Path, shard: tuple[int, int], settings: CrawlSettings,
                ydl_factory: Callable[[dict[str, Any]], Any] | None = None, progress: bool = True) -> int:
    """Crawl these URLs (all of one shard) into the shard's ledger and records; returns the attempts made.

    The unit of work any engine runs: it depends only on its arguments and out_dir, and writes only its own files.
    """
    factory = ydl_factory or _default_ydl_factory
    with factory(ydl_options(settings.max_comments, cookies=settings.cookies, proxy=settings.proxy)) as ydl:
        return _crawl_loop(urls, lambda url: ydl.extract_info(url, download=False), classify_ytdlp_error, out_dir,
                           shard, settings, from_files=False, progress=progress)


def info_json_files(folder: str | Path) -> list[Path]:
    """The `*.info.json` files under folder (recursively, sorted): what `yt-dlp --write-info-json` writes."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected yt-dlp .info.json files)")
    files = sorted(p for p in folder.rglob(INFO_JSON_GLOB) if p.is_file())
    if not files:
        raise FileNotFoundError(f"{folder}: no {INFO_JSON_GLOB} files (write them with "
                                "`yt-dlp --write-info-json --skip-download URL...`)")
    return files


def crawl_info_json(folder: str | Path, out_dir: str | Path, *,
                    snapshot_date: dt.date | None = None) -> dict[str, Any]:
    """Ingest yt-dlp `.info.json` files instead of fetching: same ledger (keyed by the file's absolute path), same
    records, same resume; a playlist/channel file is `not_a_video` (its videos have their own files)."""
    files = _dedupe(str(p.absolute()) for p in info_json_files(folder))
    settings = CrawlSettings(snapshot_date or dt.datetime.now(dt.UTC).date(), sleep=0.0, max_consecutive_blocks=0)
    return _run_jobs(_crawl_files, [(files, out_dir, (0, 1), settings)], [(0, 1)], files, out_dir,
                     max_consecutive_blocks=0)


def _crawl_files(files: list[str], out_dir: str | Path, shard: tuple[int, int], settings: CrawlSettings) -> int:
    return _crawl_loop(files, _read_info_json, _classify_read_error, out_dir, shard, settings, from_files=True,
                       progress=True)


def _read_info_json(path: str) -> Any:
    return json.loads(Path(path).read_bytes())


def _classify_read_error(exc: BaseException) -> tuple[str, bool]:
    """Not JSON (or not UTF-8, or nested past the parser's limit) is permanent; an OS error may pass on a later run."""
    if isinstance(exc, ValueError | RecursionError):
        return "invalid_record", False
    return "io_error", True


def _run_jobs(fn: Callable[..., int], jobs: list[tuple], shards: list[tuple[int, int]], sources: list[str],
              out_dir: str | Path, *, max_consecutive_blocks: int, engine: str = "local",
              ray_address: str | None = None) -> dict[str, Any]:
    """Run the shard jobs, read what they appended to their ledgers, finalize once; returns the run's summary."""
    latest = latest_attempts(out_dir)
    skipped = sum(is_settled(latest.get(source)) for source in sources)
    in_process = len(jobs) == 1 and engine == "local"  # then the loop shows its own progress bar
    tail = LedgerTail([shard_file(out_dir, LEDGER_NAME, shard) for shard in shards], key="url", bar=not in_process,
                      desc=f"crawl ({len(shards)} {engine} workers)")
    try:
        run_shards(fn, jobs, [f"crawl {k}/{n}" for k, n in shards], engine=engine, ray_address=ray_address,
                   on_wait=tail.poll)
    finally:
        tail.close()
    statuses = Counter(row["status"] for row in tail.rows)  # every row of this run, a retried Ray task's too
    final = finalize(out_dir)
    return {"inputs": len(sources), "skipped_settled": skipped, "attempted": sum(statuses.values()),
            "by_status": dict(sorted(statuses.items())), "failed": _failures(statuses),
            "stopped_early": any(ended_blocked(rows, "url", max_consecutive_blocks)
                                 for rows in tail.rows_by_path.values()), **final}


def _crawl_loop(sources: list[str], fetch: Callable[[str], Any],
                classify: Callable[[BaseException], tuple[str, bool]], out_dir: str | Path, shard: tuple[int, int],
                settings: CrawlSettings, *, from_files: bool, progress: bool) -> int:
    """One worker's loop: one final ledger row per source attempted, its record before its row; returns attempts."""
    from tqdm.auto import tqdm

    ledger = JsonlLedger(shard_file(out_dir, LEDGER_NAME, shard))
    records = JsonlLedger(shard_file(out_dir, RECORDS_NAME, shard))
    latest = latest_attempts(out_dir)
    attempts_so_far = Counter(row["url"] for row in _ledger_rows(out_dir) if isinstance(row, dict) and "url" in row)
    todo = [s for s in sources if not is_settled(latest.get(s))]
    statuses: Counter[str] = Counter()
    consecutive_blocks = 0
    version = _ytdlp_version()
    bar = tqdm(todo, desc="crawl", unit="file" if from_files else "url", disable=None if progress else True)
    for i, source in enumerate(bar):
        if i and settings.sleep > 0:
            time.sleep(settings.sleep)
        row = _attempt(fetch, classify, source, settings.snapshot_date, records, from_files)
        row.update(attempt=attempts_so_far[source] + 1, yt_dlp_version=version,
                   time_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        ledger.append(row)
        statuses[row["status"]] += 1
        bar.set_postfix(ok=statuses["ok"], failed=_failures(statuses), refresh=False)
        consecutive_blocks = consecutive_blocks + 1 if row["status"] in BLOCK_STATUSES else 0
        if settings.max_consecutive_blocks and consecutive_blocks >= settings.max_consecutive_blocks:
            log.warning("stopping shard %s: %d bot checks / rate limits in a row (last: %s); see the cookies advice "
                        "in mimic_data/README_crawl.md", shard, consecutive_blocks, source)
            break
    bar.close()
    return sum(statuses.values())


def _failures(statuses: Counter[str]) -> int:
    return sum(n for status, n in statuses.items() if status not in _NOT_FAILURES)


def _attempt(fetch: Callable[[str], Any], classify: Callable[[BaseException], tuple[str, bool]], source: str,
             snapshot_date: dt.date, records: JsonlLedger, from_files: bool) -> dict[str, Any]:
    """One fetch + normalise; appends the record on success and returns the ledger row (without bookkeeping).

    Nothing a source contains can escape: every exception becomes this source's row.
    """
    try:
        info = fetch(source)
    except Exception as exc:  # every failure is classified into the ledger, none stops the crawl
        status, transient = classify(exc)
        return _failure_row(source, status, transient, exc, None)
    try:
        if info is None:
            raise RecordError(source, "info", "yt-dlp returned no info dict")
        if from_files and isinstance(info, dict) and info.get("_type") in _CONTAINER_TYPES:
            return {"url": source, "status": "not_a_video", "transient": False, "error_class": None,
                    "message": f"{info['_type']} info (its videos have their own .info.json files)",
                    "video_id": None}
        record = normalize_info(info, snapshot_date=snapshot_date, url=None if from_files else source, source=source)
    except Exception as exc:  # a malformed info dict is this source's permanent failure, not the run's
        return _failure_row(source, "invalid_record", False, exc, info)
    records.append(_record_json(record, source))
    return {"url": source, "status": "ok", "transient": False, "error_class": None, "message": "",
            "video_id": record.video_id}


def _failure_row(source: str, status: str, transient: bool, exc: Exception, info: Any) -> dict[str, Any]:
    message = str(exc) if isinstance(exc, RecordError) else f"{source}: {type(exc).__name__}: {exc}"
    return {"url": source, "status": status, "transient": transient,
            "error_class": type(root_cause(exc)).__name__ if status != "invalid_record" else type(exc).__name__,
            "message": ledger_text(message[:_MAX_MESSAGE_CHARS]), "video_id": _safe_id_or_none(info)}


def _safe_id_or_none(info: Any) -> str | None:
    """The info dict's id when it is a safe id of its platform (an unsafe id is named only inside the message)."""
    if not isinstance(info, dict):
        return None
    try:
        return check_video_id(info.get("id"), platform_of(info, "?"))
    except RecordError:
        return None


def finalize(out_dir: str | Path) -> dict[str, Any]:
    """Write records.parquet from the valid rows of records.jsonl and its shards' records-<k>-of-<W>.jsonl (validated
    with the same bounds as the crawl).

    The latest copy of each video wins (files in `all_shard_files` order). A video that came from more than one source
    (two URLs of one video, two .info.json files with one id) is reported in `duplicates` with all its sources; rows
    that fail validation are counted in `invalid` (the first ones quoted in `invalid_examples`) and left out.
    Returns {"parquet", "records", "invalid", "invalid_examples", "duplicates"}.
    """
    out_dir = Path(out_dir)
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    sources_by_id: dict[str, list[str]] = {}
    not_objects = []
    numbered = ((path.name, n, row) for path in all_shard_files(out_dir, RECORDS_NAME)
                for n, row in enumerate(JsonlLedger(path), start=1))
    for file_name, line_number, row in numbered:
        if not isinstance(row, dict):
            not_objects.append(f"{file_name} row {line_number}: not a JSON object")
            continue
        row = dict(row)
        # rows written before sources were recorded fall back to the video's url
        source = str(row.pop("source", None) or row.get("url") or f"{file_name} row {line_number}")
        key = repr(row.get("video_id"))  # by repr, so a row without a usable id still reaches validation
        latest[key] = (source, row)
        seen = sources_by_id.setdefault(key, [])
        if source not in seen:
            seen.append(source)
    records, errors = validate_batch([row for _, row in latest.values()], sources=[s for s, _ in latest.values()])
    invalid = not_objects + [str(e) for e in errors]
    for message in invalid[:5]:
        log.warning("not in %s: %s", PARQUET_NAME, message)
    valid_keys = {repr(r.video_id) for r in records}
    duplicates = [{"video_id": row["video_id"], "sources": sources_by_id[key], "kept": source}
                  for key, (source, row) in latest.items() if len(sources_by_id[key]) > 1 and key in valid_keys]
    for dup in duplicates[:5]:
        log.warning("video %s came from %d sources %s; kept the latest, from %s", dup["video_id"],
                    len(dup["sources"]), dup["sources"], dup["kept"])
    records.sort(key=lambda r: r.video_id)
    path = write_parquet(out_dir / PARQUET_NAME, records_to_table(records))
    return {"parquet": str(path), "records": len(records), "invalid": len(invalid),
            "invalid_examples": invalid[:_EXAMPLES], "duplicates": duplicates}


def read_url_file(path: str | Path) -> list[str]:
    """One URL per line; blank lines and lines starting with '#' are ignored."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _run_crawl(args: argparse.Namespace) -> int:
    if args.finalize:
        final = finalize(args.out)
        print(json.dumps(final, indent=2, ensure_ascii=False))
        print(f"wrote {final['parquet']} ({final['records']} records)")
        return _exit_code(final)
    urls = list(args.urls) + (read_url_file(args.from_file) if args.from_file else [])
    if args.from_info_json:
        if urls:
            raise ValueError("give URLs (or --from-file) or --from-info-json DIR, not both")
        if args.workers != 1 or args.engine != "local":
            raise ValueError("--from-info-json reads local files in one process: drop --workers / --engine")
        summary = crawl_info_json(args.from_info_json, args.out, snapshot_date=args.snapshot_date)
    elif urls:
        try:
            summary = crawl(urls, args.out, max_comments=args.max_comments, snapshot_date=args.snapshot_date,
                            cookies=args.cookies, max_consecutive_blocks=args.max_consecutive_blocks,
                            workers=args.workers, engine=args.engine, ray_address=args.ray_address,
                            proxies=args.proxy, sleeps=args.sleep)
        except ShardFailed as exc:
            raise SystemExit(f"mimic data crawl: {exc}") from None
    else:
        raise SystemExit("mimic data crawl: give URLs, --from-file FILE or --from-info-json DIR (or --finalize)")
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return _exit_code(summary)


def _exit_code(summary: dict[str, Any]) -> int:
    """1 (with a summary line on stderr) when a source failed, the breaker stopped the run or rows were invalid."""
    problems = []
    if summary.get("failed"):
        failed = {s: n for s, n in summary["by_status"].items() if s not in _NOT_FAILURES}
        problems.append(f"{summary['failed']} of {summary['attempted']} attempted failed {failed} (see {LEDGER_NAME})")
    if summary.get("stopped_early"):
        problems.append("stopped early after consecutive bot checks / rate limits")
    if summary["invalid"]:
        problems.append(f"{summary['invalid']} rows of {RECORDS_NAME} are invalid and not in {PARQUET_NAME}")
    if problems:
        print(f"mimic data crawl: {'; '.join(problems)}; {summary['records']} records written", file=sys.stderr)
    return 1 if problems else 0


def register_crawl(data_subparsers) -> argparse.ArgumentParser:
    """Add `crawl` to the `mimic data` subparsers."""
    from mimic_data.cli import iso_date, non_negative_int, one_line_errors

    parser = data_subparsers.add_parser("crawl", help="fetch metadata + top comments with yt-dlp (resumable)",
                                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("urls", nargs="*", help="video URLs (YouTube or TikTok)")
    parser.add_argument("--from-file", help="file with one URL per line ('#' starts a comment line)")
    parser.add_argument("--from-info-json", metavar="DIR",
                        help="ingest the *.info.json files under DIR (yt-dlp --write-info-json) instead of fetching")
    parser.add_argument("--out", default="runs/crawl", help="output folder (ledger, records) [%(default)s]")
    parser.add_argument("--max-comments", type=non_negative_int, default=100,
                        help="top-level comments per video [%(default)s]")
    parser.add_argument("--cookies", help="Netscape cookies.txt, needed when YouTube asks to confirm you're not a bot")
    add_worker_arguments(parser, unit="URLs")
    parser.add_argument("--snapshot-date", type=iso_date, help="YYYY-MM-DD stored as snapshot_date [today, UTC]")
    parser.add_argument("--max-consecutive-blocks", type=non_negative_int, default=5,
                        help="stop after this many bot checks / rate limits in a row; 0 = never [%(default)s]")
    parser.add_argument("--finalize", action="store_true", help="only write records.parquet from records.jsonl")
    parser.set_defaults(handler=one_line_errors("mimic data crawl", _run_crawl))
    return parser
