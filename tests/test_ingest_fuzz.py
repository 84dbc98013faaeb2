"""Ingestion that never stops and never escapes: a corpus of malformed yt-dlp info dicts written for these tests (plus
the real dumps in ../shared/real_info when present), seeded random mutations, `--from-info-json`, one-line CLI errors,
and crawls killed with SIGKILL at seeded random points then resumed."""

import copy
import datetime as dt
import json
import math
import random
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from kill_helpers import complete_lines, ledger_damage, run_with_kills
from yt_dlp.utils import DownloadError, ExtractorError

from mimic_cli import main
from mimic_data.crawl import LEDGER_NAME, PARQUET_NAME, RECORDS_NAME, _record_json, crawl, crawl_info_json
from mimic_data.io import read_jsonl
from mimic_data.normalize import normalize_info
from mimic_data.schema import RecordError, check_video_id, records_to_table, table_to_records, validate_record

FIXTURES = Path(__file__).parent / "fixtures" / "info_dicts"
REAL_INFO = Path(__file__).resolve().parents[2] / "shared" / "real_info"
SNAPSHOT = dt.date(2025, 3, 1)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def _set(**changes):
    def mutate(info):
        info.update(changes)
        return info
    return mutate


def _comment(i, **changes):
    def mutate(info):
        info["comments"][i].update(changes)
        return info
    return mutate


# (mutation of youtube_full, the field a failure must name; None = the record must be kept)
CASES = [
    (_set(title="Sunset \ud83d over the harbour"), None),  # half an emoji (a lone surrogate): repaired
    (_set(description=b"caf\xc3\xa9 \xff#bytes"), None),  # bytes: decoded, the invalid byte replaced
    (lambda info: [info], "info"),  # a list where the dict belongs
    (lambda info: "not a dict", "info"),
    (lambda info: None, "info"),  # yt-dlp returned nothing
    (_set(view_count=10**30), "view_count"),  # does not fit int64
    (_set(view_count=1e30), "view_count"),
    (_set(view_count=-5), "view_count"),
    (_set(view_count="1.2K"), "view_count"),
    (_set(like_count=True), "like_count"),
    (_set(duration=math.inf), "duration_s"),
    (_set(duration=math.nan), "duration_s"),
    (_set(duration="95"), "duration_s"),
    (_set(duration=None), "duration_s"),
    (_set(tags="timelapse, sunset,,harbour"), None),  # yt-dlp's keyword-string rule: split on commas
    (_set(tags=["ok", 5]), "tags[1]"),
    (_set(tags={"a": 1}), "tags"),
    (_set(categories="Music"), "categories"),  # never the category "M"
    (_set(categories=[]), None),
    (_set(categories=[5]), "categories[0]"),
    (_set(comments="nope"), "comments"),  # never an empty list
    (_set(comments=[1, 2]), "comments[0]"),
    (_comment(0, text=5), "comments[0].text"),
    (_comment(0, like_count="lots"), "like_count"),
    (_comment(0, like_count=10**30), "like_count"),
    (_comment(0, text="broken \udc80 comment"), None),
    (_set(timestamp=10**30, upload_date=None), "upload_time"),
    (_set(timestamp=math.nan, upload_date=None), "upload_time"),
    (_set(timestamp="yesterday", upload_date="20240102"), None),  # falls back to upload_date
    (_set(timestamp=None, upload_date="20241340"), "upload_time"),
    (_set(id="../../etc/passwd"), "video_id"),
    (_set(id="..\\x"), "video_id"),
    (_set(id="a" * 300), "video_id"),
    (_set(id=None), "video_id"),
    (_set(extractor_key="Generic", extractor="generic"), "platform"),
    (_set(_type="playlist"), "_type"),
    (_set(width="1920"), "width"),
    (_set(width=None, height=None, formats=[{"width": "wide", "height": "tall", "vcodec": "h264"}]), "width"),
    (_set(height=2**40), "height"),
    (_set(title=123), "title"),
    (_set(language=["en"]), "language"),
    (_set(channel_id={"id": 1}), "channel_id"),
    (_set(description="nul \x00 inside " + "long " * 200_000), None),  # 1 MB of text, a NUL: stored as is
]


