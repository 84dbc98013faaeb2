"""`mimic bench release`: the Hub-ready MIMIC-Bench folder — the built configs, audit.json and the card.

The parquet files are copied byte for byte from the built bench folder (file_name stays null: no videos are shipped);
the card (cards/mimic_bench.md) takes every figure from build_stats.json and audit.json. Only the named configs are
copied: the private study pool (a separate folder) never is, and a bench folder that holds one is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from mimic_cards import markdown_table, render_card, size_category
from mimic_data.io import atomic_write_bytes, atomic_write_text

from .audit import AUDIT_FILE, audit_table
from .tasks import COMMENT_GENERATION, PROMPT_VERSION, TASK_NAMES, TASKS_BY_NAME
from .writer import BUILD_STATS, STUDY_POOL_FILE

CONFIGS = (*TASK_NAMES, COMMENT_GENERATION, "videos")


def release(bench_dir: str | Path, out_dir: str | Path, source: str = "synthetic world") -> Path:
    bench_dir, out = Path(bench_dir), Path(out_dir)
    missing = [c for c in CONFIGS if not (bench_dir / f"{c}.parquet").exists()]
    if missing:
        raise FileNotFoundError(f"{bench_dir} lacks {', '.join(m + '.parquet' for m in missing)}; run `mimic bench build`")
    if any(bench_dir.rglob(STUDY_POOL_FILE)):
        raise ValueError(f"{bench_dir} holds a private {STUDY_POOL_FILE}: move it out before releasing")
    names = [f"{c}.parquet" for c in CONFIGS] + [BUILD_STATS, AUDIT_FILE]
    if bench_dir.resolve() != out.resolve():
        for name in names:
            if (bench_dir / name).exists():
                atomic_write_bytes(out / name, (bench_dir / name).read_bytes())
    stats = json.loads((out / BUILD_STATS).read_text())
    audit_path = out / AUDIT_FILE
    counts = {c: pq.read_metadata(out / f"{c}.parquet").num_rows for c in CONFIGS}
    context = {
        "source": source, "seed": stats["seed"], "embedder": stats["embedder"], "prompt_version": PROMPT_VERSION,
        "n_videos": counts["videos"], "size_category": size_category(sum(counts[t] for t in TASK_NAMES)),
        "configs": CONFIGS,
        "study_pool": stats.get("study_pool"),
        "counts_table": markdown_table(
            ["config", "paper column", "axis", "rows"],
            [[c, TASKS_BY_NAME[c].label if c in TASKS_BY_NAME else "—",
              TASKS_BY_NAME[c].axis if c in TASKS_BY_NAME else "—", counts[c]] for c in CONFIGS]),
        "audit_table": (audit_table(json.loads(audit_path.read_text())) if audit_path.exists()
                        else "_No audit was run for this copy (`mimic bench audit`)._"),
    }
    atomic_write_text(out / "README.md", render_card("mimic_bench.md", context, kind="dataset"))
    return out


