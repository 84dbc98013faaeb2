"""MIMIC-Data at full scale: time and peak memory of synth -> select -> release for N synthetic records.

Writes runs/bench/data_world.json and prints a table. Each stage runs in a fresh process so its peak RSS is its own.

    .venv/bin/python perf/data_world.py --out runs/bench --n 150000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from mimic_data.io import atomic_write_json

_STAGE = """
import json, resource, sys, time
from mimic_cli import main
start = time.perf_counter()
main(sys.argv[1:])
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_stage(argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _STAGE, *argv], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--n", type=int, default=150_000)
    parser.add_argument("--bench-size", type=int, default=4000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mimic-perf-data-") as tmp:
        world, release = Path(tmp) / "world", Path(tmp) / "release"
        stages = {
            "synth": run_stage(["data", "synth", "--n", str(args.n), "--out", str(world)]),
            "select": run_stage(["data", "select", "--data", str(world), "--bench-size", str(args.bench_size)]),
            "release": run_stage(["data", "release", "--data", str(world), "--out", str(release)]),
        }
        sizes_mb = {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(release.glob("*.parquet"))}
    result = {"n_records": args.n, "bench_size": args.bench_size, "stages": stages, "release_files_mb": sizes_mb,
              "total_seconds": round(sum(s["seconds"] for s in stages.values()), 1)}
    path = atomic_write_json(args.out / "data_world.json", result)
    print(f"{'stage':<8} {'seconds':>8} {'peak RSS MB':>12}   (N = {args.n:,})")
    for name, s in stages.items():
        print(f"{name:<8} {s['seconds']:>8.1f} {s['peak_rss_mb']:>12.0f}")
    print(f"{'total':<8} {result['total_seconds']:>8.1f}   release files (MB): {sizes_mb}  -> {path}")


if __name__ == "__main__":
    main()
