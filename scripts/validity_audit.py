"""The validity check of issue #25 on a generated world: build the bench, audit it with a large audit build, and write
the two-sided heuristic figures and oracle ceilings per task to JSON (and print the audit table).

    .venv/bin/python scripts/validity_audit.py --world-size 4000 --bench-size 120 --audit-videos 2000 \
        --out runs/validity

Defaults are the demo's world (mimic_demo: 4,000 records, bench 120, seed 0) with a 2,000-video audit build; the
hashing embedder, as the demo uses. Done when no heuristic departs from chance by more than 3.5 SE on either build and
every oracle ceiling is >= 85 % (the exit status says so).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

CEILING_TARGET = 0.85


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-size", type=int, default=4000)
    parser.add_argument("--bench-size", type=int, default=120)
    parser.add_argument("--audit-videos", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/validity"))
    args = parser.parse_args()


    from mimic_bench.audit import audit, audit_table
    from mimic_bench.embed import get_embedder
    from mimic_bench.writer import build_bench
    from mimic_data.io import atomic_write_json
    from mimic_data.synth import synthesize_with_splits

    started = time.perf_counter()
    world = synthesize_with_splits(args.out / "world", n=args.world_size, seed=args.seed, bench_size=args.bench_size)
    build_bench(world, args.out / "bench", seed=args.seed, embedder="hashing")
    report = audit(args.out / "bench", world, get_embedder("hashing"), seed=args.seed, train_videos=args.audit_videos)
    print(audit_table(report))
    ceilings_ok = all(c >= CEILING_TARGET for t in report["tasks"].values()
                      for c in t["oracle_ceiling"].values() if c is not None)
    summary = {"world_size": args.world_size, "bench_size": args.bench_size, "audit_videos": args.audit_videos,
               "seed": args.seed, "departure_se": report["departure_se"], "no_heuristic_departs": report["blind_ok"],
               "ceilings_at_least": CEILING_TARGET, "ceilings_ok": ceilings_ok,
               "seconds": round(time.perf_counter() - started, 1),
               "tasks": {task: {"questions": {"bench": t["n_questions"], "audit_build": t["n_audit_build_questions"]},
                                "oracle_ceiling": t["oracle_ceiling"], "heuristics": t["heuristics"]}
                         for task, t in report["tasks"].items()}}
    atomic_write_json(args.out / "validity.json", summary)
    print(f"no heuristic departs by > {report['departure_se']} SE: {report['blind_ok']}; "
          f"every ceiling >= {100 * CEILING_TARGET:.0f} %: {ceilings_ok}; {summary['seconds']} s")
    return 0 if report["blind_ok"] and ceilings_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
