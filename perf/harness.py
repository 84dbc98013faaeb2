"""Harness throughput: items/s of the whole `mimic eval run` vs the model alone on pre-decoded frames vs the decoder
alone, in one process on one bench. Goal: harness >= 0.9 x the slower of the two (decode overlaps the model).

Needs a hydrated bench folder, by default the one `make demo` leaves in runs/demo/eval/MIMIC-Bench; the model defaults
to a tiny random MIMIC-Chat built here.

    .venv/bin/python perf/harness.py --out runs/bench [--bench DIR] [--model mimic-chat:DIR] [--tasks cam_tag]
"""

import argparse
import tempfile
import time
from pathlib import Path

from mimic_bench.tasks import TASK_NAMES
from mimic_data.io import atomic_write_json
from mimic_eval.adapters.base import McqRequest
from mimic_eval.adapters.registry import build_adapter
from mimic_eval.harness.bench_io import group_by_video, load_task_rows, video_path
from mimic_eval.harness.decode import decode_one
from mimic_eval.harness.runner import RunOptions, run_eval


def tiny_mimic_chat(folder: Path) -> str:
    from mimic_train.tokenizer import build_tokenizer
    from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
    from modeling_mimic_chat.export import build_processor, save_for_hub
    from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration

    tokenizer = build_tokenizer(["Select the most appropriate title based on the video. A B C D"] * 20, vocab_size=400)
    config = MimicChatConfig.from_preset("tiny", tokenizer=tokenizer)
    model = MimicChatForConditionalGeneration(config).eval()
    return "mimic-chat:" + str(save_for_hub(model, build_processor(config, tokenizer), folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default="runs/demo/eval/MIMIC-Bench", help="a hydrated MIMIC-Bench folder")
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--model")
    parser.add_argument("--tasks", default=",".join(TASK_NAMES), help="default: all seven (fixed costs amortise as in real runs)")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    if not (Path(args.bench) / "videos.parquet").exists():
        parser.error(f"{args.bench} is not a MIMIC-Bench folder: run `make demo` first or pass --bench")
    tasks = args.tasks.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        spec = args.model or tiny_mimic_chat(Path(scratch) / "model")
        adapter = build_adapter(spec, scoring="likelihood", batch_size=args.batch_size)
        rows = load_task_rows(args.bench, tasks)
        groups = group_by_video(rows)
        policy = adapter.frame_policy()

        start = time.perf_counter()
        decoded = {vid: decode_one(vid, video_path(args.bench, qs[0]), policy, threads=1) for vid, qs in groups.items()}
        decode_s = time.perf_counter() - start
        usable = {vid: d.frames for vid, d in decoded.items() if d.frames is not None}
        n_items = sum(len(groups[vid]) for vid in usable)

        from mimic_bench.prompts import render_mcq

        start = time.perf_counter()
        for vid, frames in usable.items():
            requests = [McqRequest(render_mcq(row), frames) for row in groups[vid]]
            for i in range(0, len(requests), args.batch_size):
                adapter.answer(requests[i:i + args.batch_size])
        model_s = time.perf_counter() - start

        start = time.perf_counter()
        summary = run_eval(adapter, args.bench, Path(scratch) / "run", RunOptions(tasks=tasks, progress=False))
        harness_s = time.perf_counter() - start
    rates = {"decoder_items_per_s": n_items / decode_s, "model_items_per_s": n_items / model_s,
             "harness_items_per_s": summary["planned"] / harness_s}
    slower = min(rates["decoder_items_per_s"], rates["model_items_per_s"])
    report = {"bench": str(args.bench), "model": spec if args.model else "tiny random MIMIC-Chat", "tasks": tasks,
              "videos": len(groups), "items": summary["planned"], "decoded_ok": len(usable),
              **{k: round(v, 2) for k, v in rates.items()},
              "harness_vs_slower": round(rates["harness_items_per_s"] / slower, 3),
              "decode_ms_per_video": round(1000 * decode_s / max(1, len(groups)), 1),
              "telemetry": summary["telemetry"]}
    atomic_write_json(Path(args.out) / "harness.json", report)
    print(f"{'measure':<24}{'items/s':>10}")
    for key in ("decoder_items_per_s", "model_items_per_s", "harness_items_per_s"):
        print(f"{key:<24}{report[key]:>10}")
    print(f"harness / slower = {report['harness_vs_slower']} (goal >= 0.9); {report['items']} items, "
          f"{report['videos']} videos, decode {report['decode_ms_per_video']} ms/video")


if __name__ == "__main__":
    main()
