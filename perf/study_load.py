"""Load test of the study app: 50 SIMULATED annotators over loopback; writes runs/bench/study_load.json."""

import argparse
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from mimic_bench.writer import default_study_pool_dir
from mimic_data.io import atomic_write_json
from mimic_eval.study.loadtest import load_test
from mimic_eval.study.sheet import build_sheet
from mimic_eval.study.simulate import SIMULATED_MODEL_LATENTS, make_fixture_bench, simulate_generations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--videos", type=int, default=40)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bench = make_fixture_bench(tmp / "bench", n_videos=args.videos, seed=0)
        rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
        gens = simulate_generations(rows, SIMULATED_MODEL_LATENTS, tmp / "gens.jsonl", seed=0)
        build_sheet(bench, [gens], tmp / "study", pool_dir=default_study_pool_dir(bench), seed=0)
        report = load_test(str(tmp / "study"), str(tmp / "j.db"), n_annotators=args.annotators, seed=0,
                           latents=SIMULATED_MODEL_LATENTS)
    report["n_videos"] = args.videos
    atomic_write_json(Path(args.out) / "study_load.json", report)
    print("| annotators | judgments stored | exactly once | retries absorbed | judgments/s | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {report['n_annotators']} | {report['judgments_in_db']} | {report['db_matches_accepted']} | "
          f"{report['duplicate']} | {report['judgments_per_s']:.0f} | {report['latency_p50_ms']:.0f} | "
          f"{report['latency_p95_ms']:.0f} |")
    return 0 if report["db_matches_accepted"] and report["db_rows_unique"] else 1


if __name__ == "__main__":
    sys.exit(main())
