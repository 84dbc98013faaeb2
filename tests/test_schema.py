import datetime as dt

import pytest

from mimic_data.schema import RecordError, records_to_table, table_to_records, validate_batch, validate_record


def good_row(video_id="abc", **overrides):
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
    ({"like_count": True}, "like_count"),
    ({"duration_s": 0}, "duration_s"),
    ({"width": "1280"}, "width"),
    ({"tags": "ball"}, "tags"),
    ({"upload_time": "yesterday"}, "upload_time"),
    ({"comments": [{"text": "x", "like_count": 1, "rank": 1, "author": "bob"}]}, "comments[0]"),
    ({"comments": [{"text": "x", "like_count": 1, "rank": 2}]}, "comments[0].rank"),
    ({"comments": [{"text": "a", "like_count": 1, "rank": 1}, {"text": "b", "like_count": 9, "rank": 2}]},
     "comments[1].like_count"),
])
def test_errors_name_record_and_field(overrides, field):
    with pytest.raises(RecordError) as err:
        validate_record(good_row("vid42", **overrides))
    assert err.value.video_id == "vid42" and err.value.field_name == field
    assert "vid42" in str(err.value) and field in str(err.value)


def test_missing_and_unknown_fields():
    row = good_row("m1")
    del row["title"]
    with pytest.raises(RecordError, match="'title'"):
        validate_record(row)
    with pytest.raises(RecordError, match="'author_id'"):
        validate_record(good_row("m2", author_id="x"))


def test_batch_keeps_good_records_and_reports_bad_ones():
    rows = [good_row("a"), good_row("b", platform="x"), good_row("c"), good_row("a"), {"video_id": ""}]
    good, errors = validate_batch(rows)
    assert [r.video_id for r in good] == ["a", "c"]
    assert [(e.video_id, e.field_name) for e in errors] == [("b", "platform"), ("a", "video_id"), ("", "video_id")]


def test_arrow_round_trip():
    records = [validate_record(good_row("a")), validate_record(good_row("b", comments=[]))]
    assert table_to_records(records_to_table(records)) == records