def corpus():
    """url -> (info, field or None) for every case, plus the project's good fixtures and a duplicate of one video."""
    out = {}
    for i, (mutate, field) in enumerate(CASES):
        video_id = f"Fz{i:09d}"
        info = fixture("youtube_full") | {"id": video_id, "webpage_url": f"https://www.youtube.com/watch?v={video_id}"}
        info["comments"] = copy.deepcopy(info["comments"])
        out[f"https://youtu.be/case{i:02d}"] = (mutate(info), field)
    for name in ("youtube_full", "tiktok_emoji", "youtube_missing_fields"):
        info = fixture(name)
        out[info["webpage_url"]] = (info, None)
    out["https://youtu.be/Yt0Fixture1?again"] = (fixture("youtube_full"), None)  # the same video from a second URL
    return out


class ScriptedYoutubeDL:
    """extract_info returns the corpus entry (a deep copy) for a URL, or raises it when it is an exception."""

    def __init__(self, script):
        self.script = script

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def extract_info(self, url, download=False):
        info = self.script[url]
        if isinstance(info, BaseException):
            raise info
        return copy.deepcopy(info)


def private_video():
    try:
        raise ExtractorError("Private video. Sign in if you've been granted access", expected=True)
    except ExtractorError as exc:
        return DownloadError(f"ERROR: {exc}", sys.exc_info())


def test_one_crawl_over_the_malformed_corpus_completes_and_keeps_every_good_record(tmp_path):
    cases = corpus()
    script = {url: info for url, (info, _) in cases.items()} | {"https://youtu.be/private0001": private_video()}
    summary = crawl(list(script), tmp_path, snapshot_date=SNAPSHOT, sleep=0,
                    ydl_factory=lambda opts: ScriptedYoutubeDL(script))

    rows = list(read_jsonl(tmp_path / LEDGER_NAME))
    assert sorted(r["url"] for r in rows) == sorted(script)  # exactly one final row per URL
    by_url = {r["url"]: r for r in rows}
    assert by_url["https://youtu.be/private0001"]["status"] == "private"
    for url, (_, field) in cases.items():
        row = by_url[url]
        if field is None:
            assert row["status"] == "ok", (url, row["message"])
        else:
            assert (row["status"], row["transient"]) == ("invalid_record", False), url
            assert url in row["message"] and field in row["message"], (url, field, row["message"])

    kept = sorted({info["id"] for info, field in cases.values() if field is None})
    table = pq.read_table(tmp_path / PARQUET_NAME)
    assert table["video_id"].to_pylist() == kept and summary["records"] == len(kept)
    assert summary["failed"] == sum(field is not None for _, field in cases.values()) + 1 and summary["invalid"] == 0
    assert summary["duplicates"] == [{"video_id": "Yt0Fixture1", "kept": "https://youtu.be/Yt0Fixture1?again",
                                      "sources": ["https://www.youtube.com/watch?v=Yt0Fixture1",
                                                  "https://youtu.be/Yt0Fixture1?again"]}]

    # no unsafe id anywhere: parquet, records.jsonl, ledger
    records = {r.video_id: r for r in table_to_records(table)}
    ids = list(records) + [r["video_id"] for r in read_jsonl(tmp_path / RECORDS_NAME)]
    ids += [r["video_id"] for r in rows if r["video_id"] is not None]
    for video_id in ids:
        check_video_id(video_id, "tiktok" if video_id.isdigit() and len(video_id) > 11 else "youtube")

    # repaired text, split tags, never characters; the good fixtures are exactly what normalize_info makes of them
    assert records["Fz000000000"].title == "Sunset \ufffd over the harbour"
    assert records["Fz000000001"].description == "café \ufffd#bytes" and records["Fz000000001"].topics[-1] == "bytes"
    assert records["Fz000000014"].tags == ["timelapse", "sunset", "harbour"]
    assert records["Fz000000018"].category == ""
    assert "broken \ufffd comment" in [c.text for c in records["Fz000000025"].comments]
    for record in records.values():
        assert all(len(tag) > 1 for tag in record.tags + record.topics)
    for name in ("youtube_full", "tiktok_emoji", "youtube_missing_fields"):
        expected = normalize_info(fixture(name), snapshot_date=SNAPSHOT)
        assert records[expected.video_id] == expected

    parquet = (tmp_path / PARQUET_NAME).read_bytes()
    again = crawl(list(script), tmp_path, snapshot_date=SNAPSHOT, sleep=0,
                  ydl_factory=lambda opts: ScriptedYoutubeDL(script))
    assert again["attempted"] == 0 and again["skipped_settled"] == len(script)  # all settled, none retried
    assert (tmp_path / PARQUET_NAME).read_bytes() == parquet


