"""Hydration throughput vs workers (1, 2, 4) on each engine, against a loopback server with a fixed per-request latency.

Real downloads wait on a distant site, not on a core, so W workers should approach W times one worker's rate even on
a 2-core machine (goal: >= 0.8 x W). Every run hydrates the same manifest of tiny clips (one rendered clip served under
--videos ids) through the real yt-dlp path into a fresh folder; rate = videos / wall seconds of `hydrate(...)`, the
ratio is to the 1-worker rate of the same engine. The local engine starts fresh processes in every run (as every
`mimic hydrate download` does): a cold process spends its first video importing yt-dlp, its network stack and PyAV
(~1 s of CPU), which 4 processes on 2 cores feel in a short run. The Ray runtime (as many CPU slots as the most
workers) is started once and warmed up by one run of 2 videos per worker (its seconds are reported), as a cluster's
workers are long-lived. The largest shard is shown because the crc32 split caps the ratio at videos / largest shard.

    .venv/bin/python perf/hydrate_scaling.py --out runs/bench [--videos 48] [--latency 0.3] [--engines local ray]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from mimic_data.hydrate.download import HydrateOptions, hydrate
from mimic_data.hydrate.loopback import SYNTHETIC_PREFIX
from mimic_data.hydrate.server import VideoServer
from mimic_data.io import atomic_write_json, shard_of
from mimic_data.render import video_relpath, write_mp4


def serve_root(folder: Path, ids: list[str]) -> Path:
    first = folder / video_relpath("youtube", ids[0])
    frames = np.random.default_rng(0).integers(0, 255, (16, 32, 48, 3), dtype=np.uint8)
    write_mp4(frames, first, fps=8)
    for vid in ids[1:]:
        target = folder / video_relpath("youtube", vid)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(first, target)
    return folder


def timed_run(rows: list[dict], root: Path, server: VideoServer, workers: int, engine: str) -> tuple[float, float]:
    """Wall seconds of one hydration, and the server requests it made per video."""
    options = HydrateOptions(sleep=0.0, url_map=((SYNTHETIC_PREFIX, server.base_url + "/"),), retries=0)
    requests = sum(server.requests.values())
    start = time.perf_counter()
    summary = hydrate(rows, root, options=options, workers=workers, engine=engine)
    seconds = time.perf_counter() - start
    if summary["by_status"] != {"ok": len(rows)}:
        raise SystemExit(f"{engine} x{workers}: not every video was hydrated: {summary['by_status']}")
    return seconds, (sum(server.requests.values()) - requests) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--videos", type=int, default=48)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the server waits before each answer")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--engines", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    args = parser.parse_args()
    ids = [f"hs{i:09d}" for i in range(args.videos)]
    rows = [{"video_id": vid, "platform": "youtube", "url": f"{SYNTHETIC_PREFIX}youtube/{vid}.mp4"} for vid in ids]
    runs, notes, warm_up = [], [], {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        with VideoServer(serve_root(scratch / "served", ids), latency_s=args.latency) as server:
            for engine in args.engines:
                if engine == "ray":
                    try:
                        import ray
                    except ImportError:
                        notes.append("ray skipped: not installed (pip install '.[ray]')")
                        continue
                    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                    ray.init(num_cpus=max(args.workers), include_dashboard=False, log_to_driver=False)
                    warm_up[engine] = round(timed_run(rows[: 2 * max(args.workers)], scratch / "ray-warm-up", server,
                                                      max(args.workers), engine)[0], 2)
                base_rate = None
                for workers in args.workers:
                    seconds, requests = timed_run(rows, scratch / f"{engine}-{workers}", server, workers, engine)
                    rate = args.videos / seconds
                    base_rate = base_rate or rate
                    largest = max(Counter(shard_of(vid, workers) for vid in ids).values())
                    runs.append({"engine": engine, "workers": workers, "seconds": round(seconds, 2),
                                 "videos_per_s": round(rate, 3), "ratio": round(rate / base_rate, 2),
                                 "ratio_per_worker": round(rate / base_rate / workers, 2), "largest_shard": largest,
                                 "requests_per_video": requests})
                if engine == "ray":
                    ray.shutdown()
    report = {"videos": args.videos, "latency_s": args.latency, "warm_up_s": warm_up,
              "cpu_count": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
              "goal": "ratio >= 0.8 x workers", "runs": runs, "notes": notes}
    atomic_write_json(Path(args.out) / "hydrate_scaling.json", report)
    print(table(report))


def table(report: dict) -> str:
    lines = ["| engine | workers | seconds | videos/s | x 1 worker | per worker (goal >= 0.8) | largest shard |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['engine']} | {r['workers']} | {r['seconds']} | {r['videos_per_s']} | {r['ratio']} | "
              f"{r['ratio_per_worker']} | {r['largest_shard']} of {report['videos']} |" for r in report["runs"]]
    lines.append(f"\n{report['videos']} videos, {report['latency_s']} s latency per request "
                 f"({report['runs'][0]['requests_per_video']:g} requests per video), {report['cpu_count']} CPUs, load "
                 f"{report['load_avg_1m_at_end']} at the end; Ray warm-up {report['warm_up_s'].get('ray', '-')} s. "
                 f"{' '.join(report['notes'])}".rstrip())
    return "\n".join(lines)


if __name__ == "__main__":
    main()
