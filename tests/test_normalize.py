"""yt-dlp info dict -> VideoRecord, on fixtures written by the project (tests/fixtures/info_dicts)."""

import datetime as dt
import json
from pathlib import Path

import pytest

from mimic_data.normalize import extract_hashtags, normalize_info
from mimic_data.schema import RecordError, records_to_table, table_to_records

FIXTURES = Path(__file__).parent / "fixtures" / "info_dicts"
SNAPSHOT = dt.date(2025, 3, 1)


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def test_youtube_record_fields():
    record = normalize_info(load("youtube_full"), snapshot_date=SNAPSHOT)
    assert (record.video_id, record.platform) == ("Yt0Fixture1", "youtube")
    assert record.url == "https://www.youtube.com/watch?v=Yt0Fixture1"
    assert record.channel_id == "UCfixturechannel000000001"
    assert record.tags == ["timelapse", "sunset", "harbour", "4k"]
    # Title first, then description; "#Sunset"/"#sunset" counted once; URL fragment, HTML entity and "##" are not tags.
    assert record.topics == ["timelapse", "Sunset", "harbour", "NoFilter"]
    assert (record.category, record.language) == ("Travel & Events", "en")
    assert record.upload_time == dt.datetime(2024, 1, 2, 12, 53, 20, tzinfo=dt.UTC)  # from timestamp 1704200000
    assert (record.duration_s, record.width, record.height) == (95.0, 1920, 1080)
    assert (record.view_count, record.like_count, record.comment_count, record.share_count) == (154321, 8021, 412, None)
    assert record.snapshot_date == SNAPSHOT


def test_youtube_comments_top_level_sorted_ranked_without_authors():
    comments = normalize_info(load("youtube_full"), snapshot_date=SNAPSHOT).comments
    # The 5000-like reply is dropped (parent != root), the blank comment too; ties keep yt-dlp's order.
    assert [(c.text, c.like_count, c.rank, c.is_pinned) for c in comments] == [
        ("The colours at 0:42 are unreal 😍", 1200, 1, False),
        ("日本から見ています 🌅🌅", 1200, 2, False),
        ("Which camera did you use?", 87, 3, False),
        ("Pinned: thanks for watching!", 3, 4, True),
        ("first", 0, 5, False),  # no like count shown = 0 likes
    ]
    row = records_to_table([normalize_info(load("youtube_full"), snapshot_date=SNAPSHOT)]).to_pylist()[0]
    assert set(row["comments"][0]) == {"text", "like_count", "rank", "is_pinned"}


def test_tiktok_record_hashtags_emoji_and_no_comments():
    record = normalize_info(load("tiktok_emoji"), snapshot_date=SNAPSHOT)
    assert (record.video_id, record.platform) == ("7301234567890123456", "tiktok")
    assert record.topics == ["fyp", "日本", "DanceChallenge", "café", "dance_2024"]
    assert (record.tags, record.category, record.language) == ([], "", "")
    assert record.title.startswith("When the beat drops 🔥🔥")
    assert (record.width, record.height) == (1080, 1920)  # largest video format; the audio-only one is ignored
    assert record.share_count == 12000  # yt-dlp's repost_count
    assert record.comments == []  # yt-dlp has no TikTok comment extraction: nothing is invented
    assert record.upload_time == dt.datetime.fromtimestamp(1699999999, dt.UTC)


def test_missing_fields_become_empty_or_none():
    record = normalize_info(load("youtube_missing_fields"), snapshot_date=SNAPSHOT)
    assert (record.description, record.tags, record.topics, record.category, record.language) == ("", [], [], "", "")
    assert (record.view_count, record.like_count, record.comment_count, record.share_count) == (None,) * 4
    assert record.upload_time == dt.datetime(2023, 11, 30, tzinfo=dt.UTC)  # upload_date only -> midnight UTC
    assert (record.duration_s, record.width, record.height) == (12.5, 1280, 720)
    assert record.comments == []


