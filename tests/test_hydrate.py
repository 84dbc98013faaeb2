"""Hydration through the real yt-dlp path (generic extractor) from a loopback server with injected faults: ledger rows,
error classes, resume / retry-failed, circuit breaker, report + materialize + load_dataset, shards, kill -9 and resume.

Videos are tiny H.264 clips from mimic_data.render.write_mp4; nothing leaves 127.0.0.1."""

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kill_helpers import complete_lines, ledger_damage, run_with_kills

from mimic_cli import main
from mimic_data.hydrate.download import (
    HydrateOptions,
    hydrate,
    latest_rows,
    ledger_path,
    load_manifest,
    parse_url_map,
    read_ledgers,
    rows_from_urls,
    video_path,
)
from mimic_data.hydrate.loopback import SYNTHETIC_PREFIX, hydrate_demo_bench
from mimic_data.hydrate.report import available_ids, ids_sha256, materialize, report
from mimic_data.hydrate.server import VideoServer
from mimic_data.io import JsonlLedger, read_jsonl, shard_of, write_parquet
from mimic_data.render import video_relpath, write_mp4

N_VIDEOS = 10
FAST = {"sleep": 0.0, "backoff": 0.05, "retries": 1, "socket_timeout": 2.0}


def video_ids(n=N_VIDEOS):
    """Safe ids of each platform (manifest_rows makes even indexes YouTube, odd ones TikTok)."""
    return [f"73{i:017d}" if i % 2 else f"v{i:02d}{'abcdefghij'[i % 10]}xyz-_QQ" for i in range(n)]