_HOSTILE_VALUES = [None, "", "x", "a,b", "\ud800", b"\xff\xfe", 0, -1, 1.5, 10**30, -(10**30), math.inf, math.nan,
                   True, [], ["a"], [None], [1, "b"], {}, {"k": "v"}, "../..", "0" * 40, [{"text": 1}], 2**63, 2**31]
_MUTABLE_FIELDS = ["id", "title", "description", "tags", "categories", "language", "timestamp", "upload_date",
                   "duration", "width", "height", "view_count", "like_count", "comment_count", "repost_count",
                   "comments", "channel_id", "uploader_id", "webpage_url", "extractor_key", "_type", "formats"]


@pytest.mark.parametrize("base", ["youtube_full", "tiktok_emoji", "youtube_missing_fields"])
def test_random_mutations_give_a_valid_record_or_a_record_error_never_anything_else(base):
    rng = random.Random(f"fuzz-{base}")
    outcomes = {"kept": 0, "rejected": 0}
    for _ in range(300):
        info = fixture(base)
        for field in rng.sample(_MUTABLE_FIELDS, rng.randint(1, 3)):
            info[field] = copy.deepcopy(rng.choice(_HOSTILE_VALUES))
        if rng.random() < 0.3 and isinstance(info.get("comments"), list) and info["comments"] \
                and isinstance(info["comments"][0], dict):
            info["comments"][0][rng.choice(["text", "like_count", "parent"])] = rng.choice(_HOSTILE_VALUES)
        try:
            record = normalize_info(info, snapshot_date=SNAPSHOT, url="https://youtu.be/fuzz")
        except RecordError as exc:
            assert "https://youtu.be/fuzz" in str(exc) and exc.field_name
            outcomes["rejected"] += 1
            continue
        # what is kept can be validated again, written as UTF-8 JSON and stored in the parquet schema
        assert validate_record(record) == record
        json.dumps(_record_json(record, "fuzz"), ensure_ascii=False).encode("utf-8")
        assert table_to_records(records_to_table([record])) == [record]
        outcomes["kept"] += 1
    assert outcomes["kept"] > 10 and outcomes["rejected"] > 100  # both paths were exercised


def _write_info_json_folder(folder: Path) -> dict[str, str | None]:
    """The JSON-representable cases as .info.json files, plus file-level failures; returns name -> field or None."""
    folder.mkdir()
    expected = {}
    for url, (info, field) in corpus().items():
        if isinstance(info, dict) and isinstance(info.get("description"), bytes):
            continue  # bytes have no JSON form
        name = f"{url.rsplit('/', 1)[1].replace('?', '_')}.info.json"
        (folder / name).write_text(json.dumps(info), encoding="utf-8")  # lone surrogates travel as \ud83d escapes
        expected[name] = "not_a_video" if field == "_type" else field  # a playlist's own file is no failure
    (folder / "sub").mkdir()
    (folder / "sub" / "truncated.info.json").write_text('{"id": "Yt0Fixture1", "title": "cut her')
    (folder / "sub" / "latin1.info.json").write_bytes('{"title": "caf\xe9"}'.encode("latin-1"))
    (folder / "sub" / "playlist.info.json").write_text(json.dumps({"_type": "playlist", "id": "PL1", "entries": []}))
    (folder / "notes.json").write_text("{}")  # not an .info.json: not read
    expected |= {"truncated.info.json": "json", "latin1.info.json": "utf-8", "playlist.info.json": "not_a_video"}
    return expected


