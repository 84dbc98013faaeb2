"""`make bench`: run every perf/<part>.py (each writes <out>/<part>.json and prints its table), one after another.

Every script takes `--out DIR`. Helpers that are not benchmarks (corpus.py, this file, names starting with "_") are
skipped. A failing script is reported and the others still run; the exit status says whether all passed.

    .venv/bin/python perf/run.py --out runs/bench [--only sampler data_world]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HELPERS = {"run", "corpus"}


def scripts(folder: Path, only: list[str] | None) -> list[Path]:
    found = [p for p in sorted(folder.glob("*.py")) if p.stem not in HELPERS and not p.stem.startswith("_")]
    return [p for p in found if not only or p.stem in only]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--only", nargs="+", help="run only these parts (script names without .py)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for script in scripts(Path(__file__).parent, args.only):
        print(f"\n== {script.stem}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script), "--out", str(args.out)], stdout=subprocess.PIPE, text=True)
        print(proc.stdout, end="", flush=True)
        (args.out / f"{script.stem}.txt").write_text(proc.stdout)  # the printed table, for the README
        code = proc.returncode
        print(f"== {script.stem}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.perf_counter() - start:.0f} s",
              flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
