"""Copy measured results into README.md between `<!-- results:NAME -->` and `<!-- /results:NAME -->` markers.

Figures in the README are never typed: this script copies them from files that runs wrote (`make demo`, `make bench`).
Usage: .venv/bin/python scripts/readme_results.py [--demo runs/demo] [--bench runs/bench]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def _demo_timings(demo: Path) -> str:
    timings = json.loads((demo / "demo_timings.json").read_text())
    rows = [f"| {stage} | {seconds:.0f} |" for stage, seconds in timings.items()]
    return "\n".join(["| stage | seconds |", "|---|---|", *rows])


def _last_loss(losses: dict[int, float], after: int, upto: float) -> str:
    logged = [step for step in losses if after < step <= upto]
    return f"{losses[max(logged)]:.3f}" if logged else "–"


def _training(demo: Path) -> str:
    """The demo run's curriculum blocks with the loss logged at each block's end, then steps, wall time and memory."""
    run = demo / "train" / "run"
    summary = json.loads((run / "train_summary.json").read_text())
    training = json.loads((run / "train_config.json").read_text())["training"]
    meta = json.loads((demo / "train" / "sft" / "sft_meta.json").read_text())
    losses = {}
    for line in (run / "train_log.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "loss" in row:
            losses[row["step"]] = row["loss"]
    rows_per_step = (training["per_device_train_batch_size"] * training.get("gradient_accumulation_steps", 1)
                     * summary["world_size"])
    blocks = [(", ".join(b["tasks"]), f"{100 * b['slot_text_share']:.0f} %", b["rows"]) for b in meta["warmup"]]
    blocks.append(("every row (shuffled)", "0 %", meta["rows"] - sum(b["rows"] for b in meta["warmup"])))
    lines = ["| block | tasks | rows with the answer text in the video slot | steps | loss at its last logged step |",
             "|---|---|---|---|---|"]
    start = 0
    for index, (tasks, share, rows) in enumerate(blocks, start=1):
        if start >= summary["global_step"]:
            lines.append(f"| {index} | {tasks} | {share} | not reached | – |")
            continue
        end = min(start + rows // rows_per_step, summary["global_step"])
        lines.append(f"| {index} | {tasks} | {share} | {start + 1}–{end} | {_last_loss(losses, start, end)} |")
        start = end
    if start < summary["global_step"]:  # max_steps outlasted the data: the trainer read it again from its start
        end = summary["global_step"]
        lines.append(f"| 1 again | (the data from its start) | | {start + 1}–{end} | {_last_loss(losses, start, end)} |")
    lines.append("")
    lines.append(f"{summary['global_step']} steps of {rows_per_step} rows in {summary['wall_s']:.0f} s, peak RSS "
                 f"{summary['peak_rss_mb']:.0f} MB; loss {summary['first_logged_loss']:.3f} at the first logged step, "
                 f"{summary['last_logged_loss']:.3f} at the last.")
    return "\n".join(lines)


def _perf_tables(bench: Path) -> str:
    blocks = []
    for path in sorted(bench.glob("*.txt")):
        # transformers' Trainer prints its end-of-training log dict to stdout; it is not part of the table
        table = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("{'"))
        blocks.append(f"`{path.stem}` (from `{path.name}`):\n\n```\n{table.rstrip()}\n```")
    return "\n\n".join(blocks)


def sections(demo: Path, bench: Path) -> dict[str, str]:
    out = {}
    if (demo / "eval" / "leaderboard.md").exists():
        out["leaderboard"] = (demo / "eval" / "leaderboard.md").read_text().strip()
    if (demo / "demo_timings.json").exists():
        out["demo-timings"] = _demo_timings(demo)
    if (demo / "train" / "run" / "train_summary.json").exists():
        out["training"] = _training(demo)
    audit = demo / "bench" / "build" / "audit.json"
    if audit.exists():
        from mimic_bench.audit import audit_table

        out["audit"] = audit_table(json.loads(audit.read_text())).strip()
    if bench.exists() and any(bench.glob("*.txt")):
        out["perf"] = _perf_tables(bench)
    if (bench / "hydrate_scaling.txt").exists():  # also in "More than one machine"
        out["hydrate-scaling"] = (bench / "hydrate_scaling.txt").read_text().strip()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", type=Path, default=Path("runs/demo"))
    parser.add_argument("--bench", type=Path, default=Path("runs/bench"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args()
    text = args.readme.read_text()
    for name, body in sections(args.demo, args.bench).items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(\n<!-- /results:{name} -->)", re.S)
        if not pattern.search(text):
            print(f"no markers for {name!r} in {args.readme}; skipped")
            continue
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
        print(f"updated {name}")
    args.readme.write_text(text)


if __name__ == "__main__":
    main()
