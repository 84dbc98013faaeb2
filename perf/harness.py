"""Harness throughput: items/s of the whole `mimic eval run` vs the model alone on pre-decoded frames vs the decoder
alone, in one process on one bench. Goal: harness >= 0.95 x the slower of the two (decoding and the log's fsyncs hide
behind the model); `loop_vs_slower` is the same ratio for the decode -> model -> log loop alone, without the fixed
costs of a run (planning, manifest, merge, scoring) that a small bench does not amortise. Measured for two adapters: mimic-chat (a tiny random MIMIC-Chat, or --model) and hf: (a tiny
random Qwen2.5-VL, a real transformers architecture with its processor and frame times; or --hf-model).

Needs a hydrated bench folder, by default the one `make demo` leaves in runs/demo/eval/MIMIC-Bench.

    .venv/bin/python perf/harness.py --out runs/bench [--bench DIR] [--model mimic-chat:DIR] [--hf-model hf:DIR]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from mimic_bench.prompts import render_mcq
from mimic_bench.tasks import TASK_NAMES
from mimic_data.io import atomic_write_json
from mimic_eval.adapters.base import McqRequest
from mimic_eval.adapters.registry import build_adapter
from mimic_eval.harness.bench_io import group_by_video, load_task_rows, video_path
from mimic_eval.harness.decode import decode_one
from mimic_eval.harness.runner import RunOptions, run_eval

GOAL = 0.95


def tiny_mimic_chat(folder: Path) -> str:
    from mimic_train.tokenizer import build_tokenizer
    from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
    from modeling_mimic_chat.export import build_processor, save_for_hub
    from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration

    tokenizer = build_tokenizer(["Select the most appropriate title based on the video. A B C D"] * 20, vocab_size=400)
    config = MimicChatConfig.from_preset("tiny", tokenizer=tokenizer)
    model = MimicChatForConditionalGeneration(config).eval()
    return "mimic-chat:" + str(save_for_hub(model, build_processor(config, tokenizer), folder))


def tiny_hf_vlm(folder: Path) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tiny builders live with the tests
    from tiny_vlms import BUILDERS

    return "hf:" + str(BUILDERS["qwen2_5_vl"](folder))


def measure(spec: str, bench: str, tasks: list[str], batch_size: int, scratch: Path, repeats: int) -> dict:
    """Decoder alone, model alone (frames decoded beforehand) and the harness end to end on the same items, the three
    interleaved `repeats` times; each keeps its fastest run (other users of a shared machine only slow runs down, and
    interleaving spreads their load over the three alike)."""
    adapter = build_adapter(spec, scoring="likelihood", batch_size=batch_size)
    groups = group_by_video(load_task_rows(bench, tasks))
    policy = adapter.frame_policy()
    decoded = {}

    def decode_all(_):
        decoded.update({vid: decode_one(vid, video_path(bench, qs[0]), policy, threads=1) for vid, qs in groups.items()})

    def model_alone(_):
        for vid, frames in usable.items():
            requests = [McqRequest(render_mcq(row), frames) for row in groups[vid]]
            for i in range(0, len(requests), batch_size):
                adapter.answer(requests[i:i + batch_size])

    def harness(attempt):  # a fresh run folder each time: nothing is skipped as settled
        return run_eval(adapter, bench, scratch / f"run-{adapter.kind}-{attempt}", RunOptions(tasks=tasks,
                                                                                              progress=False))

    decode_all(-1)
    usable = {vid: d.frames for vid, d in decoded.items() if d.frames is not None}
    n_items = sum(len(groups[vid]) for vid in usable)
    times: dict[str, list[tuple[float, dict | None]]] = {"decode": [], "model": [], "harness": []}
    for attempt in range(repeats):
        for name, job in (("decode", decode_all), ("model", model_alone), ("harness", harness)):
            start = time.perf_counter()
            result = job(attempt)
            times[name].append((time.perf_counter() - start, result))
    (decode_s, _), (model_s, _), (harness_s, summary) = (min(times[name], key=lambda run: run[0])
                                                         for name in ("decode", "model", "harness"))
    rates = {"decoder_items_per_s": n_items / decode_s, "model_items_per_s": n_items / model_s,
             "harness_items_per_s": summary["planned"] / harness_s,
             # the decode -> model -> log loop alone, without planning, the manifest, merging and scoring
             "loop_items_per_s": summary["planned"] / summary["telemetry"]["wall_s"],
             # no overlap at all: what the harness would reach if decoding and the model took turns
             "serial_items_per_s": n_items / (decode_s + model_s)}
    slower = min(rates["decoder_items_per_s"], rates["model_items_per_s"])
    return {"model": spec, "videos": len(groups), "items": summary["planned"], "decoded_ok": len(usable),
            **{k: round(v, 2) for k, v in rates.items()},
            "harness_vs_slower": round(rates["harness_items_per_s"] / slower, 3),
            "loop_vs_slower": round(rates["loop_items_per_s"] / slower, 3),
            "harness_vs_serial": round(rates["harness_items_per_s"] / rates["serial_items_per_s"], 3),
            "decode_ms_per_video": round(1000 * decode_s / max(1, len(groups)), 1), "telemetry": summary["telemetry"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default="runs/demo/eval/MIMIC-Bench", help="a hydrated MIMIC-Bench folder")
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--model", help="the mimic-chat (or any) SPEC to measure first (default: tiny random)")
    parser.add_argument("--hf-model", help="the hf: SPEC to measure second (default: tiny random Qwen2.5-VL)")
    parser.add_argument("--tasks", default=",".join(TASK_NAMES), help="default: all seven (fixed costs amortise as in real runs)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each measure (its best counts)")
    args = parser.parse_args()
    if not (Path(args.bench) / "videos.parquet").exists():
        parser.error(f"{args.bench} is not a MIMIC-Bench folder: run `make demo` first or pass --bench")
    tasks = args.tasks.split(",")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        specs = {"mimic_chat": args.model or tiny_mimic_chat(scratch / "mimic-chat"),
                 "hf": args.hf_model or tiny_hf_vlm(scratch / "qwen2_5_vl")}
        adapters = {name: measure(spec, args.bench, tasks, args.batch_size, scratch, args.repeats)
                    for name, spec in specs.items()}
    for name, given in (("mimic_chat", args.model), ("hf", args.hf_model)):
        adapters[name]["model"] = given or {"mimic_chat": "tiny random MIMIC-Chat", "hf": "tiny random Qwen2.5-VL"}[name]
    # decoding overlaps the model only on a spare core: read the ratios against the machine's cores and load
    report = {"bench": str(args.bench), "tasks": tasks, "batch_size": args.batch_size, "repeats": args.repeats,
              "goal": GOAL, "cpus": os.cpu_count(), "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
              **adapters}
    atomic_write_json(Path(args.out) / "harness.json", report)
    print(f"{'adapter':<12}{'decoder':>10}{'model':>10}{'harness':>10}{'harness/slower':>16}{'loop/slower':>13}"
          f"{'harness/serial':>16}   (items/s)")
    for name, row in adapters.items():
        print(f"{name:<12}{row['decoder_items_per_s']:>10}{row['model_items_per_s']:>10}{row['harness_items_per_s']:>10}"
              f"{row['harness_vs_slower']:>16}{row['loop_vs_slower']:>13}{row['harness_vs_serial']:>16}")
    first = next(iter(adapters.values()))
    print(f"goal: harness >= {GOAL} x the slower side; {first['items']} items, {first['videos']} videos, "
          f"decode {first['decode_ms_per_video']} ms/video ({report['bench']}); {report['cpus']} CPUs, "
          f"load {report['load_avg_1m'][0]} -> {report['load_avg_1m'][1]}")


if __name__ == "__main__":
    main()
