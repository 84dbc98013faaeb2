"""Crawl and hydration on Ray (a local runtime: 2 CPUs, no dashboard) give what the local engine gives: the same video
files, ledgers and available-ids hash, the same records.parquet bytes; a Ray worker killed mid-download is re-run by
Ray and its ledger ends with no lost or doubled row; each worker goes through its own proxy.

Hydration goes through the real yt-dlp path against loopback servers (tests/test_hydrate.py's rendered clips); the crawl
uses tests/fixture_ytdlp.py (info-dict fixtures, no network)."""

import datetime as dt
import hashlib
import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pyarrow as pa
import pytest
from fixture_ytdlp import calls, fixture_factory
from kill_helpers import complete_lines, ledger_damage
from test_hydrate import manifest_rows, options_for, rendered, video_ids  # noqa: F401  (rendered: a fixture)

from mimic_cli import main
from mimic_data.crawl import LEDGER_NAME, PARQUET_NAME, crawl, latest_attempts
from mimic_data.engines import ShardFailed, run_shards, worker_settings
from mimic_data.hydrate.download import HydrateOptions, hydrate, latest_rows, ledger_path, read_ledgers
from mimic_data.hydrate.loopback import SYNTHETIC_PREFIX
from mimic_data.hydrate.report import ids_sha256, report
from mimic_data.hydrate.server import VideoServer
from mimic_data.io import read_jsonl, shard_of, write_parquet

ray = pytest.importorskip("ray")
TESTS = str(Path(__file__).parent)


@pytest.fixture(scope="module")
def ray_runtime():
    # the crawl's fake YoutubeDL lives in tests/: Ray workers must import it too
    saved = {key: os.environ.get(key) for key in ("PYTHONPATH", "RAY_USAGE_STATS_ENABLED")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS, saved["PYTHONPATH"]]))
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # offline
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def files_and_hashes(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "videos").rglob("*.mp4"))}


def ids_by_ledger(root):
    return {path.name: sorted(row["video_id"] for row in read_jsonl(path))
            for path in sorted((root / "hydration").glob("ledger-*.jsonl"))}


def test_ray_hydration_equals_the_local_engine_and_each_worker_uses_its_proxy(ray_runtime, rendered, tmp_path):  # noqa: F811
    rows = manifest_rows(video_ids())
    ids = [row["video_id"] for row in rows]
    manifest = write_parquet(tmp_path / "manifest.parquet", pa.Table.from_pylist(rows))
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    with VideoServer(rendered) as origin, VideoServer(rendered) as proxy0, VideoServer(rendered) as proxy1:
        hydrate(rows, local, options=options_for(origin), workers=2)
        before = sum(origin.requests.values())
        code = main(["hydrate", "download", str(on_ray), "--source", str(manifest), "--engine", "ray",
                     "--workers", "2", "--url-map", f"{SYNTHETIC_PREFIX}={origin.base_url}/", "--sleep", "0",
                     "--proxy", proxy0.base_url, "--proxy", proxy1.base_url, "--no-materialize"])
        assert code == 0
        assert sum(origin.requests.values()) == before  # every request of the Ray run went through a proxy
        for k, proxy in enumerate((proxy0, proxy1)):
            assert set(proxy.proxied) == {vid for vid in ids if shard_of(vid, 2) == k}
            assert proxy.proxied == proxy.requests
    assert files_and_hashes(on_ray) == files_and_hashes(local) == files_and_hashes(rendered)  # the served clips
    assert ids_by_ledger(on_ray) == ids_by_ledger(local) and len(ids_by_ledger(local)) == 2
    assert report(on_ray)["available_ids_sha256"] == report(local)["available_ids_sha256"] == ids_sha256(ids)


def _kill_the_worker_holding(server, video_id, ledger, killed, timeout_s=60.0):
    """Wait until video_id's request is held by the server, snapshot the ledger, SIGKILL the process that made it."""
    deadline = time.monotonic() + timeout_s
    while video_id not in server.held and time.monotonic() < deadline:
        time.sleep(0.05)
    address = server.held[video_id]
    pid = next(c.pid for c in psutil.net_connections(kind="tcp") if tuple(c.laddr) == address and c.pid)
    killed.update(pid=pid, snapshot=complete_lines(ledger), name=psutil.Process(pid).name())
    os.kill(pid, signal.SIGKILL)


