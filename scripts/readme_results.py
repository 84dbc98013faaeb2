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


def _loss_span(losses: list) -> str:
    return f"{losses[0][1]:.3f} → {losses[-1][1]:.3f}" if losses else "–"


def _training(demo: Path) -> str:
    """The demo model's stages: stand-in LM and tower pretraining (`standins.json`), then the LoRA SFT (`run/`)."""
    train = demo / "train"
    summary = json.loads((train / "run" / "train_summary.json").read_text())
    training = json.loads((train / "run" / "train_config.json").read_text())["training"]
    sft_losses = [(row["step"], row["loss"]) for row in map(json.loads, (train / "run" / "train_log.jsonl")
                                                             .read_text().splitlines()) if "loss" in row]
    lines = ["| stage | steps × rows | loss (first → last logged) | wall s | trainable / frozen parameters | "
             "what it learnt |", "|---|---|---|---|---|---|"]
    standins = train / "standins.json"
    if standins.exists():
        parts = json.loads(standins.read_text())
        lm, tower, settings = parts["language_model"], parts["vision_tower"], parts["settings"]
        curve = lm["heldout_letter_accuracy"]
        gate, last = curve[str(lm["pointing_steps"])], curve[str(lm["steps"])]
        lines.append(
            f"| stand-in LM pretraining (text, caption in the slot) | {lm['pointing_steps']} CAM-Cat + "
            f"{lm['reading_steps']} every format × {settings['lm_batch_size']} | {_loss_span(lm['losses'])} | "
            f"{lm['wall_s']:.0f} | {lm['parameters']:,} / 0 | held-out letter accuracy, CAM-Cat "
            f"{100 * gate['cam_cat']:.1f} % at the gate, then " + ", ".join(
                f"{task} {100 * value:.1f}" for task, value in last.items()) + " % |")
        lines.append(
            f"| stand-in video tower pretraining (latent facts) | {tower['steps']} × {settings['tower_batch_size']} | "
            f"{_loss_span(tower['losses'])} | {tower['wall_s']:.0f} | {tower['parameters']:,} / 0 | training-video "
            "accuracy " + ", ".join(f"{fact} {100 * value:.1f}" for fact, value in tower["train_accuracy"].items())
            + " % |")
    parameters = summary["parameters"]
    kind = "LoRA SFT (TRL)" if summary["lora"] else "full SFT (TRL)"
    rows_per_step = training["per_device_train_batch_size"] * training.get("gradient_accumulation_steps", 1)
    lines.append(f"| MIMIC-Chat {kind}, video | {summary['global_step']} × {rows_per_step * summary['world_size']} | "
                 f"{_loss_span(sft_losses)} | {summary['wall_s']:.0f} | {parameters['trainable']:,} / "
                 f"{parameters['frozen']:,} | the leaderboard above (peak RSS {summary['peak_rss_mb']:.0f} MB) |")
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
