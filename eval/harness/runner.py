"""`mimic eval run`: every planned (question, condition, rotation) answered once, logged per sample, then scored.

Order of work: videos of this rank's shard -> decode once in background threads -> every question x condition x
rotation of that video, in adapter-sized batches -> one fsynced JSONL row per sample. A rerun skips settled rows, so a
killed run resumes without repeating or duplicating a sample. A missing or corrupt video marks its samples and the run
goes on; coverage is reported.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimic_data.io import JsonlLedger, atomic_write_json, shard_of

from ..adapters.base import Adapter, McqRequest
from .bench_io import MCQ_TASKS, group_by_video, load_task_rows, video_path
from .decode import CONDITIONS, condition_frames, prefetch
from .fingerprint import file_fingerprint, fingerprint
from .manifest import build_manifest
from .samples_log import SETTLED, latest_rows, merge_logs, sample_key
from .sharding import all_ranks_done, mark_rank_done, release_merge

N_ROTATIONS = 4


@dataclass
class PlannedSample:
    key: str
    row: dict[str, Any]
    condition: str
    rotation: int | None
    prompt: str
    prompt_hash: str
    frames_fp: str


@dataclass
class RunOptions:
    tasks: list[str] = field(default_factory=lambda: list(MCQ_TASKS))
    conditions: list[str] = field(default_factory=lambda: ["video"])
    circular: bool = False
    mode: str = "all"  # all | infer | score
    seed: int = 0
    decode_workers: int = 1
    decode_threads: int = 1
    prefetch_ahead: int = 4
    rank: int = 0
    world_size: int = 1
    progress: bool = True


def rotations_for(circular: bool) -> list[int | None]:
    """Stored option order, or the 4 stored rotations (the scorer's headline is then rotation 0)."""
    return list(range(N_ROTATIONS)) if circular else [None]


def plan(adapter: Adapter, bench_dir: Path, rows: list[dict[str, Any]], options: RunOptions, model_fp: str,
         gen_fp: str) -> list[PlannedSample]:
    from mimic_bench.prompts import render_mcq

    policy = adapter.frame_policy()
    planned = []
    for video_id, questions in group_by_video(rows).items():
        file_id = file_fingerprint(video_path(bench_dir, questions[0]))
        for condition in options.conditions:
            sees_frames = policy is not None and condition != "blind"
            frames_fp = fingerprint({"condition": condition, "policy": policy.as_dict() if sees_frames else None,
                                     "file": file_id if sees_frames else None, "video_id": video_id})
            for row in questions:
                for rotation in rotations_for(options.circular):
                    prompt = render_mcq(row, rotation=rotation)
                    prompt_hash = fingerprint([row.get("prompt_version"), prompt])
                    key = sample_key(question_id=row["question_id"], condition=condition, rotation=rotation,
                                     model_fp=model_fp, prompt_hash=prompt_hash, frames_fp=frames_fp, gen_fp=gen_fp)
                    planned.append(PlannedSample(key, row, condition, rotation, prompt, prompt_hash, frames_fp))
    return planned


def _base_row(sample: PlannedSample, adapter: Adapter, model_fp: str, gen_fp: str) -> dict[str, Any]:
    from mimic_bench.prompts import gold_letter, shown_options

    row = sample.row
    return {"key": sample.key, "question_id": row["question_id"], "video_id": row["video_id"], "task": row["task"],
            "axis": row.get("axis"), "platform": row.get("platform"), "condition": sample.condition,
            "rotation": sample.rotation, "gold": gold_letter(row, sample.rotation),
            "options": shown_options(row, sample.rotation), "model": adapter.name,
            "model_fp": model_fp, "prompt_hash": sample.prompt_hash, "frames_fp": sample.frames_fp, "gen_fp": gen_fp}


def _batches(items: list, size: int):
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + max(1, size)]


class BackgroundLog:
    """Appends each batch's rows (one write + fsync) from one background thread, so the fsync overlaps the next
    batch's model call as decoding does. One write in flight at a time, in order: a kill loses at most that batch (a
    rerun redoes it) and a failed write raises at the next append or at close."""

    def __init__(self, log: JsonlLedger):
        self.log, self.pending = log, None
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mimic-log")

    def extend(self, rows: list[dict[str, Any]]) -> None:
        self.wait()
        self.pending = self.pool.submit(self.log.extend, rows)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.shutdown()


