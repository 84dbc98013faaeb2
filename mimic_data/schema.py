"""The MIMIC-Data record: one typed record per video, validated, with its Arrow/parquet schema defined once.

Released comments are top-level comments only and carry no author names or ids (privacy): the schema has no field
for them, so they cannot leak through a release.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow as pa

# Ids become file names (videos/<platform>/<id[:2]>/<id>.mp4), so each platform's pattern admits no path separator,
# no dot segment and a bounded length: YouTube ids are 11 characters of the URL-safe base64 alphabet, TikTok ids are
# decimal item ids (19 digits today).
VIDEO_ID_PATTERNS = {
    "youtube": re.compile(r"[A-Za-z0-9_-]{11}"),
    "tiktok": re.compile(r"[0-9]{1,32}"),
}
PLATFORMS = tuple(VIDEO_ID_PATTERNS)
MAX_INT64 = 2**63 - 1  # counts are int64 columns
MAX_INT32 = 2**31 - 1  # width, height and rank are int32 columns

COMMENT_TYPE = pa.struct(
    [
        ("text", pa.string()),
        ("like_count", pa.int64()),
        ("rank", pa.int32()),  # 1 = most liked in the snapshot
        ("is_pinned", pa.bool_()),
    ]
)

RECORD_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("platform", pa.string()),
        ("url", pa.string()),
        ("channel_id", pa.string()),
        ("title", pa.string()),
        ("description", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("topics", pa.list_(pa.string())),
        ("category", pa.string()),
        ("language", pa.string()),
        ("upload_time", pa.timestamp("s", tz="UTC")),
        ("duration_s", pa.float64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("view_count", pa.int64()),
        ("like_count", pa.int64()),
        ("comment_count", pa.int64()),
        ("share_count", pa.int64()),
        ("snapshot_date", pa.date32()),
        ("comments", pa.list_(COMMENT_TYPE)),
    ]
)


class RecordError(ValueError):
    """A record failed validation; names the record and the field."""

    def __init__(self, video_id: str, field_name: str, message: str):
        self.video_id, self.field_name, self.message = video_id, field_name, message
        super().__init__(f"record {video_id!r}: field {field_name!r}: {message}")


def check_video_id(video_id: Any, platform: Any) -> str:
    """The id when it matches its platform's pattern (`VIDEO_ID_PATTERNS`), else a RecordError naming it.

    Every path built from an id goes through here first: records are validated with it, and hydration checks every
    manifest row with it before any download.
    """
    if platform not in VIDEO_ID_PATTERNS:
        raise RecordError(str(video_id), "platform", f"expected one of {PLATFORMS}, got {platform!r}")
    if not isinstance(video_id, str) or not VIDEO_ID_PATTERNS[platform].fullmatch(video_id):
        raise RecordError(str(video_id), "video_id", f"not a safe {platform} id (expected "
                          f"{VIDEO_ID_PATTERNS[platform].pattern}), got {video_id!r}")
    return video_id


@dataclass(slots=True)
class Comment:
    text: str
    like_count: int
    rank: int
    is_pinned: bool = False


@dataclass(slots=True)
class VideoRecord:
    video_id: str
    platform: str
    url: str
    channel_id: str
    title: str
    description: str
    tags: list[str]
    topics: list[str]
    category: str
    language: str
    upload_time: dt.datetime
    duration_s: float
    width: int
    height: int
    view_count: int | None
    like_count: int | None
    comment_count: int | None
    share_count: int | None
    snapshot_date: dt.date
    comments: list[Comment] = field(default_factory=list)

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


_COUNT_FIELDS = ("view_count", "like_count", "comment_count", "share_count")
_TEXT_FIELDS = ("url", "channel_id", "title", "description", "category", "language")


def _check(ok: bool, video_id: str, field_name: str, message: str) -> None:
    if not ok:
        raise RecordError(video_id, field_name, message)


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_text(value: Any, video_id: str, field_name: str) -> None:
    """A str that parquet can store: UTF-8 encodable (a lone surrogate is not)."""
    _check(isinstance(value, str), video_id, field_name, f"expected a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RecordError(video_id, field_name, f"not valid UTF-8 text ({exc.reason} at position {exc.start})") from exc


def _to_datetime(value: Any, video_id: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise RecordError(video_id, "upload_time", f"timestamp {value!r} is out of range ({exc})") from exc
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise RecordError(video_id, "upload_time", f"not an ISO time: {value!r}") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise RecordError(video_id, "upload_time", f"expected a datetime, got {type(value).__name__}")


def _to_date(value: Any, video_id: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise RecordError(video_id, "snapshot_date", f"not an ISO date: {value!r}") from exc
    raise RecordError(video_id, "snapshot_date", f"expected a date, got {type(value).__name__}")


def _validate_comments(raw: Any, video_id: str) -> list[Comment]:
    _check(isinstance(raw, list), video_id, "comments", "expected a list")
    out = []
    for i, c in enumerate(raw):
        where = f"comments[{i}]"
        if isinstance(c, Comment):
            c = asdict(c)
        _check(isinstance(c, Mapping), video_id, where, "expected a mapping")
        extra = set(c) - {"text", "like_count", "rank", "is_pinned"}
        _check(not extra, video_id, where, f"unexpected keys {sorted(extra)} (no author data is kept)")
        _check_text(c.get("text"), video_id, f"{where}.text")
        likes = c.get("like_count")
        _check(_is_int(likes, 0, MAX_INT64), video_id, f"{where}.like_count",
               f"expected an int in [0, 2**63), got {likes!r}")
        rank = c.get("rank")
        _check(isinstance(rank, int) and rank == i + 1, video_id, f"{where}.rank",
               f"expected rank {i + 1} (comments sorted by likes), got {rank!r}")
        out.append(Comment(c["text"], likes, rank, bool(c.get("is_pinned", False))))
    for i in range(1, len(out)):
        _check(out[i - 1].like_count >= out[i].like_count, video_id, f"comments[{i}].like_count",
               "comments must be sorted by like count, descending")
    return out


def validate_record(row: Mapping[str, Any] | VideoRecord) -> VideoRecord:
    """Return a typed record or raise RecordError naming the record and the field."""
    if isinstance(row, VideoRecord):
        row = row.to_row()
    if not isinstance(row, Mapping):
        raise RecordError("<unknown>", "record", f"expected a mapping, got {type(row).__name__}")
    video_id = row.get("video_id")
    if not isinstance(video_id, str) or not video_id:
        raise RecordError(str(video_id), "video_id", "expected a non-empty string")
    check_video_id(video_id, row.get("platform"))
    known = {f.name for f in fields(VideoRecord)}
    missing = known - set(row)
    _check(not missing, video_id, sorted(missing)[0] if missing else "", "missing")
    extra = set(row) - known
    _check(not extra, video_id, sorted(extra)[0] if extra else "", "unknown field")
    for name in _TEXT_FIELDS:
        _check_text(row[name], video_id, name)
    for name in ("tags", "topics"):
        value = row[name]
        _check(isinstance(value, list), video_id, name, f"expected a list of strings, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check_text(item, video_id, f"{name}[{i}]")
    for name in _COUNT_FIELDS:
        value = row[name]
        _check(value is None or _is_int(value, 0, MAX_INT64), video_id, name,
               f"expected an int in [0, 2**63) or None, got {value!r}")
    duration = row["duration_s"]
    _check(isinstance(duration, int | float) and not isinstance(duration, bool) and math.isfinite(duration)
           and duration > 0, video_id, "duration_s", f"expected a finite positive number, got {duration!r}")
    for name in ("width", "height"):
        value = row[name]
        _check(_is_int(value, 1, MAX_INT32), video_id, name, f"expected an int in [1, 2**31), got {value!r}")
    return VideoRecord(
        video_id=video_id,
        platform=row["platform"],
        url=row["url"],
        channel_id=row["channel_id"],
        title=row["title"],
        description=row["description"],
        tags=list(row["tags"]),
        topics=list(row["topics"]),
        category=row["category"],
        language=row["language"],
        upload_time=_to_datetime(row["upload_time"], video_id),
        duration_s=float(duration),
        width=row["width"],
        height=row["height"],
        view_count=row["view_count"],
        like_count=row["like_count"],
        comment_count=row["comment_count"],
        share_count=row["share_count"],
        snapshot_date=_to_date(row["snapshot_date"], video_id),
        comments=_validate_comments(row["comments"], video_id),
    )


def validate_batch(rows: Iterable[Mapping[str, Any]],
                   sources: Sequence[str] | None = None) -> tuple[list[VideoRecord], list[RecordError]]:
    """Validate many rows: keep the good ones, report every bad one.

    A duplicate id is an error too: the first copy is kept and the error names both sources (`sources[i]` of row i,
    by default "row i").
    """
    good: list[VideoRecord] = []
    errors: list[RecordError] = []
    first_source: dict[str, str] = {}
    for i, row in enumerate(rows):
        source = sources[i] if sources is not None else f"row {i}"
        try:
            record = validate_record(row)
        except RecordError as exc:
            errors.append(exc)
            continue
        if record.video_id in first_source:
            errors.append(RecordError(record.video_id, "video_id",
                                      f"duplicate id: kept {first_source[record.video_id]}, dropped {source}"))
            continue
        first_source[record.video_id] = source
        good.append(record)
    return good, errors


def records_to_table(records: Iterable[VideoRecord]) -> pa.Table:
    return pa.Table.from_pylist([r.to_row() for r in records], schema=RECORD_SCHEMA)


def table_to_records(table: pa.Table) -> list[VideoRecord]:
    """Read back without re-validating (tables written by this package are valid by construction)."""
    out = []
    for row in table.cast(RECORD_SCHEMA).to_pylist():
        row["comments"] = [Comment(**c) for c in row["comments"]]
        out.append(VideoRecord(**row))
    return out
