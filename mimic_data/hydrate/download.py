"""User-side hydration: download the videos of a MIMIC-Bench / MIMIC-Data folder (or a URL list) with yt-dlp.

One `YoutubeDL.extract_info(url, download=True)` per video (yt-dlp as a library), format capped at `max_height`
(mp4 preferred), cookies / proxy / sleep passed through. Every manifest row is checked before anything is fetched (a
url and a safe id of its platform, `mimic_data.schema.check_video_id`; a hostile manifest is refused whole), and every
path is built by `video_path`, which resolves it and refuses one outside the root (a planted symlink included).
A download lands as `.<id>.dl.<ext>` next to its final path,
is probed (`mimic_data.hydrate.preflight.probe_video`: a file that does not decode is `corrupt`, never `ok`), hashed,
and only then renamed to `videos/<platform>/<id[:2]>/<id>.mp4` (`mimic_data.render.video_relpath`).

Ledger: `ROOT/hydration/ledger-<i>-of-<N>.jsonl`, a `mimic_data.io.JsonlLedger` (append-only, fsync, a torn last line
repaired before appending), one row per attempt: video_id, platform, url, status (mimic_data.hydrate.ytdlp_errors: ok,
unavailable, private, removed, geo, age, bot_check, rate_limited, http_error, network, corrupt, other), transient,
error_class, message, attempt, time_utc, yt_dlp_version, relpath, bytes, sha256, duration_s, width, height, fps,
vcodec, format_id, elapsed_s. The ok row is written after the rename, so a kill at any point leaves either no ok row
(the video is redone on resume) or an ok row for a complete, verified file.

Resume: a video whose latest row is ok (and whose file is there with the recorded size and sha256: a file changed
since its download is "damaged" and fetched again) or a permanent failure is skipped; never-tried videos and transient failures are tried. `retry_failed=True` tries only videos whose latest row
is a failure (permanent ones included). A transient failure is retried up to `retries` times with exponential
backoff; bot checks and 429s are not retried in place but count towards the circuit breaker, which stops the run
after `max_consecutive_blocks` videos in a row end blocked.

Scale-out: `mimic_data.io.shard_of(id, N) = crc32(id) % N`; `hydrate_partition(rows, root, shard, options)` is a
pure per-partition function (its inputs are the rows and the folder; it writes only its own ledger and its videos), so
any engine can drive it: `hydrate(..., workers=W, engine=...)` runs W sub-shards through `mimic_data.engines`
("local": a process each; "ray": a Ray task each, re-run by Ray if its worker dies, resuming from its ledger), each
worker with its own proxy / sleep when lists are given (sites limit requests per IP). Spark would call it as
`rdd.keyBy(lambda r: shard_of(r["video_id"], N)).groupByKey(N).foreachPartition(...)` on a shared filesystem.
The summary is read back from the ledgers, and `report` merges them all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..engines import LedgerTail, run_shards, worker_settings
from ..io import JsonlLedger, file_sha256, latest_by_key, shard_of
from ..render import video_relpath
from ..schema import RecordError, check_video_id
from .preflight import BLOCKING, probe_video
from .ytdlp_errors import BLOCK_STATUSES, YtDlpLogger, classify_ytdlp_error, ended_blocked, is_settled, root_cause

LEDGER_DIR = "hydration"
_MAX_MESSAGE_CHARS = 2000
_YOUTUBE_ID = re.compile(r"(?:v=|youtu\.be/|/shorts/|/embed/)([\w-]{11})")
_TIKTOK_ID = re.compile(r"tiktok\.com/.*/video/(\d+)")

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class HydrateOptions:
    max_height: int = 480
    cookies: str | None = None
    proxy: str | None = None
    sleep: float = 5.0  # seconds between videos (yt-dlp's wiki: 5-10 s for YouTube)
    url_map: tuple[tuple[str, str], ...] = ()  # (source prefix, replacement): mirrors, the demo's loopback server
    retries: int = 2  # in-place retries of a transient failure (not bot checks / 429s)
    backoff: float = 2.0  # seconds before the first retry, doubled each time
    max_consecutive_blocks: int = 5  # circuit breaker; 0 = never stop
    socket_timeout: float = 30.0
    retry_failed: bool = False


def ledger_path(root: str | os.PathLike, shard: tuple[int, int]) -> Path:
    return Path(root) / LEDGER_DIR / f"ledger-{shard[0]:03d}-of-{shard[1]:03d}.jsonl"


def read_ledgers(root: str | os.PathLike) -> list[dict[str, Any]]:
    """Every attempt row of every shard ledger under root (each ledger in its own time order)."""
    rows = []
    for path in sorted((Path(root) / LEDGER_DIR).glob("ledger-*.jsonl")):
        rows.extend(JsonlLedger(path))
    return rows


def latest_rows(root: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The latest attempt per video across ledgers (by time_utc, then attempt number)."""
    return latest_by_key(read_ledgers(root), key=lambda row: row["video_id"], replaces=_not_older)