def infer(adapter: Adapter, bench_dir: Path, todo: list[PlannedSample], ledger: JsonlLedger, options: RunOptions,
          model_fp: str, gen_fp: str) -> dict[str, Any]:
    """Answer every sample in `todo`; returns throughput telemetry of this call."""
    log = BackgroundLog(ledger)
    try:
        return _infer(adapter, bench_dir, todo, log, options, model_fp, gen_fp)
    finally:
        log.close()


def _infer(adapter: Adapter, bench_dir: Path, todo: list[PlannedSample], log: BackgroundLog, options: RunOptions,
           model_fp: str, gen_fp: str) -> dict[str, Any]:
    from tqdm import tqdm

    by_video: dict[str, list[PlannedSample]] = {}
    for sample in todo:
        by_video.setdefault(sample.row["video_id"], []).append(sample)
    jobs = [(vid, video_path(bench_dir, samples[0].row), any(s.condition != "blind" for s in samples))
            for vid, samples in by_video.items()]
    stats = {"videos_decoded": 0, "decode_ms": 0.0, "frames_decoded": 0, "model_ms": 0.0, "samples": 0,
             "failed_videos": 0, "errors": 0}
    started = time.perf_counter()
    decoded_stream = prefetch(jobs, adapter.frame_policy(), workers=options.decode_workers,
                              ahead=options.prefetch_ahead, threads=options.decode_threads)
    for decoded in tqdm(decoded_stream, total=len(jobs), desc=f"eval {adapter.name}", unit="video",
                        disable=not options.progress):
        if decoded.frames is not None:
            stats["videos_decoded"] += 1
            stats["decode_ms"] += decoded.decode_ms
            stats["frames_decoded"] += sum(int(decoded.frames[name].shape[0]) for name in ("spatial", "temporal"))
        stats["failed_videos"] += decoded.error is not None
        samples = by_video[decoded.video_id]
        for condition in options.conditions:
            group = [s for s in samples if s.condition == condition]
            needs_frames = condition != "blind" and adapter.frame_policy() is not None
            if needs_frames and decoded.error is not None:
                status = decoded.error.split(":", 1)[0]
                log.extend([{**_base_row(sample, adapter, model_fp, gen_fp), "status": status,
                             "error": decoded.error} for sample in group])
                continue
            frames = condition_frames(decoded.frames, condition) if needs_frames else None
            for batch in _batches(group, adapter.batch_size):
                requests = [McqRequest(prompt=s.prompt, video=frames) for s in batch]
                t0 = time.perf_counter()
                try:
                    answers = adapter.answer(requests)
                    error = None
                except Exception as exc:  # one bad batch must not end the run: rows say why, a rerun retries them
                    answers, error = [None] * len(batch), f"{type(exc).__name__}: {exc}"
                model_ms = (time.perf_counter() - t0) * 1000
                stats["model_ms"] += model_ms
                rows = []
                for sample, answer in zip(batch, answers, strict=True):
                    row = _base_row(sample, adapter, model_fp, gen_fp)
                    if error:
                        stats["errors"] += 1
                        rows.append({**row, "status": "error", "error": error[:500]})
                        continue
                    stats["samples"] += 1
                    rows.append({**row, "status": "ok", "response": answer.response, "letter": answer.letter,
                                 "letter_scores": answer.letter_scores, "model_ms": round(model_ms / len(batch), 2),
                                 "decode_ms": round(decoded.decode_ms, 2), "decoder": decoded.decoder,
                                 "frame_indices": decoded.indices if frames is not None else None,
                                 "distinct_frames": decoded.distinct_frames if frames is not None else None,
                                 "frame_note": decoded.frame_note if frames is not None else None})
                log.extend(rows)
    wall = time.perf_counter() - started
    stats["wall_s"] = round(wall, 3)
    stats["items_per_s"] = round(stats["samples"] / wall, 3) if wall > 0 else None
    stats["decode_ms_per_video"] = round(stats["decode_ms"] / max(1, stats["videos_decoded"]), 2)
    stats["decode_frames_per_s"] = round(stats["frames_decoded"] / (stats["decode_ms"] / 1000), 1) \
        if stats["decode_ms"] else None
    stats["model_ms_per_sample"] = round(stats["model_ms"] / max(1, stats["samples"] + stats["errors"]), 2)
    return stats