def test_from_info_json_folder_same_ledger_semantics_and_exit_code(tmp_path, capsys):
    expected = _write_info_json_folder(tmp_path / "dumps")
    out = tmp_path / "out"
    code = main(["data", "crawl", "--from-info-json", str(tmp_path / "dumps"), "--out", str(out),
                 "--snapshot-date", "2025-03-01"])
    captured = capsys.readouterr()
    assert code == 1 and "mimic data crawl:" in captured.err and "invalid_record" in captured.err
    rows = {Path(r["url"]).name: r for r in read_jsonl(out / LEDGER_NAME)}
    assert set(rows) == set(expected)  # one row per file, notes.json not read
    assert rows["playlist.info.json"]["status"] == "not_a_video"
    assert rows["truncated.info.json"]["status"] == rows["latin1.info.json"]["status"] == "invalid_record"
    assert "truncated.info.json" in rows["truncated.info.json"]["message"]
    for name, field in expected.items():
        if field is None:
            assert rows[name]["status"] == "ok", rows[name]
        elif field not in ("json", "utf-8", "not_a_video"):
            assert rows[name]["status"] == "invalid_record" and field in rows[name]["message"], rows[name]
    table = pq.read_table(out / PARQUET_NAME)
    assert table.num_rows == len({r["video_id"] for r in rows.values() if r["status"] == "ok"})
    assert json.loads(captured.out)["records"] == table.num_rows

    # resume: everything is settled, nothing is read again; exit 0 since nothing failed this time
    assert main(["data", "crawl", "--from-info-json", str(tmp_path / "dumps"), "--out", str(out)]) == 0
    assert len(list(read_jsonl(out / LEDGER_NAME))) == len(expected)


@pytest.mark.skipif(not REAL_INFO.is_dir(), reason=f"{REAL_INFO} (real yt-dlp dumps, ../shared) is not here")
def test_real_ytdlp_dumps_from_info_json(tmp_path):
    folder = tmp_path / "real"
    folder.mkdir()
    for path in sorted(REAL_INFO.glob("*.json")):  # linked, not copied: they stay in ../shared
        (folder / f"{path.stem}.info.json").symlink_to(path)
    summary = crawl_info_json(folder, tmp_path / "out", snapshot_date=SNAPSHOT)
    rows = {Path(r["url"]).name: r for r in read_jsonl(tmp_path / "out" / LEDGER_NAME)}
    # pinchflat's authors replaced the id with "ABC123", which is no YouTube id: refused, naming the field
    assert rows["pinchflat_ABC123.info.json"]["status"] == "invalid_record"
    assert "'video_id'" in rows["pinchflat_ABC123.info.json"]["message"]
    assert summary["by_status"] == {"invalid_record": 1, "ok": len(rows) - 1}
    records = {r.video_id: r for r in table_to_records(pq.read_table(tmp_path / "out" / PARQUET_NAME))}
    assert records["gogEJyoSB9s"].category == "Music" and records["gogEJyoSB9s"].duration_s == 7205
    assert records["2AOz2Zfr6LU"].topics[:2] == ["RichardBenson", "QuelliDellaNotte"]
    assert records["JjQDik3yNhA"].tags[:3] == ["Mental Outlaw", "mental", "outlaw"]
    assert records["6iRV8liah8A"].channel_id == "UCWpsozCMdAnfI16rZHQ9XDg"  # youtube-dl era: uploader_id is the UC id