def _not_older(current: dict[str, Any], row: dict[str, Any]) -> bool:
    return (row["time_utc"], row["attempt"]) >= (current["time_utc"], current["attempt"])


def video_path(root: str | os.PathLike, platform: Any, video_id: Any) -> Path:
    """The video's file under root, built only from a safe id (`mimic_data.schema.check_video_id`) and checked to
    resolve inside root (so neither an id nor a symlinked folder can lead a write or a read outside it)."""
    try:
        check_video_id(video_id, platform)
    except RecordError as exc:
        raise ValueError(f"refusing to build a path: {exc}") from None
    root = Path(root).resolve()
    path = (root / video_relpath(platform, video_id)).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"refusing {platform}/{video_id}: its path {path} resolves outside {root}")
    return path


def file_state(root: Path, row: dict[str, Any]) -> str:
    """For an ok row: "ok" when its file is there with the recorded size and sha256, else "missing_file" or "damaged"
    (a file changed after its download is never trusted: resume re-fetches it)."""
    try:
        path = video_path(root, row.get("platform"), row.get("video_id"))
    except ValueError:
        return "damaged"  # a ledger row naming an unsafe id was not written by this code
    if row.get("relpath") != video_relpath(row["platform"], row["video_id"]) or not path.is_file():
        return "missing_file"
    if path.stat().st_size != row.get("bytes") or file_sha256(path) != row.get("sha256"):
        return "damaged"
    return "ok"


def is_available(root: Path, row: dict[str, Any] | None) -> bool:
    """An ok row whose file is on disk, intact (size and sha256 as recorded at download)."""
    return row is not None and row.get("status") == "ok" and file_state(root, row) == "ok"


def map_url(url: str, url_map: Iterable[tuple[str, str]]) -> str:
    for source, target in url_map:
        if url.startswith(source):
            return target + url[len(source):]
    return url