def _scorer_sample(row: dict[str, Any]) -> dict[str, Any]:
    """A logged row as mimic_bench.scoring.score wants it: `letter` when the adapter gave one, else `response`."""
    sample = {k: row[k] for k in ("question_id", "video_id", "task", "gold", "rotation", "condition", "options")}
    if row.get("letter") is not None:
        sample["letter"] = row["letter"]
    else:
        sample["response"] = row.get("response")
    return sample


def score_run(run_dir: Path, planned: list[PlannedSample], options: RunOptions) -> dict[str, Any]:
    """results.json: the scorer's output per condition (headline = video, else the first) plus coverage."""
    from mimic_bench.scoring import score

    rows = latest_rows(run_dir)
    results: dict[str, Any] = {"headline_condition": None, "by_condition": {}, "coverage": {}}
    for condition in options.conditions:
        mine = [rows.get(s.key) for s in planned if s.condition == condition]
        answered = [r for r in mine if r is not None and r.get("status") == "ok"]
        unavailable = [r for r in mine if r is not None and r.get("status") in SETTLED - {"ok"}]
        results["coverage"][condition] = {
            "planned": len(mine), "answered": len(answered), "video_unavailable": len(unavailable),
            "pending_or_error": len(mine) - len(answered) - len(unavailable),
            "complete": len(answered) == len(mine),
            "unavailable_videos": sorted({r["video_id"] for r in unavailable}),
        }
        results["by_condition"][condition] = score([_scorer_sample(r) for r in answered]) if answered else None
    scored = [c for c in options.conditions if results["by_condition"][c] is not None]
    if scored:
        results["headline_condition"] = "video" if "video" in scored else scored[0]
    return results


def run_eval(adapter: Adapter, bench_dir: str | os.PathLike, out_dir: str | os.PathLike,
             options: RunOptions | None = None) -> dict[str, Any]:
    """Plan, resume, infer, and (unless mode=infer) score one model on a bench folder. Returns a summary dict."""
    options = options or RunOptions()
    bad = [c for c in options.conditions if c not in CONDITIONS]
    if bad:
        raise ValueError(f"unknown condition(s) {bad}; choose from {', '.join(CONDITIONS)}")
    if options.mode not in ("all", "infer", "score"):
        raise ValueError(f"mode must be all, infer or score, not {options.mode!r}")
    bench_dir, out_dir = Path(bench_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = load_task_rows(bench_dir, options.tasks)
    model_fp = fingerprint(adapter.identity())
    generation = {"scoring": adapter.scoring, **adapter.settings.as_dict()}
    gen_fp = fingerprint(generation)
    planned = plan(adapter, bench_dir, rows, options, model_fp, gen_fp)
    policy = adapter.frame_policy()
    manifest = build_manifest(adapter_identity=adapter.identity(), model_fp=model_fp, bench_dir=bench_dir,
                              tasks=options.tasks, rows=rows, conditions=options.conditions,
                              circular=options.circular, frame_policy=policy.as_dict() if policy else None,
                              generation=generation, seed=options.seed, world_size=options.world_size)
    summary: dict[str, Any] = {"run_dir": str(out_dir), "planned": len(planned)}
    if options.mode != "score":
        if options.rank == 0:
            atomic_write_json(out_dir / "run_manifest.json", manifest)
        mine = [s for s in planned if shard_of(s.row["video_id"], options.world_size) == options.rank]
        settled = {k for k, r in latest_rows(out_dir).items() if r.get("status") in SETTLED}
        todo = [s for s in mine if s.key not in settled]
        log_name = "samples.jsonl" if options.world_size == 1 else f"samples.rank{options.rank}.jsonl"
        stats = infer(adapter, bench_dir, todo, JsonlLedger(out_dir / log_name), options, model_fp, gen_fp)
        summary.update(skipped=len(mine) - len(todo), inferred=len(todo), telemetry=stats)
        atomic_write_json(out_dir / f"telemetry.rank{options.rank}.json", stats)
        if options.world_size > 1:
            mark_rank_done(out_dir, options.rank, options.world_size)
            if not all_ranks_done(out_dir, options.world_size):
                return summary  # the last rank to finish merges and scores; nobody waits on a collective
    merge_logs(out_dir, [s.key for s in planned])
    release_merge(out_dir)
    if options.mode == "infer":
        return summary
    results = score_run(out_dir, planned, options)
    results["model"] = adapter.name
    results["model_fp"] = model_fp
    atomic_write_json(out_dir / "results.json", results)
    if not (out_dir / "run_manifest.json").exists():
        atomic_write_json(out_dir / "run_manifest.json", manifest)
    summary["results"] = results
    return summary