def test_records_round_trip_through_the_release_schema():
    records = [normalize_info(load(n), snapshot_date=SNAPSHOT) for n in ("youtube_full", "tiktok_emoji")]
    assert table_to_records(records_to_table(records)) == records


def test_malformed_info_names_the_field_and_the_url():
    with pytest.raises(RecordError) as err:
        normalize_info(load("malformed_no_duration"), snapshot_date=SNAPSHOT, url="https://youtu.be/Yt0Fixture3")
    assert (err.value.video_id, err.value.field_name) == ("Yt0Fixture3", "duration_s")
    assert "https://youtu.be/Yt0Fixture3" in str(err.value)


@pytest.mark.parametrize(("change", "field"), [
    ({"id": None}, "video_id"),
    ({"extractor_key": "Vimeo", "extractor": "vimeo"}, "platform"),
    ({"timestamp": None, "upload_date": "2024-01-02"}, "upload_time"),
    ({"_type": "playlist"}, "_type"),
    ({"view_count": "1.2K"}, "view_count"),
])
def test_bad_fields_raise_record_error(change, field):
    info = load("youtube_full") | change
    with pytest.raises(RecordError) as err:
        normalize_info(info, snapshot_date=SNAPSHOT, url="https://youtu.be/x")
    assert err.value.field_name == field


def test_bad_comment_like_count_names_the_comment():
    info = load("youtube_full")
    info["comments"][1]["like_count"] = "lots"
    with pytest.raises(RecordError, match=r"comments\[\d\]\.like_count"):
        normalize_info(info, snapshot_date=SNAPSHOT)


def test_extract_hashtags_rules():
    assert extract_hashtags("a #One b#two #one", "see x.org/#frag &#39; ##x #Ünï_1") == ["One", "Ünï_1"]
    assert extract_hashtags(None, "") == []


@pytest.mark.parametrize(("change", "field"), [
    ({"categories": "Music"}, "categories"),  # never the category "M"
    ({"comments": "nope"}, "comments"),  # never an empty list
    ({"comments": ["text"]}, "comments[0]"),
    ({"tags": [1]}, "tags[0]"),
    ({"title": 42}, "title"),
    ({"view_count": 10**30}, "view_count"),
    ({"duration": float("inf")}, "duration_s"),
    ({"timestamp": 10**30}, "upload_time"),
    ({"id": "../../etc/passwd"}, "video_id"),
    ({"width": None, "height": None, "formats": [{"width": "w", "height": "h", "vcodec": "vp9"}]}, "width"),
])
def test_wrong_types_and_bounds_are_errors_naming_the_field(change, field):
    with pytest.raises(RecordError) as err:
        normalize_info(load("youtube_full") | change, snapshot_date=SNAPSHOT, url="https://youtu.be/x")
    assert err.value.field_name == field and "https://youtu.be/x" in str(err.value)


def test_documented_repairs():
    info = load("youtube_full") | {"tags": "timelapse, sunset,,4k", "title": "cut emoji \ud83d", "id": 12345678901,
                                   "description": b"caf\xc3\xa9 \xff"}
    record = normalize_info(info, snapshot_date=SNAPSHOT)
    assert record.tags == ["timelapse", "sunset", "4k"]  # yt-dlp's keyword-string rule, not characters
    assert record.title == "cut emoji \ufffd" and record.description == "café \ufffd"
    assert record.video_id == "12345678901"  # an integer id becomes its string, as yt-dlp does


@pytest.mark.parametrize("info", [[{"id": "Yt0Fixture1"}], "text", 7, None])
def test_an_info_that_is_not_a_dict_names_its_source(info):
    with pytest.raises(RecordError, match=r"record 'dumps/a\.info\.json': field 'info'"):
        normalize_info(info, snapshot_date=SNAPSHOT, source="dumps/a.info.json")