def test_a_ray_worker_killed_mid_download_is_rerun_and_its_ledger_has_no_lost_or_doubled_row(ray_runtime, rendered,  # noqa: F811
                                                                                                  tmp_path):
    rows = manifest_rows(video_ids())
    ids = [row["video_id"] for row in rows]
    shard0 = [vid for vid in ids if shard_of(vid, 2) == 0]
    victim = shard0[len(shard0) // 2]  # rows before it are in its ledger when the kill lands
    root, clean = tmp_path / "killed", tmp_path / "clean"
    ledger = ledger_path(root, (0, 2))
    killed, errors = {}, []

    def killer():
        try:
            _kill_the_worker_holding(server, victim, ledger, killed)
        except Exception as exc:  # reported by the test's thread
            errors.append(exc)

    with VideoServer(rendered, faults={victim: "hold-once"}, slow_s=90) as server:
        thread = threading.Thread(target=killer)
        thread.start()
        try:
            summary = hydrate(rows, root, options=options_for(server, socket_timeout=90.0), workers=2, engine="ray")
        finally:
            server.release.set()
            thread.join()
        assert not errors, errors
        assert killed["pid"] != os.getpid() and "hydrate" in killed["name"]  # a Ray worker, not the driver
        assert not psutil.pid_exists(killed["pid"]) or psutil.Process(killed["pid"]).status() == psutil.STATUS_ZOMBIE
        assert server.requests[victim] >= 2  # held by the killed worker, then fetched by the re-run task
        hydrate(rows, clean, options=options_for(server), workers=2)
    assert 1 <= len(killed["snapshot"]) < len(shard0)
    assert ledger_damage(ledger, [killed["snapshot"]]) == {"rows": len(shard0), "glued": 0, "lost": 0}
    assert Counter(row["video_id"] for row in read_ledgers(root)) == Counter(ids)  # each video once: none redone
    assert {row["status"] for row in latest_rows(root).values()} == {"ok"}
    assert summary["attempts"] == len(ids) and summary["by_status"] == {"ok": len(ids)} and summary["pending"] == 0
    assert files_and_hashes(root) == files_and_hashes(clean)
    assert report(root)["available_ids_sha256"] == report(clean)["available_ids_sha256"] == ids_sha256(ids)


YT, TT, YT_SPARSE, BROKEN, PRIVATE, THROTTLED = (
    "https://youtu.be/Yt0Fixture1", "https://www.tiktok.com/@fixture.dancer/video/7301234567890123456",
    "https://www.youtube.com/watch?v=Yt0Fixture2", "https://www.youtube.com/watch?v=Yt0Fixture3",
    "https://www.youtube.com/watch?v=private0001", "https://www.youtube.com/watch?v=Yt0Fixture2&t=1")
CRAWL_SCRIPT = {YT: {"fixture": "youtube_full"}, TT: {"fixture": "tiktok_emoji"},
                YT_SPARSE: {"fixture": "youtube_missing_fields"}, BROKEN: {"fixture": "malformed_no_duration"},
                PRIVATE: {"error": "Private video. Sign in if you've been granted access to this video"},
                THROTTLED: {"error": "HTTP Error 429: Too Many Requests"}}


def test_ray_crawl_writes_the_same_records_as_the_local_engine_with_a_proxy_per_worker(ray_runtime, tmp_path):
    runs = {"one process": {"workers": 1}, "two processes": {"workers": 2},
            "ray": {"workers": 2, "engine": "ray", "proxies": ["http://proxy-a:3128", "http://proxy-b:3128"]}}
    summaries = {}
    for name, kwargs in runs.items():
        out = tmp_path / name
        summaries[name] = crawl(list(CRAWL_SCRIPT), out, snapshot_date=dt.date(2025, 3, 1), sleep=0,
                                ydl_factory=fixture_factory(CRAWL_SCRIPT, out), **kwargs)
    parquet = {name: (tmp_path / name / PARQUET_NAME).read_bytes() for name in runs}
    assert parquet["ray"] == parquet["two processes"] == parquet["one process"]
    statuses = {name: {url: row["status"] for url, row in latest_attempts(tmp_path / name).items()} for name in runs}
    assert statuses["ray"] == statuses["one process"] and statuses["ray"][PRIVATE] == "private"
    assert summaries["ray"]["by_status"] == {"invalid_record": 1, "ok": 3, "private": 1, "rate_limited": 1}
    assert summaries["ray"]["records"] == 3 and summaries["ray"]["failed"] == 3
    assert sorted(p.name for p in (tmp_path / "ray").glob("ledger*.jsonl")) == [
        "ledger-000-of-002.jsonl", "ledger-001-of-002.jsonl"]
    assert (tmp_path / "one process" / LEDGER_NAME).exists()
    proxies = runs["ray"]["proxies"]
    assert sorted((c["url"], c["proxy"]) for c in calls(tmp_path / "ray")) == sorted(
        (url, proxies[shard_of(url, 2)]) for url in CRAWL_SCRIPT)
    again = crawl(list(CRAWL_SCRIPT), tmp_path / "ray", snapshot_date=dt.date(2025, 3, 1), sleep=0, workers=2,
                  engine="ray", ydl_factory=fixture_factory(CRAWL_SCRIPT, tmp_path / "ray"))
    assert (again["attempted"], again["skipped_settled"]) == (1, 5)  # resume: only the transient failure again
    assert latest_attempts(tmp_path / "ray")[THROTTLED]["attempt"] == 2


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_failing_shard_is_named_after_every_shard_ran(ray_runtime, engine):
    with pytest.raises(ShardFailed, match=r"^1 of 3 shards failed: b: JSONDecodeError: Expecting value: line 1"):
        run_shards(json.loads, [("1",), ("x",), ("3",)], ["a", "b", "c"], engine=engine)
    assert run_shards(json.loads, [("1",), ("[2]",)], ["a", "b"], engine=engine) == [1, [2]]


def test_per_worker_settings_are_one_for_all_or_one_each(tmp_path, capsys):
    base = HydrateOptions(sleep=5.0)
    assert [(o.proxy, o.sleep) for o in worker_settings(base, 3, proxy=["p"], sleep=None)] == [("p", 5.0)] * 3
    assert [o.sleep for o in worker_settings(base, 2, sleep=[1.0, 2.0])] == [1.0, 2.0]
    with pytest.raises(ValueError, match="--proxy given 2 times for 3 workers"):
        worker_settings(base, 3, proxy=["a", "b"])
    root = tmp_path / "bench"
    write_parquet(root / "videos.parquet", pa.Table.from_pylist(manifest_rows(video_ids(2))))
    with pytest.raises(SystemExit, match="^mimic hydrate download: --proxy given 2 times for 3 workers"):
        main(["hydrate", "download", str(root), "--workers", "3", "--proxy", "http://a", "--proxy", "http://b"])
    assert not (root / "hydration").exists() and not (root / "videos").exists()
