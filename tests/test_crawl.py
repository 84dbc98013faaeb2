"""The resumable crawler, driven by a fake YoutubeDL (injected factory) serving the project's info-dict fixtures and
raising real yt-dlp exception objects; no network."""

import argparse
import copy
import datetime as dt
import functools
import http.server
import json
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fixture_ytdlp import ytdlp_failure

from mimic_cli import main
from mimic_data.crawl import (
    LEDGER_NAME,
    PARQUET_NAME,
    RECORDS_NAME,
    crawl,
    finalize,
    read_url_file,
    register_crawl,
    ydl_options,
)
from mimic_data.io import read_jsonl
from mimic_data.schema import table_to_records

FIXTURES = Path(__file__).parent / "fixtures" / "info_dicts"
SNAPSHOT = dt.date(2025, 3, 1)
YT, TT, YT_SPARSE, BROKEN = (
    "https://youtu.be/Yt0Fixture1",
    "https://www.tiktok.com/@fixture.dancer/video/7301234567890123456",
    "https://www.youtube.com/watch?v=Yt0Fixture2",
    "https://www.youtube.com/watch?v=Yt0Fixture3",
)
PRIVATE, THROTTLED = "https://www.youtube.com/watch?v=private0001", "https://www.youtube.com/watch?v=Yt0Fixture2&t=1"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class FakeYoutubeDL:
    """Serves per-URL scripts: each call pops the next response (an info dict or an exception to raise)."""

    def __init__(self, script: dict[str, list], opts: dict, calls: list):
        self.script, self.opts, self.calls = script, opts, calls

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def extract_info(self, url, download=True):
        self.calls.append((url, download))
        response = self.script[url].pop(0)
        if isinstance(response, BaseException):
            raise response
        return copy.deepcopy(response)


def fake_factory(script: dict[str, list], calls: list, seen_opts: list):
    def factory(opts):
        seen_opts.append(opts)
        return FakeYoutubeDL(script, opts, calls)

    return factory


def run(urls, out, script, **kwargs):
    calls, opts = [], []
    summary = crawl(urls, out, snapshot_date=SNAPSHOT, sleep=0, ydl_factory=fake_factory(script, calls, opts),
                    **kwargs)
    return summary, calls, opts


def test_crawl_writes_ledger_records_and_sorted_parquet(tmp_path):
    script = {
        YT: [fixture("youtube_full")], TT: [fixture("tiktok_emoji")], YT_SPARSE: [fixture("youtube_missing_fields")],
        BROKEN: [fixture("malformed_no_duration")],
        PRIVATE: [ytdlp_failure("Private video. Sign in if you've been granted access to this video")],
        THROTTLED: [ytdlp_failure("This content isn't available, try again later.")],
    }
    summary, calls, opts = run([YT, TT, YT_SPARSE, BROKEN, PRIVATE, THROTTLED, YT], tmp_path, script,
                               max_comments=7)

    assert calls == [(u, False) for u in (YT, TT, YT_SPARSE, BROKEN, PRIVATE, THROTTLED)]  # duplicate URL once
    assert opts[0]["getcomments"] is True
    assert opts[0]["extractor_args"] == {"youtube": {"comment_sort": ["top"], "max_comments": ["7", "all", "0"]}}
    assert summary["by_status"] == {"invalid_record": 1, "ok": 3, "private": 1, "rate_limited": 1}
    assert (summary["records"], summary["stopped_early"]) == (3, False)

    ledger = {row["url"]: row for row in read_jsonl(tmp_path / LEDGER_NAME)}
    assert (ledger[PRIVATE]["status"], ledger[PRIVATE]["transient"]) == ("private", False)
    assert ledger[PRIVATE]["error_class"] == "ExtractorError" and "Private video" in ledger[PRIVATE]["message"]
    assert (ledger[THROTTLED]["status"], ledger[THROTTLED]["transient"]) == ("rate_limited", True)
    assert ledger[BROKEN]["status"] == "invalid_record" and "duration_s" in ledger[BROKEN]["message"]
    assert ledger[YT]["video_id"] == "Yt0Fixture1" and ledger[YT]["attempt"] == 1
    assert all(row["yt_dlp_version"] and row["time_utc"].endswith("+00:00") for row in ledger.values())

    records = table_to_records(pq.read_table(tmp_path / PARQUET_NAME))
    assert [r.video_id for r in records] == ["7301234567890123456", "Yt0Fixture1", "Yt0Fixture2"]
    assert records[1].comments[0].text == "The colours at 0:42 are unreal 😍"
    assert all(r.snapshot_date == SNAPSHOT for r in records)


def test_resume_skips_settled_urls_and_retries_transient_ones(tmp_path):
    script = {
        YT: [fixture("youtube_full")],
        PRIVATE: [ytdlp_failure("Private video. Sign in if you've been granted access to this video")],
        THROTTLED: [ytdlp_failure("HTTP Error 429: Too Many Requests"), fixture("youtube_missing_fields")],
    }
    run([YT, PRIVATE, THROTTLED], tmp_path, script)
    first_parquet = (tmp_path / PARQUET_NAME).read_bytes()

    summary, calls, _ = run([YT, PRIVATE, THROTTLED], tmp_path, script)
    assert calls == [(THROTTLED, False)]  # ok and permanent failures are not asked again
    assert summary["skipped_settled"] == 2 and summary["records"] == 2
    rows = [r for r in read_jsonl(tmp_path / LEDGER_NAME) if r["url"] == THROTTLED]
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "rate_limited"), (2, "ok")]
    assert (tmp_path / PARQUET_NAME).read_bytes() != first_parquet

    summary, calls, _ = run([YT, PRIVATE, THROTTLED], tmp_path, script)
    assert calls == [] and summary["attempted"] == 0