def manifest_rows(ids):
    rows = []
    for i, vid in enumerate(ids):
        platform = "tiktok" if i % 2 else "youtube"
        rows.append({"video_id": vid, "platform": platform, "url": f"{SYNTHETIC_PREFIX}{platform}/{vid}.mp4"})
    return rows


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The 'platform': one tiny distinct clip per video id, in the render layout."""
    root = tmp_path_factory.mktemp("rendered")
    rng = np.random.default_rng(0)
    for row in manifest_rows(video_ids()):
        frames = rng.integers(0, 255, (16, 32, 48, 3), dtype=np.uint8)
        write_mp4(frames, root / video_relpath(row["platform"], row["video_id"]), fps=8)
    return root


def options_for(server, **overrides):
    return HydrateOptions(url_map=((SYNTHETIC_PREFIX, server.base_url + "/"),), **{**FAST, **overrides})


def final_status(root):
    return {vid: (row["status"], row["transient"]) for vid, row in latest_rows(root).items()}


def test_each_failure_gets_its_class_and_ok_rows_describe_the_file(rendered, tmp_path):
    ids = video_ids(8)
    faults = dict(zip(ids[2:], ["404", "403", "429", "truncate", "garbage", "slow"], strict=True))
    with VideoServer(rendered, faults=faults, slow_s=4.0) as server:
        summary = hydrate(manifest_rows(ids), tmp_path, options=options_for(server, socket_timeout=1.0))
    assert final_status(tmp_path) == {
        ids[0]: ("ok", False), ids[1]: ("ok", False), ids[2]: ("http_error", False), ids[3]: ("http_error", True),
        ids[4]: ("rate_limited", True), ids[5]: ("corrupt", True), ids[6]: ("corrupt", True), ids[7]: ("network", True)}
    rows = read_ledgers(tmp_path)
    attempts = {vid: sum(r["video_id"] == vid for r in rows) for vid in ids}
    # permanent failures and blocks are not retried in place; other transient failures get retries=1 more try
    assert attempts == {ids[0]: 1, ids[1]: 1, ids[2]: 1, ids[3]: 2, ids[4]: 1, ids[5]: 2, ids[6]: 2, ids[7]: 2}
    assert summary["attempts"] == len(rows) == 12 and summary["pending"] == 5
    for row in rows:
        path = tmp_path / row["relpath"]
        if row["status"] == "ok":
            assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert row["bytes"] == path.stat().st_size
            assert (row["width"], row["height"], row["fps"], row["vcodec"]) == (48, 32, 8.0, "h264")
        else:
            assert not path.exists() and row["message"] and row["error_class"]
    assert "404" in latest_rows(tmp_path)[ids[2]]["message"]  # yt-dlp's own words reach the ledger
    assert not list(tmp_path.rglob(".*.dl.*"))  # no temp or .part file survives


def test_resume_skips_settled_and_retry_failed_retries_only_failures(rendered, tmp_path):
    ids = video_ids(4)
    rows = manifest_rows(ids)
    with VideoServer(rendered, faults={ids[1]: "404", ids[2]: "429-once", ids[3]: "truncate"}) as server:
        hydrate(rows, tmp_path, options=options_for(server))
        assert final_status(tmp_path)[ids[3]] == ("corrupt", True)
        del server.faults[ids[3]]
        before = dict(server.requests)
        second = hydrate(rows, tmp_path, options=options_for(server))
        assert second["attempts"] == 2  # only the transient failures: the 429 and the truncated download
        assert server.requests[ids[0]] == before[ids[0]] and server.requests[ids[1]] == before[ids[1]]
        assert hydrate(rows, tmp_path, options=options_for(server))["attempts"] == 0  # nothing left to do
        del server.faults[ids[1]]
        third = hydrate(rows, tmp_path, options=options_for(server, retry_failed=True))
    assert third["attempts"] == 1 and third["by_status"] == {"ok": 1}  # the permanent 404, now back
    assert set(final_status(tmp_path).values()) == {("ok", False)}
    assert [r["attempt"] for r in read_ledgers(tmp_path) if r["video_id"] == ids[3]] == [1, 2, 3]


def test_circuit_breaker_stops_after_consecutive_blocks(rendered, tmp_path):
    ids = video_ids(6)
    with VideoServer(rendered, faults=dict.fromkeys(ids, "429")) as server:
        summary = hydrate(manifest_rows(ids), tmp_path, options=options_for(server, max_consecutive_blocks=3))
        assert sum(server.requests.values()) == 3
    assert summary["stopped_early"] and summary["attempts"] == 3 and summary["pending"] == 6


def _bench_folder(root, rows):
    """A minimal MIMIC-Bench folder: the videos manifest, one MCQ config (2 questions per video), README YAML."""
    root.mkdir(parents=True)
    nulls = pa.nulls(len(rows), pa.string())
    videos = pa.table({"video_id": [r["video_id"] for r in rows], "platform": [r["platform"] for r in rows],
                       "url": [r["url"] for r in rows], "file_name": nulls})
    write_parquet(root / "videos.parquet", videos)
    questions = [r["video_id"] for r in rows for _ in range(2)]
    write_parquet(root / "cam_tag.parquet", pa.table({
        "question_id": [f"q{i}" for i in range(len(questions))], "video_id": questions,
        "answer": ["A"] * len(questions), "file_name": pa.nulls(len(questions), pa.string())}))
    configs = "".join(
        f"- config_name: {cfg}\n  data_files:\n  - split: test\n    path: [\"{cfg}.parquet\", \"videos/**/*.mp4\"]\n"
        f"  metadata_filenames: [\"{cfg}.parquet\"]\n" for cfg in ("cam_tag", "videos"))
    (root / "README.md").write_text(f"---\nconfigs:\n{configs}---\n# test bench\n")
    return root


def test_demo_hydration_report_materialize_and_load_dataset(rendered, tmp_path):
    import datasets

    ids = video_ids(4)
    bench = _bench_folder(tmp_path / "bench", manifest_rows(ids))
    result = hydrate_demo_bench(bench, rendered, faults={ids[2]: "404"})
    available = [ids[0], ids[1], ids[3]]
    assert result["available"] == 3 and result["by_status"] == {"http_error": 1, "ok": 3}
    assert result["by_platform"] == {"tiktok": {"ok": 2}, "youtube": {"http_error": 1, "ok": 1}}
    assert result["coverage"]["cam_tag"] == {"rows": 8, "with_video": 6, "share": 0.75}
    assert result["available_ids_sha256"] == hashlib.sha256("\n".join(sorted(available)).encode()).hexdigest()
    assert json.loads((bench / "hydration" / "report.json").read_text())["available"] == 3
    file_names = dict(zip(*pq.read_table(bench / "cam_tag.parquet", columns=["video_id", "file_name"]).to_pydict()
                          .values(), strict=True))
    assert file_names[ids[2]] is None and file_names[ids[0]] == video_relpath("youtube", ids[0])

    dataset = datasets.load_dataset(str(bench), "cam_tag", split="test", cache_dir=str(tmp_path / "hf"))
    assert isinstance(dataset.features["video"], datasets.Video)
    missing = [row["video"] is None for row in dataset]
    assert sum(missing) == 2 and len(dataset) == 8
    present = next(row for row in dataset if row["video"] is not None)
    assert present["video"].metadata.num_frames == 16


def test_materialize_drops_a_file_that_vanished(rendered, tmp_path):
    ids = video_ids(2)
    bench = _bench_folder(tmp_path / "bench", manifest_rows(ids))
    hydrate_demo_bench(bench, rendered)
    (bench / video_relpath("youtube", ids[0])).unlink()
    assert materialize(bench) == {"cam_tag.parquet": 2, "videos.parquet": 1}
    assert report(bench)["by_status"] == {"missing_file": 1, "ok": 1}


def test_two_processes_hydrate_disjoint_shards(rendered, tmp_path):
    ids = video_ids(6)
    with VideoServer(rendered) as server:
        summary = hydrate(manifest_rows(ids), tmp_path, options=options_for(server), workers=2)
    assert summary["by_status"] == {"ok": 6}
    for k in range(2):
        ledger_ids = {row["video_id"] for row in read_jsonl(ledger_path(tmp_path, (k, 2)))}
        assert ledger_ids == {vid for vid in ids if shard_of(vid, 2) == k}
    assert report(tmp_path)["available_ids_sha256"] == ids_sha256(ids)


def test_shard_option_takes_the_crc32_partition(rendered, tmp_path):
    ids = video_ids(6)
    with VideoServer(rendered) as server:
        hydrate(manifest_rows(ids), tmp_path, options=options_for(server), shard=(1, 3))
    assert set(latest_rows(tmp_path)) == {vid for vid in ids if shard_of(vid, 3) == 1}
    assert shard_of("abc", 7) == shard_of("abc", 7) == 0x352441C2 % 7  # crc32("abc"), stable across runs


_CHILD = """
import json, sys
from mimic_data.hydrate.download import HydrateOptions, hydrate
rows, root, base = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
hydrate(rows, root, options=HydrateOptions(sleep=0, url_map=(("{prefix}", base + "/"),), socket_timeout=10))
"""


def test_killed_at_random_points_then_resumed_equals_an_uninterrupted_run(rendered, tmp_path):
    rows = manifest_rows(video_ids())
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    ledger = ledger_path(killed, (0, 1))
    snapshots: list[list[str]] = []
    with VideoServer(rendered, faults={r["video_id"]: "stall" for r in rows}, slow_s=0.4) as server:
        argv = [sys.executable, "-c", _CHILD.format(prefix=SYNTHETIC_PREFIX), json.dumps(rows), str(killed),
                server.base_url]
        child = subprocess.Popen(argv, start_new_session=True)
        deadline = time.monotonic() + 60
        # the first kill lands inside a download: after 3 rows, as soon as a half-written file exists (the server
        # stalls mid-body); then two more at seeded random points
        while time.monotonic() < deadline and child.poll() is None and not (
                len(list(read_jsonl(ledger))) >= 3 and list(killed.rglob(".*.dl.*.part"))):
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert list(killed.rglob(".*.dl.*.part")), "the kill did not land inside a download"
        snapshots.append(complete_lines(ledger))
        kills = run_with_kills(argv, ledger, n_kills=2, rng=random.Random(18), max_delay_s=0.6,
                               on_kill=lambda: snapshots.append(complete_lines(ledger)))
        assert kills == 2 and 3 <= len(snapshots[-1]) < len(rows)
        server.faults.clear()
        hydrate(rows, killed, options=options_for(server))
        hydrate(rows, clean, options=options_for(server))
    assert ledger_damage(ledger, snapshots) | {"rows": 0} == {"rows": 0, "glued": 0, "lost": 0}
    latest_killed, latest_clean = latest_rows(killed), latest_rows(clean)
    assert {v: r["status"] for v, r in latest_killed.items()} == {v: r["status"] for v, r in latest_clean.items()}
    assert {v: r["sha256"] for v, r in latest_killed.items()} == {v: r["sha256"] for v, r in latest_clean.items()}
    for row in read_ledgers(killed):  # every ok row names a complete, verified file
        if row["status"] == "ok":
            assert hashlib.sha256((killed / row["relpath"]).read_bytes()).hexdigest() == row["sha256"]
    assert not list(killed.rglob(".*.dl.*"))
    assert report(killed)["available_ids_sha256"] == report(clean)["available_ids_sha256"] == ids_sha256(
        r["video_id"] for r in rows)


def test_hostile_manifest_is_refused_before_any_request_and_writes_nothing(rendered, tmp_path):
    root = tmp_path / "deep" / "root"
    good = manifest_rows(video_ids(2))
    hostile = [{"video_id": "../../../x", "platform": "youtube", "url": "https://synthetic.invalid/youtube/x.mp4"},
               {"video_id": "v00axyz-_QQ", "platform": "../../..", "url": "https://synthetic.invalid/y.mp4"},
               {"video_id": "..", "platform": "tiktok", "url": "https://synthetic.invalid/tiktok/z.mp4"},
               {"video_id": "/etc/passwd", "platform": "youtube", "url": "https://synthetic.invalid/p.mp4"}]
    with VideoServer(rendered) as server:
        for bad in hostile:
            with pytest.raises(ValueError, match="row 1") as err:
                hydrate([good[0], bad, good[1]], root, options=options_for(server))
            assert "video_id" in str(err.value) or "platform" in str(err.value)
        assert sum(server.requests.values()) == 0
    assert list(tmp_path.iterdir()) == []  # not even the root folder was made

    bench = tmp_path / "bench"
    bench.mkdir()
    write_parquet(bench / "videos.parquet", pa.Table.from_pylist([*good, hostile[0]]))
    with pytest.raises(ValueError, match=r"videos.parquet: row 2: .*'\.\./\.\./\.\./x'"):
        load_manifest(bench)
    with pytest.raises(SystemExit) as exc:
        main(["hydrate", "download", str(bench), "--sleep", "0"])
    assert "not a safe youtube id" in str(exc.value.code) and "\n" not in str(exc.value.code)
    assert not (bench / "videos").exists() and not (bench / "hydration").exists()


def test_paths_leading_outside_the_root_are_never_used(rendered, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    youtube_id, tiktok_id = video_ids(2)
    (root / "videos" / "youtube").mkdir(parents=True)
    (root / "videos" / "youtube" / youtube_id[:2]).symlink_to(outside)  # a planted link out of the root
    with pytest.raises(ValueError, match="outside"):
        video_path(root, "youtube", youtube_id)
    with VideoServer(rendered) as server:
        summary = hydrate(manifest_rows([youtube_id, tiktok_id]), root, options=options_for(server))
    assert summary["by_status"] == {"ok": 1, "other": 1} and list(outside.iterdir()) == []
    assert latest_rows(root)[youtube_id]["error_class"] == "UnsafePath"

    # a tampered ok row naming a path outside the root is not "available", so nothing points there
    ledger = JsonlLedger(ledger_path(root, (0, 1)))
    forged = latest_rows(root)[tiktok_id] | {"relpath": "../outside/x.mp4", "time_utc": "9999-01-01T00:00:00"}
    ledger.append(forged)
    assert available_ids(root) == {} and report(root)["by_status"] == {"missing_file": 1, "other": 1}


def test_a_damaged_file_is_detected_and_fetched_again(rendered, tmp_path):
    ids = video_ids(2)
    bench = _bench_folder(tmp_path / "bench", manifest_rows(ids))
    with VideoServer(rendered) as server:
        hydrate(bench, bench, options=options_for(server))
        path = bench / video_relpath("youtube", ids[0])
        original = path.read_bytes()
        with open(path, "r+b") as f:  # 4 KB zeroed in the middle: same size, different content
            f.seek(len(original) // 2 - 2048)
            f.write(b"\0" * 4096)
        assert path.stat().st_size == len(original)
        result = report(bench)
        assert result["by_status"] == {"damaged": 1, "ok": 1} and result["available"] == 1
        assert materialize(bench)["videos.parquet"] == 1  # the damaged video is not offered
        before = dict(server.requests)
        second = hydrate(bench, bench, options=options_for(server))
        assert second["by_status"] == {"ok": 1} and server.requests[ids[0]] > before[ids[0]]
        assert server.requests[ids[1]] == before[ids[1]]  # the intact one is not fetched again
    assert path.read_bytes() == original and report(bench)["by_status"] == {"ok": 2}


def test_download_that_fails_exits_non_zero_with_a_summary_line(rendered, tmp_path, capsys):
    ids = video_ids(2)
    bench = _bench_folder(tmp_path / "bench", manifest_rows(ids))
    with VideoServer(rendered, faults=dict.fromkeys(ids, "404")) as server:
        code = main(["hydrate", "download", str(bench), "--url-map", f"{SYNTHETIC_PREFIX}={server.base_url}/",
                     "--sleep", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "mimic hydrate download: 2 of the videos tried failed {'http_error': 2}" in err


def test_resume_after_a_torn_ledger_line_loses_no_new_row(rendered, tmp_path):
    ids = video_ids(3)
    ledger = ledger_path(tmp_path, (0, 1))
    with VideoServer(rendered) as server:
        hydrate(manifest_rows(ids[:1]), tmp_path, options=options_for(server))
        with open(ledger, "a", encoding="utf-8") as f:
            f.write('{"video_id": "torn-by-the-kil')  # a kill mid-append
        hydrate(manifest_rows(ids), tmp_path, options=options_for(server))
    lines = ledger.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(json.loads(line)["status"] == "ok" for line in lines)
    assert final_status(tmp_path) == {vid: ("ok", False) for vid in ids}


def test_jsonl_ledger_repairs_its_tail_and_keeps_the_latest_row(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"k": "a", "n": 1}\n{"k": "b", "n": 1}')  # whole last row, its newline never written
    ledger = JsonlLedger(path)
    assert [r["n"] for r in ledger] == [1, 1]
    ledger.extend([{"k": "a", "n": 2}, {"k": "c", "n": 1}])
    assert path.read_text().count("\n") == 4  # the whole row was kept, not cut
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"k": "b", "n"')
    assert {k: r["n"] for k, r in ledger.latest(key=lambda r: r["k"]).items()} == {"a": 2, "b": 1, "c": 1}
    JsonlLedger(path).append({"k": "b", "n": 3})
    assert path.read_text().splitlines()[-1] == '{"k": "b", "n": 3}'
    keep_first = JsonlLedger(path).latest(key=lambda r: r["k"], replaces=lambda current, row: False)
    assert {k: r["n"] for k, r in keep_first.items()} == {"a": 1, "b": 1, "c": 1}


def test_cli_download_with_url_map(rendered, tmp_path, capsys):
    ids = video_ids(2)
    bench = _bench_folder(tmp_path / "bench", manifest_rows(ids))
    with VideoServer(rendered) as server:
        code = main(["hydrate", "download", str(bench), "--url-map", f"{SYNTHETIC_PREFIX}={server.base_url}/",
                     "--sleep", "0"])
    assert code == 0 and "2/2 videos available" in capsys.readouterr().out
    assert main(["hydrate", "report", str(bench), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["coverage"]["cam_tag"]["with_video"] == 4


def test_manifest_inputs_and_their_errors(tmp_path):
    assert rows_from_urls(["https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                           "https://www.tiktok.com/@someone/video/7300000000000000001"]) == [
        {"video_id": "dQw4w9WgXcQ", "platform": "youtube", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
        {"video_id": "7300000000000000001", "platform": "tiktok",
         "url": "https://www.tiktok.com/@someone/video/7300000000000000001"}]
    with pytest.raises(ValueError, match="example.com/clip"):
        rows_from_urls(["https://example.com/clip"])
    with pytest.raises(ValueError, match="SRC=DST"):
        parse_url_map(["no-equals-sign"])
    assert parse_url_map(["a=b=c"]) == (("a", "b=c"),)
    urls = tmp_path / "urls.txt"
    urls.write_text("# ids\nhttps://youtu.be/dQw4w9WgXcQ\n\nhttps://youtu.be/dQw4w9WgXcQ\n")
    assert [r["video_id"] for r in load_manifest(urls)] == ["dQw4w9WgXcQ"]  # duplicates collapse
    with pytest.raises(FileNotFoundError, match="videos.parquet"):
        load_manifest(tmp_path)
