import datetime as dt

import pytest

from mimic_data.schema import (
    RecordError,
    check_video_id,
    records_to_table,
    table_to_records,
    validate_batch,
    validate_record,
)

# YouTube ids are 11 characters of [A-Za-z0-9_-]; TikTok ids are decimal
A, B, C, VID42 = "aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc", "vid42_-XYZ0"


def good_row(video_id=A, **overrides):
    row = {
        "video_id": video_id, "platform": "youtube", "url": f"https://www.youtube.com/watch?v={video_id}",
        "channel_id": "UC1", "title": "A red ball 🔥", "description": "d", "tags": ["ball"], "topics": ["#ball"],
        "category": "Sports", "language": "en", "upload_time": "2026-01-02T03:04:05Z", "duration_s": 12.5,
        "width": 1280, "height": 720, "view_count": 10, "like_count": 2, "comment_count": 1, "share_count": None,
        "snapshot_date": "2026-11-01",
        "comments": [{"text": "wow", "like_count": 5, "rank": 1, "is_pinned": False},
                     {"text": "ok", "like_count": 1, "rank": 2, "is_pinned": True}],
    }
    row.update(overrides)
    return row


def test_valid_record_is_typed():
    record = validate_record(good_row())
    assert record.upload_time == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert record.snapshot_date == dt.date(2026, 11, 1)
    assert [c.rank for c in record.comments] == [1, 2] and record.comments[1].is_pinned


@pytest.mark.parametrize(("overrides", "field"), [
    ({"platform": "vimeo"}, "platform"),
    ({"view_count": -1}, "view_count"),
    ({"view_count": 2**63}, "view_count"),  # does not fit the int64 column
    ({"like_count": True}, "like_count"),
    ({"duration_s": 0}, "duration_s"),
    ({"duration_s": float("inf")}, "duration_s"),
    ({"duration_s": float("nan")}, "duration_s"),
    ({"width": "1280"}, "width"),
    ({"height": 2**31}, "height"),  # does not fit the int32 column
    ({"tags": "ball"}, "tags"),
    ({"tags": ["ok", 3]}, "tags[1]"),
    ({"title": "half an emoji \ud83d"}, "title"),  # a lone surrogate cannot be written as UTF-8
    ({"upload_time": "yesterday"}, "upload_time"),
    ({"upload_time": 10**30}, "upload_time"),
    ({"comments": [{"text": "x", "like_count": 1, "rank": 1, "author": "bob"}]}, "comments[0]"),
    ({"comments": [{"text": "x", "like_count": 1, "rank": 2}]}, "comments[0].rank"),
    ({"comments": [{"text": "x", "like_count": 2**64, "rank": 1}]}, "comments[0].like_count"),
    ({"comments": [{"text": "a", "like_count": 1, "rank": 1}, {"text": "b", "like_count": 9, "rank": 2}]},
     "comments[1].like_count"),
])
def test_errors_name_record_and_field(overrides, field):
    with pytest.raises(RecordError) as err:
        validate_record(good_row(VID42, **overrides))
    assert err.value.video_id == VID42 and err.value.field_name == field
    assert VID42 in str(err.value) and field in str(err.value)


@pytest.mark.parametrize(("video_id", "platform"), [
    ("../../etc/passwd", "youtube"), ("..", "youtube"), ("aaaa/bbbbbb", "youtube"), ("aaaa\\bbbbbb", "youtube"),
    ("aaaaa.bbbbb", "youtube"), ("a" * 12, "youtube"), ("", "youtube"), ("7" * 33, "tiktok"), ("12a", "tiktok"),
    ("1/2", "tiktok"), (11, "youtube"), ("aaaaaaaaaa\n", "youtube"),
])
def test_unsafe_ids_are_refused(video_id, platform):
    with pytest.raises(RecordError) as err:
        check_video_id(video_id, platform)
    assert err.value.field_name == "video_id"
    with pytest.raises(RecordError):
        validate_record(good_row(video_id, platform=platform))


def test_safe_ids_of_each_platform():
    assert check_video_id("dQw4w9WgXcQ", "youtube") == "dQw4w9WgXcQ"
    assert check_video_id("-_aZ09-_aZ0", "youtube") == "-_aZ09-_aZ0"
    assert check_video_id("7301234567890123456", "tiktok") == "7301234567890123456"
    with pytest.raises(RecordError, match="platform"):
        check_video_id("dQw4w9WgXcQ", "../youtube")


def test_missing_and_unknown_fields():
    row = good_row("m1m1m1m1m1m")
    del row["title"]
    with pytest.raises(RecordError, match="'title'"):
        validate_record(row)
    with pytest.raises(RecordError, match="'author_id'"):
        validate_record(good_row("m2m2m2m2m2m", author_id="x"))
    with pytest.raises(RecordError, match="expected a mapping"):
        validate_record(["not", "a", "row"])


def test_batch_keeps_good_records_and_reports_bad_ones_and_both_sources_of_a_duplicate():
    rows = [good_row(A), good_row(B, platform="x"), good_row(C), good_row(A), {"video_id": ""}]
    good, errors = validate_batch(rows)
    assert [r.video_id for r in good] == [A, C]
    assert [(e.video_id, e.field_name) for e in errors] == [(B, "platform"), (A, "video_id"), ("", "video_id")]
    assert "kept row 0, dropped row 3" in str(errors[1])
    _, errors = validate_batch([good_row(A), good_row(A)], sources=["https://youtu.be/x", "b.info.json"])
    assert "kept https://youtu.be/x, dropped b.info.json" in str(errors[0])


def test_arrow_round_trip():
    records = [validate_record(good_row(A)), validate_record(good_row(B, comments=[], view_count=2**63 - 1))]
    assert table_to_records(records_to_table(records)) == records