def test_circuit_breaker_stops_after_consecutive_bot_checks(tmp_path):
    bot = "Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or --cookies for the authentication."
    urls = [f"https://www.youtube.com/watch?v=bot{i:08d}" for i in range(4)]
    script = {u: [ytdlp_failure(bot)] for u in urls}
    summary, calls, _ = run(urls, tmp_path, script, max_consecutive_blocks=2)
    assert len(calls) == 2 and summary["stopped_early"] is True
    assert summary["by_status"] == {"bot_check": 2}
    assert (tmp_path / PARQUET_NAME).exists() and summary["records"] == 0


def test_interrupted_run_keeps_records_and_same_video_twice_is_kept_once(tmp_path):
    # Two URLs of one video: the last copy wins in the parquet and the duplicate is reported with both sources;
    # a torn last line (killed mid-write) is ignored.
    other = "https://www.youtube.com/watch?v=Yt0Fixture1"
    script = {YT: [fixture("youtube_full")], other: [fixture("youtube_full")]}
    summary, _, _ = run(list(script), tmp_path, script)
    assert summary["duplicates"] == [{"video_id": "Yt0Fixture1", "sources": [YT, other], "kept": other}]
    with open(tmp_path / RECORDS_NAME, "a", encoding="utf-8") as f:
        f.write('{"video_id": "torn')
    final = finalize(tmp_path)
    assert final["records"] == 1 and final["invalid"] == 0 and len(list(read_jsonl(tmp_path / RECORDS_NAME))) == 2
    first = Path(final["parquet"]).read_bytes()
    assert Path(finalize(tmp_path)["parquet"]).read_bytes() == first  # deterministic bytes


def test_finalize_writes_the_valid_rows_and_names_the_invalid_ones(tmp_path, capsys):
    run([YT], tmp_path, {YT: [fixture("youtube_full")]})
    good = json.loads((tmp_path / RECORDS_NAME).read_text())
    with open(tmp_path / RECORDS_NAME, "a", encoding="utf-8") as f:
        for bad in ({"video_id": "bad1", "platform": "vimeo"}, good | {"video_id": "Yt0Fixture9", "view_count": 10**30},
                    good | {"video_id": "../../etc/x"}, ["not", "a", "row"]):
            f.write(json.dumps(bad) + "\n")
    final = finalize(tmp_path)
    assert final["records"] == 1 and final["invalid"] == 4
    examples = final["invalid_examples"]
    assert "bad1" in examples[1] and "view_count" in examples[2] and "../../etc/x" in examples[3]
    assert "row 5: not a JSON object" in examples[0]
    assert pq.read_table(tmp_path / PARQUET_NAME)["video_id"].to_pylist() == ["Yt0Fixture1"]
    assert main(["data", "crawl", "--finalize", "--out", str(tmp_path)]) == 1
    assert "4 rows of records.jsonl are invalid" in capsys.readouterr().err


def test_cli_parses_crawl_options_and_finalizes(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register_crawl(parser.add_subparsers(dest="data_command"))
    url_file = tmp_path / "urls.txt"
    url_file.write_text(f"# list\n{YT}\n\n  {TT}  \n", encoding="utf-8")
    assert read_url_file(url_file) == [YT, TT]

    args = parser.parse_args(["crawl", YT, "--from-file", str(url_file), "--out", str(tmp_path / "o"),
                              "--max-comments", "7", "--cookies", "c.txt", "--proxy", "socks5://127.0.0.1:9",
                              "--sleep", "0.5"])
    assert (args.urls, args.max_comments, args.sleep, args.proxy) == ([YT], 7, [0.5], ["socks5://127.0.0.1:9"])
    opts = ydl_options(args.max_comments, cookies=args.cookies, proxy=args.proxy[0])
    assert (opts["cookiefile"], opts["proxy"], opts["skip_download"]) == ("c.txt", "socks5://127.0.0.1:9", True)

    run([YT], tmp_path / "o", {YT: [fixture("youtube_full")]})
    (tmp_path / "o" / PARQUET_NAME).unlink()
    args = parser.parse_args(["crawl", "--finalize", "--out", str(tmp_path / "o")])
    assert args.handler(args) == 0
    assert "1 records" in capsys.readouterr().out
    assert pq.read_table(tmp_path / "o" / PARQUET_NAME).num_rows == 1

    args = parser.parse_args(["crawl", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="give URLs"):
        args.handler(args)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_real_youtubedl_against_a_loopback_server(tmp_path):
    """The default factory (real yt-dlp, our options) end to end, offline: a loopback server, no platform."""
    served = tmp_path / "srv"
    served.mkdir()
    (served / "clip.mp4").write_bytes(b"\x00" * 1024)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=served))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        summary = crawl([f"{base}/clip.mp4", f"{base}/missing.mp4"], tmp_path / "out", snapshot_date=SNAPSHOT,
                        sleep=0)
    finally:
        server.shutdown()
        server.server_close()
    ledger = {row["url"]: row for row in read_jsonl(tmp_path / "out" / LEDGER_NAME)}
    missing = ledger[f"{base}/missing.mp4"]
    assert (missing["status"], missing["transient"], missing["error_class"]) == ("http_error", False, "HTTPError")
    clip = ledger[f"{base}/clip.mp4"]  # yt-dlp's generic extractor: neither YouTube nor TikTok
    assert clip["status"] == "invalid_record" and "platform" in clip["message"]
    assert summary["records"] == 0
