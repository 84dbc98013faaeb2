"""Build time and peak memory of MIMIC-Bench at full scale (150K records, 4,000 bench videos).

Writes runs/bench/bench_build.json and prints a table. Each build runs in a fresh child process so its peak RSS is
its own. Usage: python perf/bench_build.py [--n 150000] [--bench-size 4000] [--embedders hashing minilm]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path


def _build(data_dir: str, out_dir: str, embedder: str, queue) -> None:
    from mimic_bench.writer import build_bench

    started = time.perf_counter()
    stats = build_bench(data_dir, out_dir, seed=0, embedder=embedder)
    queue.put({"seconds": time.perf_counter() - started,
               "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "questions": {t: s["questions"] for t, s in stats["tasks"].items()}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=150_000)
    parser.add_argument("--bench-size", type=int, default=4000)
    parser.add_argument("--embedders", nargs="+", default=["hashing", "minilm"])
    parser.add_argument("--out", default="runs/bench")
    args = parser.parse_args()


    from mimic_cards import markdown_table
    from mimic_data.io import atomic_write_json
    from mimic_data.synth import synthesize_with_splits

    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    started = time.perf_counter()
    synthesize_with_splits(work / "world", n=args.n, seed=0, bench_size=args.bench_size)
    prepare_s = time.perf_counter() - started
    results = {"records": args.n, "bench_size": args.bench_size, "prepare_world_seconds": round(prepare_s, 1),
               "cpu_count": mp.cpu_count(), "builds": {}}
    ctx = mp.get_context("spawn")
    for embedder in args.embedders:
        queue = ctx.Queue()
        proc = ctx.Process(target=_build, args=(str(work / "world"), str(work / f"bench-{embedder}"), embedder, queue))
        proc.start()
        measured = queue.get()
        proc.join()
        results["builds"][embedder] = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in measured.items()}
    atomic_write_json(Path(args.out) / "bench_build.json", results)
    print(markdown_table(["embedder", "records", "bench videos", "build s", "peak RSS MiB", "questions"],
                         [[e, args.n, args.bench_size, r["seconds"], r["peak_rss_mib"], sum(r["questions"].values())]
                          for e, r in results["builds"].items()]))


if __name__ == "__main__":
    main()
