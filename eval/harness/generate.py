"""`mimic eval generate`: one comment per bench video per model, through the same adapters and frame decoding.

Work is logged per video in `<out>.log.jsonl` (resumable, keyed like MCQ samples); the clean output `<out>` holds one
`{"video_id", "model", "text", "sampling"}` row per video that got a comment, which `mimic study build` reads.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from mimic_data.io import JsonlLedger, atomic_write_text

from ..adapters.base import Adapter, GenerationSettings, McqRequest
from .bench_io import load_comment_rows, video_path
from .decode import prefetch
from .fingerprint import file_fingerprint, fingerprint
from .samples_log import SETTLED, latest_rows_in


def generate_comments(adapter: Adapter, bench_dir: str | os.PathLike, out_path: str | os.PathLike,
                      settings: GenerationSettings, *, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from mimic_bench.prompts import render_comment_prompt

    bench_dir, out_path = Path(bench_dir), Path(out_path)
    log_path = out_path.with_name(out_path.name + ".log.jsonl")
    model_fp = fingerprint(adapter.identity())
    sampling = settings.as_dict()
    policy = adapter.frame_policy()
    planned = {}
    for row in load_comment_rows(bench_dir):
        prompt = render_comment_prompt(row)
        file_id = file_fingerprint(video_path(bench_dir, row)) if policy else None
        key = fingerprint([row["video_id"], model_fp, prompt, policy.as_dict() if policy else None, file_id,
                           sampling], length=24)
        planned[key] = (row, prompt)
    settled = {k for k, r in latest_rows_in(log_path).items() if r.get("status") in SETTLED}
    todo = [(k, row, prompt) for k, (row, prompt) in planned.items() if k not in settled]
    log = JsonlLedger(log_path)
    jobs = [(row["video_id"], video_path(bench_dir, row), True) for _, row, _ in todo]
    started = time.perf_counter()
    decoded_stream = prefetch(jobs, policy)
    for (key, row, prompt), decoded in tqdm(zip(todo, decoded_stream, strict=True), total=len(todo),
                                            desc=f"generate {adapter.name}", disable=not progress):
        base = {"key": key, "video_id": row["video_id"], "model": adapter.name, "sampling": sampling}
        if policy is not None and decoded.error is not None:
            log.append({**base, "status": decoded.error.split(":", 1)[0], "error": decoded.error})
            continue
        try:
            text = adapter.generate([McqRequest(prompt=prompt, video=decoded.frames)], settings)[0]
        except Exception as exc:  # logged and retried on the next run; the other videos go on
            log.append({**base, "status": "error", "error": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        log.append({**base, "status": "ok", "text": text})
    rows = latest_rows_in(log_path)
    ok = [rows[k] for k in planned if k in rows and rows[k].get("status") == "ok"]
    lines = [json.dumps({"video_id": r["video_id"], "model": r["model"], "text": r["text"],
                         "sampling": r["sampling"]}, ensure_ascii=False, sort_keys=True) + "\n" for r in ok]
    atomic_write_text(out_path, "".join(lines))
    missing = sorted(row["video_id"] for k, (row, _) in planned.items() if k not in rows
                     or rows[k].get("status") != "ok")
    return {"out": str(out_path), "written": len(ok), "planned": len(planned), "without_comment": missing,
            "wall_s": round(time.perf_counter() - started, 3)}
