"""`mimic eval …`: run a model on MIMIC-Bench, write comments for the study, render the leaderboard, export the
`evaluate` metric folder and an lmms-eval task folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .adapters.registry import __doc__ as SPEC_HELP
from .lmms_export import DEFAULT_DATASET_PATH

CONDITION_HELP = "comma list of video, blind, single_frame, blank"


def _adapter(args):
    from .adapters.base import GenerationSettings
    from .adapters.placement import parse_max_memory
    from .adapters.registry import build_adapter

    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, do_sample=args.temperature > 0,
                                  temperature=args.temperature or 1.0, top_p=args.top_p, seed=args.seed)
    quantization = "4bit" if args.load_in_4bit else "8bit" if args.load_in_8bit else None
    placement = {"device_map": args.device_map, "max_memory": parse_max_memory(args.max_memory),
                 "quantization": quantization}
    api = {"video_form": args.video_form, "media_dir": args.media_dir, "timeout_s": args.request_timeout,
           "max_retries": args.max_retries}
    return build_adapter(args.model, name=args.name, batch_size=args.batch_size, scoring=args.scoring,
                         num_frames=args.num_frames, settings=settings, trust_remote_code=args.trust_remote_code,
                         dtype=args.dtype, attn_implementation=args.attn_implementation, placement=placement,
                         api=api)


def _run(args) -> int:
    from .harness.runner import RunOptions, run_eval
    from .harness.sharding import rank_and_world

    rank, world = rank_and_world()
    options = RunOptions(tasks=args.tasks.split(",") if args.tasks else RunOptions().tasks,
                         conditions=args.conditions.split(","), circular=args.circular, mode=args.mode,
                         seed=args.seed, decode_workers=args.decode_workers, decode_threads=args.decode_threads,
                         rank=rank, world_size=world)
    summary = run_eval(_adapter(args), args.bench, args.out, options)
    summary.pop("results", None)
    print(json.dumps(summary, indent=2))
    return _errored_exit(args.out, args.allow_errors)


def _errored_exit(run_dir: str, allow_errors: bool) -> int:
    """Non-zero when samples of the run folder still stand as errors (a model call raised): their questions are left
    out of results.json, so the scores would silently cover less than the plan."""
    from .harness.samples_log import latest_rows

    errored = [r for r in latest_rows(run_dir).values() if r.get("status") == "error"]
    if not errored:
        return 0
    message = (f"{len(errored)} sample(s) errored in {run_dir} (first: {errored[0].get('error', '?')[:200]}); "
               "rerun the same command to retry them")
    if allow_errors:
        print(f"warning: {message}; scored without them (--allow-errors)", file=sys.stderr)
        return 0
    print(f"error: {message}, or pass --allow-errors to accept the partial run", file=sys.stderr)
    return 1


def _generate(args) -> int:
    from .adapters.base import GenerationSettings
    from .harness.generate import generate_comments

    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, do_sample=args.temperature > 0,
                                  temperature=args.temperature or 1.0, top_p=args.top_p, seed=args.seed)
    summary = generate_comments(_adapter(args), args.bench, args.out, settings)
    print(json.dumps(summary, indent=2))
    return 0


def _leaderboard(args) -> int:
    from .leaderboard import write_leaderboard

    stray = [run for run in args.runs if not Path(run).is_dir()]
    if stray:  # e.g. `runs/eval/*` also matches logs and the leaderboard's own files
        print(f"warning: ignoring {len(stray)} path(s) that are not run folders: {', '.join(stray)}", file=sys.stderr)
    runs = [run for run in args.runs if Path(run).is_dir()]
    if not runs:
        raise FileNotFoundError(f"no run folder among {', '.join(args.runs)}")
    paths = write_leaderboard(runs, args.out)
    print("\n".join(str(p) for p in paths))
    return 0


def _export_lmms(args) -> int:
    from .lmms_export import export_lmms_task

    print(export_lmms_task(args.out, dataset_path=args.dataset_path))
    return 0


def _export_metric(args) -> int:
    from .standalone import export_metric

    print(export_metric(args.out))
    return 0


def _model_args(parser: argparse.ArgumentParser, max_new_tokens: int) -> None:
    parser.add_argument("--model", required=True, help="model SPEC: " + " ".join(SPEC_HELP.split()))
    parser.add_argument("--bench", required=True, help="MIMIC-Bench folder (mimic bench release, hydrated)")
    parser.add_argument("--name", help="display name (default from the SPEC)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="samples per model call; for openai: models, the requests in flight at once")
    parser.add_argument("--scoring", choices=["generate", "likelihood"], default="generate",
                        help="likelihood: argmax over the A-D next-token logits (open models, no parsing)")
    parser.add_argument("--num-frames", type=int, default=8, help="frames for hf/openai adapters")
    parser.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"],
                        help="weights dtype for hf/mimic-chat models (default: the checkpoint's on CUDA, float32 on CPU)")
    parser.add_argument("--attn-implementation", help="attention kernel for hf/mimic-chat models, e.g. sdpa")
    place = parser.add_argument_group("hf/mimic-chat placement (default: the whole model on this process's device, "
                                      "cuda:LOCAL_RANK under accelerate launch)")
    place.add_argument("--device-map", choices=["auto", "balanced", "balanced_low_0", "sequential"],
                       help="shard the model's layers over this process's GPUs (all of them, or its equal share "
                            "under accelerate launch)")
    place.add_argument("--max-memory", help="per-device budget for --device-map, e.g. 0=70GiB,1=70GiB,cpu=200GiB")
    bits = place.add_mutually_exclusive_group()
    bits.add_argument("--load-in-4bit", action="store_true", help="NF4 weights through bitsandbytes (installed apart)")
    bits.add_argument("--load-in-8bit", action="store_true", help="int8 weights through bitsandbytes (installed apart)")
    api = parser.add_argument_group("openai: servers (vLLM, SGLang, hosted APIs)")
    api.add_argument("--video-form", choices=["frames", "video_url"],
                     help="frames: one image_url per sampled frame (default); video_url: one mp4 of the sampled "
                          "frames, for servers of video models")
    api.add_argument("--media-dir", help="video_url: write the mp4s here and send file:// URLs (start the server "
                                         "with --allowed-local-media-path on this folder); default: inline data URLs")
    api.add_argument("--request-timeout", type=float, help="seconds per request attempt (default 120)")
    api.add_argument("--max-retries", type=int, help="retries on timeouts, 429 and 5xx, with backoff (default 4)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="evaluate models on MIMIC-Bench, leaderboard, comment generation")
    sub = parser.add_subparsers(dest="eval_command", required=True)

    run = sub.add_parser("run", help="answer the MCQ tasks; resumable per-sample log, results.json, manifest")
    _model_args(run, max_new_tokens=16)
    run.add_argument("--out", required=True, help="run folder (rerun the same command to resume)")
    run.add_argument("--tasks", help="comma list of task configs (default: all 7)")
    run.add_argument("--conditions", default="video", help=CONDITION_HELP)
    run.add_argument("--circular", action="store_true", help="also ask the 4 stored option rotations")
    run.add_argument("--mode", choices=["all", "infer", "score"], default="all")
    run.add_argument("--decode-workers", type=int, default=1, help="background decode threads")
    run.add_argument("--decode-threads", type=int, default=1, help="decoder threads per video")
    run.add_argument("--allow-errors", action="store_true",
                     help="exit 0 even when some samples errored (they are left out of the scores)")
    run.set_defaults(handler=_run)

    gen = sub.add_parser("generate", help="one comment per bench video (JSONL for `mimic study build`)")
    _model_args(gen, max_new_tokens=48)
    gen.add_argument("--out", required=True, help="output JSONL (a .log.jsonl beside it makes it resumable)")
    gen.set_defaults(handler=_generate)

    board = sub.add_parser("leaderboard", help="paper-style table (Markdown, CSV) and radar/bar PNGs from run folders")
    board.add_argument("runs", nargs="+", help="run folders holding results.json (other files are skipped)")
    board.add_argument("--out", required=True)
    board.set_defaults(handler=_leaderboard)

    export = sub.add_parser("export-lmms", help="write a self-contained lmms-eval task folder (YAMLs, utils.py, scorer)")
    export.add_argument("--out", required=True, help="task folder (pass it to lmms-eval with --include_path)")
    export.add_argument("--dataset-path", default=DEFAULT_DATASET_PATH,
                        help="what the YAMLs load: the hydrated bench folder relative to where lmms-eval runs "
                             "(default %(default)s) or a Hub id (metadata only: no video); never an absolute path")
    export.set_defaults(handler=_export_lmms)

    metric = sub.add_parser("export-metric", help="write the self-contained `evaluate` metric folder")
    metric.add_argument("--out", required=True, help="folder named mimic_bench (then evaluate.load(OUT))")
    metric.set_defaults(handler=_export_metric)
