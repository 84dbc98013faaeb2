"""The MIMIC-Data record: one typed record per video, validated, with its Arrow/parquet schema defined once.

Released comments are top-level comments only and carry no author names or ids (privacy): the schema has no field
for them, so they cannot leak through a release.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow as pa

PLATFORMS = ("youtube", "tiktok")

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


def _to_datetime(value: Any, video_id: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
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
        _check(isinstance(c.get("text"), str), video_id, f"{where}.text", "expected a string")
        likes = c.get("like_count")
        _check(isinstance(likes, int) and not isinstance(likes, bool) and likes >= 0, video_id, f"{where}.like_count",
               f"expected an int >= 0, got {likes!r}")
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
    video_id = row.get("video_id")
    if not isinstance(video_id, str) or not video_id:
        raise RecordError(str(video_id), "video_id", "expected a non-empty string")
    known = {f.name for f in fields(VideoRecord)}
    missing = known - set(row)
    _check(not missing, video_id, sorted(missing)[0] if missing else "", "missing")
    extra = set(row) - known
    _check(not extra, video_id, sorted(extra)[0] if extra else "", "unknown field")
    _check(row["platform"] in PLATFORMS, video_id, "platform", f"expected one of {PLATFORMS}, got {row['platform']!r}")
    for name in _TEXT_FIELDS:
        _check(isinstance(row[name], str), video_id, name, f"expected a string, got {type(row[name]).__name__}")
    for name in ("tags", "topics"):
        value = row[name]
        _check(isinstance(value, list) and all(isinstance(v, str) for v in value), video_id, name,
               "expected a list of strings")
    for name in _COUNT_FIELDS:
        value = row[name]
        _check(value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0), video_id,
               name, f"expected an int >= 0 or None, got {value!r}")
    duration = row["duration_s"]
    _check(isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0, video_id,
           "duration_s", f"expected a positive number, got {duration!r}")
    for name in ("width", "height"):
        value = row[name]
        _check(isinstance(value, int) and not isinstance(value, bool) and value > 0, video_id, name,
               f"expected a positive int, got {value!r}")
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


def validate_batch(rows: Iterable[Mapping[str, Any]]) -> tuple[list[VideoRecord], list[RecordError]]:
    """Validate many rows: keep the good ones, report every bad one (a duplicate id is an error too)."""
    good: list[VideoRecord] = []
    errors: list[RecordError] = []
    seen: set[str] = set()
    for row in rows:
        try:
            record = validate_record(row)
        except RecordError as exc:
            errors.append(exc)
            continue
        if record.video_id in seen:
            errors.append(RecordError(record.video_id, "video_id", "duplicate id in batch"))
            continue
        seen.add(record.video_id)
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
