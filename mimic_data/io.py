"""Atomic writes, append-and-resume logs (`JsonlLedger`) and the one shard function, shared by every stage."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_FILE_MODE = 0o644  # mkstemp creates 0600; released files must be readable by others


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success fsync it and rename it over `path`, on error remove it.

    Readers see the old file or the new one, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _FILE_MODE)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def write_parquet(path: str | os.PathLike, table: pa.Table) -> Path:
    """Deterministic parquet: no pandas metadata, fixed codec and row groups, so the same table gives the same bytes."""
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(None), tmp, compression="zstd", row_group_size=65536,
                       write_statistics=True, use_dictionary=True, store_schema=True)
    return Path(path)


def append_jsonl(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """Append one row and fsync, so a kill never loses a row that was reported written."""
    append_jsonl_rows(path, [row])


def append_jsonl_rows(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """Append rows with one write and one fsync (a batch's rows land together or, if killed, not at all)."""
    if not rows:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows))
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Read an append-only log; a torn last line (killed mid-write) is skipped, never fatal."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def latest_by_key(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str | None],
                  replaces: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None) -> dict[str, dict[str, Any]]:
    """key(row) -> its latest row, rows taken in order (rows whose key is None are skipped).

    A later row wins unless `replaces(current, later)` says otherwise (e.g. "a settled row is never replaced by an
    unsettled one", or "the newer time_utc wins" when rows come from several files).
    """
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        k = key(row)
        if k is None:
            continue
        current = latest.get(k)
        if current is None or replaces is None or replaces(current, row):
            latest[k] = row
    return latest


class JsonlLedger:
    """One append-only JSONL file of a resumable job (one writer per file): rows are appended, never rewritten.

    Before its first append the ledger repairs a torn last line (a kill mid-append): a tail that is whole JSON gets its
    newline (readers already counted it as a row), anything else is cut, so the next row starts on a fresh line.
    `extend` writes a batch with one write and one fsync. Reading (`iter`, `latest`) skips a torn last line.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._tail_checked = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path)

    def latest(self, key: Callable[[dict[str, Any]], str | None],
               replaces: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None) -> dict[str, dict[str, Any]]:
        return latest_by_key(self, key, replaces)

    def append(self, row: dict[str, Any]) -> None:
        self.extend([row])

    def extend(self, rows: list[dict[str, Any]]) -> None:
        if not self._tail_checked:
            _repair_torn_tail(self.path)
            self._tail_checked = True
        append_jsonl_rows(self.path, rows)


def _repair_torn_tail(path: Path, block: int = 1 << 16) -> None:
    try:
        f = open(path, "rb+")
    except FileNotFoundError:
        return
    with f:
        end = pos = f.seek(0, os.SEEK_END)
        line_start = 0
        while pos > 0:  # scan back block by block for the last newline (ledgers can be large)
            step = min(pos, block)
            pos -= step
            f.seek(pos)
            cut = f.read(step).rfind(b"\n")
            if cut >= 0:
                line_start = pos + cut + 1
                break
        if line_start == end:
            return
        f.seek(line_start)
        tail = f.read()
        try:
            whole = isinstance(json.loads(tail), dict)
        except ValueError:
            whole = False
        if whole:
            f.seek(end)
            f.write(b"\n")
        else:
            f.truncate(line_start)
        f.flush()
        os.fsync(f.fileno())


def shard_of(key: str, num_shards: int) -> int:
    """The shard (0 .. num_shards-1) of a key: `crc32(key) % num_shards`, for hydration shards and eval ranks alike.

    crc32, not sha256: it is the partition `mimic hydrate --shard i/N` has always documented, so hydration ledgers
    already on disk keep their assignment (eval ranks only split one run's work, so their assignment may change); Spark
    and Hive SQL have it built in (`crc32(video_id) % N`) for engines that shard outside Python; shards need balance,
    not secrecy. Like any integer hash mod N it refines: the keys with `crc32 % (N*W) == i + N*k` (k < W) are exactly
    shard i of N split W ways (hydration's --workers).
    """
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, not {num_shards}")
    return zlib.crc32(key.encode("utf-8")) % num_shards


def file_sha256(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