def parse_url_map(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in items:
        if "=" not in item:
            raise ValueError(f"--url-map {item!r}: expected SRC=DST (a URL prefix and its replacement)")
        source, target = item.split("=", 1)
        pairs.append((source, target))
    return tuple(pairs)


def rows_from_urls(urls: Iterable[str]) -> list[dict[str, str]]:
    """Manifest rows for bare YouTube / TikTok URLs (the id decides the file name before anything is downloaded)."""
    rows = []
    for url in urls:
        if match := _YOUTUBE_ID.search(url):
            rows.append({"video_id": match.group(1), "platform": "youtube", "url": url})
        elif match := _TIKTOK_ID.search(url):
            rows.append({"video_id": match.group(1), "platform": "tiktok", "url": url})
        else:
            raise ValueError(f"{url!r}: not a YouTube or TikTok video URL; use a manifest with video_id, platform, url")
    return rows


def load_manifest(source: str | os.PathLike) -> list[dict[str, str]]:
    """Rows (video_id, platform, url) from a folder's videos.parquet, a parquet file, or a text file of URLs."""
    import pyarrow.parquet as pq

    source = Path(source)
    if source.is_dir():
        source = source / "videos.parquet"
        if not source.exists():
            raise FileNotFoundError(f"{source.parent}: no videos.parquet (the hydration manifest)")
    if source.suffix == ".parquet":
        table = pq.read_table(source, columns=["video_id", "platform", "url"])
        rows = table.to_pylist()
    else:
        lines = source.read_text(encoding="utf-8").splitlines()
        rows = rows_from_urls(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return list({row["video_id"]: row for row in checked_rows(rows, source)}.values())


def checked_rows(rows: Iterable[Any], source: Any) -> list[dict[str, str]]:
    """The manifest rows, each with a url and a safe id of its platform; else a ValueError naming the row.

    Runs before any download: a hostile manifest is refused whole, nothing of it is fetched or written.
    """
    checked = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not all(isinstance(row.get(key), str) and row[key]
                                                 for key in ("video_id", "platform", "url")):
            raise ValueError(f"{source}: row {i} lacks video_id, platform or url: {row!r:.200}")
        try:
            check_video_id(row["video_id"], row["platform"])
        except RecordError as exc:
            raise ValueError(f"{source}: row {i}: {exc}") from None
        checked.append(row)
    return checked


def ydl_options(tmp_template: str, options: HydrateOptions) -> dict[str, Any]:
    h = options.max_height
    opts: dict[str, Any] = {
        "format": f"b[height<=?{h}][ext=mp4]/bv*[height<=?{h}][ext=mp4]+ba[ext=m4a]/b[height<=?{h}]/bv*[height<=?{h}]+ba",
        "merge_output_format": "mp4",
        "postprocessors": [{"key": "FFmpegVideoRemuxer", "preferedformat": "mp4"}],
        "outtmpl": {"default": tmp_template},
        "retries": 0, "fragment_retries": 0, "extractor_retries": 0,  # retries are ours, so each one is a ledger row
        "continuedl": False, "overwrites": True, "noplaylist": True,
        "socket_timeout": options.socket_timeout,
        "quiet": True, "no_warnings": True, "noprogress": True, "logger": YtDlpLogger(),
    }
    if options.cookies:
        opts["cookiefile"] = str(options.cookies)
    if options.proxy:
        opts["proxy"] = options.proxy
    return opts


def _default_ydl_factory(opts: dict[str, Any]):
    from yt_dlp import YoutubeDL

    return YoutubeDL(opts)


def _ytdlp_version() -> str:
    from yt_dlp.version import __version__

    return __version__


def _remove_temps(folder: Path, video_id: str) -> None:
    for stale in folder.glob(f".{video_id}.dl.*"):
        stale.unlink(missing_ok=True)


def _download(ydl, root: Path, row: dict[str, str], options: HydrateOptions) -> dict[str, Any]:
    """One attempt: download to a temp name, probe, hash, rename. Returns the ledger row without bookkeeping."""
    result: dict[str, Any] = {"video_id": row["video_id"], "platform": row["platform"], "url": row["url"],
                              "relpath": video_relpath(row["platform"], row["video_id"]), "status": "ok",
                              "transient": False, "error_class": None, "message": "", "bytes": None, "sha256": None,
                              "duration_s": None, "width": None, "height": None, "fps": None, "vcodec": None,
                              "format_id": None}
    try:
        final = video_path(root, row["platform"], row["video_id"])
    except ValueError as exc:  # e.g. a folder of the layout is a symlink that leads outside root: nothing is fetched
        return result | {"status": "other", "error_class": "UnsafePath", "message": str(exc)}
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_temps(final.parent, row["video_id"])  # leftovers of a killed attempt
    # one YoutubeDL serves the partition (building one loads every extractor); yt-dlp reads outtmpl on each download
    ydl.params["outtmpl"]["default"] = str(final.parent / f".{row['video_id']}.dl.%(ext)s")
    try:
        info = ydl.extract_info(map_url(row["url"], options.url_map), download=True)
        result["format_id"] = (info or {}).get("format_id")
        downloaded = sorted((p for p in final.parent.glob(f".{row['video_id']}.dl.*") if not p.name.endswith(".part")),
                            key=lambda p: p.suffix != ".mp4")  # the remuxed mp4 first, if yt-dlp left another file
        if not downloaded:
            raise FileNotFoundError(f"yt-dlp reported success but wrote no file for {row['video_id']}")
        temp = downloaded[0]
        probe = probe_video(temp)
        result.update({k: probe[k] for k in ("duration_s", "width", "height", "fps", "vcodec")},
                      bytes=temp.stat().st_size, sha256=file_sha256(temp))
        if BLOCKING & set(probe["problems"]):
            result.update(status="corrupt", transient=True, error_class="ProbeError",
                          message=f"downloaded file does not decode: {', '.join(probe['problems'])} {probe['message']}")
            temp.unlink(missing_ok=True)
            return result
        os.replace(temp, final)
    except Exception as exc:  # every failure is classified into the ledger; none stops the run
        status, transient = classify_ytdlp_error(exc)
        result.update(status=status, transient=transient, error_class=type(root_cause(exc)).__name__,
                      message=str(exc)[:_MAX_MESSAGE_CHARS])
        _remove_temps(final.parent, row["video_id"])
    return result


def _wanted(rows: list[dict[str, str]], root: Path, latest: dict[str, dict[str, Any]], retry_failed: bool) -> list:
    todo = []
    for row in rows:
        last = latest.get(row["video_id"])
        if retry_failed:
            if last is not None and last["status"] != "ok":
                todo.append(row)
        elif not (is_available(root, last) or (is_settled(last) and last["status"] != "ok")):
            todo.append(row)
    return todo


def hydrate_partition(rows: list[dict[str, str]], root: str | os.PathLike, shard: tuple[int, int] = (0, 1),
                      options: HydrateOptions | None = None,
                      ydl_factory: Callable[[dict[str, Any]], Any] | None = None,
                      progress: bool = True) -> list[dict[str, Any]]:
    """Hydrate these rows (all of one shard) into root, appending to the shard's ledger; returns this run's rows."""
    from tqdm.auto import tqdm

    options = options or HydrateOptions()
    rows = checked_rows(rows, "manifest")
    root = Path(root)
    ledger = JsonlLedger(ledger_path(root, shard))
    latest = latest_rows(root)
    attempts = Counter(row["video_id"] for row in read_ledgers(root))
    todo = _wanted(rows, root, latest, options.retry_failed)
    version, factory = _ytdlp_version(), ydl_factory or _default_ydl_factory
    written: list[dict[str, Any]] = []
    consecutive_blocks = 0
    if not todo:
        return written
    bar = tqdm(todo, desc=f"hydrate {shard[0]}/{shard[1]}", unit="video", disable=None if progress else True)
    finals: Counter[str] = Counter()
    with factory(ydl_options(str(root / "%(id)s.%(ext)s"), options)) as ydl:
        for i, row in enumerate(bar):
            if i and options.sleep > 0:
                time.sleep(options.sleep)
            result = _hydrate_one(ydl, root, row, options, attempts, ledger, written, version, shard)
            finals["ok" if result["status"] == "ok" else "failed"] += 1
            bar.set_postfix(finals, refresh=False)
            consecutive_blocks = consecutive_blocks + 1 if result["status"] in BLOCK_STATUSES else 0
            if options.max_consecutive_blocks and consecutive_blocks >= options.max_consecutive_blocks:
                log.warning("stopping shard %s: %d videos in a row ended in bot checks / rate limits (last %s); "
                            "pass --cookies, raise --sleep or use --proxy, then resume", shard, consecutive_blocks,
                            row["video_id"])
                break
    bar.close()
    return written


def _hydrate_one(ydl, root: Path, row: dict[str, str], options: HydrateOptions, attempts: Counter, ledger: JsonlLedger,
                 written: list, version: str, shard: tuple[int, int]) -> dict[str, Any]:
    """Attempt one video, retrying a transient failure (not a block) with exponential backoff; returns the last row."""
    for retry in range(options.retries + 1):
        started = time.monotonic()
        result = _download(ydl, root, row, options)
        attempts[row["video_id"]] += 1
        result.update(attempt=attempts[row["video_id"]], yt_dlp_version=version, shard=f"{shard[0]}/{shard[1]}",
                      elapsed_s=round(time.monotonic() - started, 3),
                      time_utc=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))
        ledger.append(result)
        written.append(result)
        if not result["transient"] or result["status"] in BLOCK_STATUSES or retry == options.retries:
            break
        time.sleep(options.backoff * 2**retry)
    return result


def hydrate(source: str | os.PathLike | list[dict[str, str]], root: str | os.PathLike, *,
            options: HydrateOptions | None = None, shard: tuple[int, int] | None = None, workers: int = 1,
            engine: str = "local", ray_address: str | None = None, proxies: list[str] | None = None,
            sleeps: list[float] | None = None,
            ydl_factory: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """Hydrate a manifest (folder, parquet, URL list or rows) into root; returns a summary of this run.

    shard=(i, N) hydrates only ids with crc32(id) % N == i (one machine of N); workers=W splits the (shard's) ids
    into W sub-shards, each with its own ledger, run by `engine` ("local" or "ray", see mimic_data.engines).
    proxies / sleeps: one for every worker or one per worker (they replace options.proxy / options.sleep).
    A custom ydl_factory must be picklable (a module-level callable) to reach other processes.
    """
    options = options or HydrateOptions()
    rows = checked_rows(source, "manifest") if isinstance(source, list) else load_manifest(source)
    if shard is not None:
        rows = [row for row in rows if shard_of(row["video_id"], shard[1]) == shard[0]]
    if workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers}")
    root = Path(root).absolute()  # workers elsewhere (Ray) do not share this process's working directory
    base, n = shard or (0, 1)
    # sub-shard k of W takes ids with crc32 % (n * W) == base + n * k: a refinement of the outer shard
    parts = [(base + n * k, n * workers) for k in range(workers)]
    in_process = workers == 1 and engine == "local"  # then the partition shows its own progress bar
    jobs = [([r for r in rows if shard_of(r["video_id"], part[1]) == part[0]], root, part, part_options, ydl_factory,
             in_process)
            for part, part_options in zip(parts, worker_settings(options, workers, proxy=proxies, sleep=sleeps),
                                          strict=True)]
    started = time.monotonic()
    tail = LedgerTail([ledger_path(root, part) for part in parts], key="video_id", bar=not in_process,
                      desc=f"hydrate ({workers} {engine} workers)")
    try:
        run_shards(hydrate_partition, jobs, [f"hydrate {i}/{total}" for i, total in parts], engine=engine,
                   ray_address=ray_address, on_wait=tail.poll)
    finally:
        tail.close()
    written = tail.rows  # every row this run appended, also those of a Ray task that died and was run again
    pending = _wanted(rows, root, latest_rows(root), retry_failed=False)
    final_status = {row["video_id"]: row["status"] for row in written}  # each video's last row of this run
    return {"videos": len(rows), "attempts": len(written),
            "by_status": dict(sorted(Counter(r["status"] for r in written).items())),
            "failed": sum(status != "ok" for status in final_status.values()),
            "pending": len(pending),
            "stopped_early": any(ended_blocked(shard_rows, "video_id", options.max_consecutive_blocks)
                                 for shard_rows in tail.rows_by_path.values()),
            "elapsed_s": round(time.monotonic() - started, 3)}