@pytest.mark.parametrize(("argv", "says"), [
    (["data", "crawl", "--from-info-json", "{tmp}/missing"], "no such folder"),
    (["data", "crawl", "--from-info-json", "{tmp}"], "no *.info.json files"),
    (["data", "crawl", "--from-file", "{tmp}/missing.txt"], "missing.txt"),
    (["data", "crawl", "https://youtu.be/x", "--from-info-json", "{tmp}"], "not both"),
    (["data", "select", "--data", "{tmp}/missing"], "records.parquet: no such file"),
    (["hydrate", "report", "{tmp}"], "not a hydration folder"),
    (["hydrate", "materialize", "{tmp}"], "not a hydration folder"),
    (["hydrate", "download", "{tmp}", "--sleep", "0"], "videos.parquet"),
])
def test_cli_mistakes_end_in_one_line(tmp_path, argv, says):
    with pytest.raises(SystemExit) as exc:
        main([arg.format(tmp=tmp_path) for arg in argv])
    message = str(exc.value.code)
    assert says in message and "\n" not in message and message.startswith(f"mimic {argv[0]} {argv[1]}: ")


@pytest.mark.parametrize("argv", [
    ["hydrate", "report", "{tmp}/missing"], ["hydrate", "serve", "{tmp}/missing"],
    ["data", "crawl", "--sleep", "-1", "x"], ["data", "crawl", "--snapshot-date", "March", "x"],
    ["data", "crawl", "--max-comments", "-3", "x"], ["hydrate", "download", "{tmp}", "--shard", "3/2"],
])
def test_bad_flags_and_missing_folders_are_usage_errors(tmp_path, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([arg.format(tmp=tmp_path) for arg in argv])
    assert exc.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1].startswith("mimic")


def test_serve_refuses_a_folder_without_videos(tmp_path):
    with pytest.raises(SystemExit, match="no videos/ folder"):
        main(["hydrate", "serve", str(tmp_path)])


_CRAWL_CHILD = """
import datetime as dt, json, sys, time
from mimic_data.crawl import crawl
script = json.loads(open(sys.argv[1], encoding="utf-8").read())

class SlowYoutubeDL:  # a network-like pause per URL, so that kills land at every stage of an item
    def __init__(self, opts): pass
    def __enter__(self): return self
    def __exit__(self, *exc): return False
    def extract_info(self, url, download=False):
        time.sleep(0.02)
        return script[url]

crawl(list(script), sys.argv[2], snapshot_date=dt.date(2025, 3, 1), sleep=0, ydl_factory=SlowYoutubeDL)
"""


def json_corpus():
    """The corpus without the entries JSON cannot carry (bytes)."""
    return {url: info for url, (info, _) in corpus().items()
            if not (isinstance(info, dict) and isinstance(info.get("description"), bytes))}


def test_crawl_killed_at_random_points_resumes_to_the_uninterrupted_result(tmp_path):
    script_path = tmp_path / "script.json"
    script_path.write_text(json.dumps(json_corpus()), encoding="utf-8")
    child = tmp_path / "child.py"
    child.write_text(_CRAWL_CHILD)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    ledger = killed / LEDGER_NAME
    snapshots: list[list[str]] = []
    kills = run_with_kills([sys.executable, str(child), str(script_path), str(killed)], ledger, n_kills=4,
                           rng=random.Random(18), max_delay_s=0.3, on_kill=lambda: snapshots.append(
                               complete_lines(ledger)))
    assert kills >= 3
    script = json.loads(script_path.read_text(encoding="utf-8"))
    resume = crawl(list(script), killed, snapshot_date=SNAPSHOT, sleep=0,
                   ydl_factory=lambda opts: ScriptedYoutubeDL(script))
    crawl(list(script), clean, snapshot_date=SNAPSHOT, sleep=0, ydl_factory=lambda opts: ScriptedYoutubeDL(script))

    assert (killed / PARQUET_NAME).read_bytes() == (clean / PARQUET_NAME).read_bytes()
    damage = ledger_damage(ledger, snapshots)
    assert (damage["glued"], damage["lost"]) == (0, 0)
    rows = list(read_jsonl(ledger))
    assert len(rows) == len(script) and {r["url"] for r in rows} == set(script)  # each URL once: none redone
    status = {r["url"]: r["status"] for r in rows}
    assert status == {r["url"]: r["status"] for r in read_jsonl(clean / LEDGER_NAME)}
    assert 0 < resume["attempted"] < len(script)
