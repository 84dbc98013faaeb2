"""`mimic eval leaderboard RUNS…`: the paper-style table (7 tasks, Overall, Blind, Circular) as Markdown and CSV, plus a
radar chart and a bar chart, all from the runs' results.json files."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from mimic_data.io import atomic_write_bytes, atomic_write_text

ACC_COLUMNS = ("Overall", "Blind", "Circular")


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def leaderboard_rows(run_dirs: list[str | os.PathLike]) -> list[dict[str, Any]]:
    """One row per run and seen condition (blind goes into its run's Blind column); sorted by Overall, best first."""
    from mimic_bench.tasks import TASKS

    rows = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: finish or score that run first (mimic eval run --mode score)")
        results = json.loads(path.read_text())
        blocks = {c: b for c, b in results["by_condition"].items() if b is not None}
        blind = blocks.get("blind")
        shown = [c for c in blocks if c != "blind"] or list(blocks)
        for condition in shown:
            block = blocks[condition]
            coverage = results["coverage"][condition]
            label = results["model"] + ("" if condition == "video" else f" [{condition}]")
            row = {"Model": label + ("" if coverage["complete"] else " *"), "run": str(run_dir)}
            for task in TASKS:
                row[task.label] = _pct(block["per_task"].get(task.name, {}).get("acc"))
            overall = block["overall"]
            row["Overall"] = _pct(overall["acc"])
            row["Overall 95% CI"] = (f"{_pct(overall['ci_low'])}–{_pct(overall['ci_high'])}"
                                     if overall.get("ci_low") is not None else None)
            row["Blind"] = _pct(blind["overall"]["acc"]) if blind and condition != "blind" else None
            row["Circular"] = _pct((overall.get("circular") or {}).get("circular_acc"))
            row["Unparsed %"] = _pct(overall.get("unparsed_rate"))
            row["Coverage"] = f"{coverage['answered']}/{coverage['planned']}"
            rows.append(row)
    return sorted(rows, key=lambda r: -(r["Overall"] if r["Overall"] is not None else -1))


def _columns() -> list[str]:
    from mimic_bench.tasks import TASKS

    return ["Model", *[t.label for t in TASKS], *ACC_COLUMNS, "Overall 95% CI", "Unparsed %", "Coverage"]


def render_markdown(rows: list[dict[str, Any]]) -> str:
    columns = _columns()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("–" if row[c] is None else str(row[c]) for c in columns) + " |")
    note = ("\nAccuracy in %, unparsed answers counted wrong; Overall is the micro average over all questions with a "
            "95% bootstrap CI over videos. Blind = the same model without video. Circular = right under all 4 option "
            "rotations. `*` = some videos were unavailable (coverage column): not comparable with complete runs.\n")
    return "\n".join(lines) + "\n" + note


def render_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns() + ["run"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def radar_png(rows: list[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from mimic_bench.tasks import TASKS

    labels = [t.label for t in TASKS]
    angles = np.linspace(0, 2 * np.pi, len(labels), endpoint=False).tolist()
    figure, axes = plt.subplots(figsize=(6.5, 6.5), subplot_kw={"polar": True})
    for row in rows:
        values = [row[label] or 0.0 for label in labels]
        axes.plot(angles + angles[:1], values + values[:1], linewidth=1.5, label=row["Model"])
        axes.fill(angles + angles[:1], values + values[:1], alpha=0.08)
    axes.set_xticks(angles, labels)
    axes.set_ylim(0, 100)
    axes.legend(loc="upper right", bbox_to_anchor=(1.35, 1.1), fontsize=8)
    axes.set_title("MIMIC-Bench accuracy per task (%)")
    data = _png(figure)
    plt.close(figure)
    return data


def bar_png(rows: list[dict[str, Any]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(figsize=(max(5, 1.2 * len(rows) + 2), 4))
    x = np.arange(len(rows))
    width = 0.27
    for offset, column in zip((-width, 0, width), ACC_COLUMNS, strict=True):
        axes.bar(x + offset, [row[column] or 0.0 for row in rows], width, label=column)
    axes.axhline(25, color="grey", linestyle="--", linewidth=1, label="chance (25%)")
    axes.set_xticks(x, [row["Model"] for row in rows], rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 100)
    axes.legend(fontsize=8)
    axes.set_title("MIMIC-Bench Overall, Blind and Circular accuracy")
    data = _png(figure)
    plt.close(figure)
    return data


def write_leaderboard(run_dirs: list[str | os.PathLike], out_dir: str | os.PathLike) -> list[Path]:
    out_dir = Path(out_dir)
    rows = leaderboard_rows(run_dirs)
    return [atomic_write_text(out_dir / "leaderboard.md", render_markdown(rows)),
            atomic_write_text(out_dir / "leaderboard.csv", render_csv(rows)),
            atomic_write_bytes(out_dir / "leaderboard_radar.png", radar_png(rows)),
            atomic_write_bytes(out_dir / "leaderboard_bar.png", bar_png(rows))]
