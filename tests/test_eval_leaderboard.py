"""Leaderboard rendering from fixture results.json files scored by the real scorer on hand-made samples."""

import csv
import io
import json

import pytest

from mimic_bench.scoring import score
from mimic_bench.tasks import TASK_NAMES
from mimic_eval.leaderboard import leaderboard_rows, write_leaderboard


def samples(condition, correct_for, rotations=(None,)):
    """One question per (task, video); `correct_for(task, video, rotation)` decides whether the letter is right."""
    out = []
    for task in TASK_NAMES:
        for v in range(4):
            for rotation in rotations:
                right = correct_for(task, v, rotation)
                out.append({"question_id": f"{task}-{v}", "video_id": f"vid{v}", "task": task, "gold": "B",
                            "letter": "B" if right else "C", "rotation": rotation, "condition": condition})
    return out


def write_run(folder, model, blocks, complete=True):
    folder.mkdir(parents=True)
    coverage = {c: {"planned": 28, "answered": 28 if complete else 24, "complete": complete} for c in blocks}
    results = {"model": model, "headline_condition": "video", "coverage": coverage,
               "by_condition": {c: score(s) for c, s in blocks.items()}}
    (folder / "results.json").write_text(json.dumps(results))
    return folder


@pytest.fixture
def runs(tmp_path):
    strong = write_run(tmp_path / "strong", "Strong", {
        "video": samples("video", lambda t, v, r: v < 3 or (r is not None and r > 0), rotations=(0, 1, 2, 3)),
        "blind": samples("blind", lambda t, v, r: v == 0)})
    weak = write_run(tmp_path / "weak", "Weak", {"video": samples("video", lambda t, v, r: t == "cam_cat")},
                     complete=False)
    return [weak, strong]


def test_table_values_order_and_flags(runs):
    rows = leaderboard_rows(runs)
    assert [r["Model"] for r in rows] == ["Strong", "Weak *"]  # best first; * = incomplete coverage
    strong, weak = rows
    assert strong["CIU-Title"] == strong["UIU-Pop"] == strong["Overall"] == 75.0  # rotation 0 is the headline
    assert strong["Blind"] == 25.0 and strong["Circular"] == 75.0
    assert weak["CAM-Cat"] == 100.0 and weak["CIU-Title"] == 0.0 and weak["Overall"] == 14.3
    assert weak["Blind"] is None and weak["Circular"] is None


def test_markdown_csv_and_pngs_are_written(runs, tmp_path):
    paths = write_leaderboard(runs, tmp_path / "board")
    assert sorted(p.name for p in paths) == ["leaderboard.csv", "leaderboard.md", "leaderboard_bar.png",
                                             "leaderboard_radar.png"]
    markdown = (tmp_path / "board" / "leaderboard.md").read_text()
    header = markdown.splitlines()[0]
    assert header.startswith("| Model | CIU-Title | CIU-Desc | CAM-Tag | CAM-Topic | CAM-Cat | UIU-Match | UIU-Pop |")
    assert "| Overall | Blind | Circular |" in header and "| Weak * |" in markdown
    table = list(csv.DictReader(io.StringIO((tmp_path / "board" / "leaderboard.csv").read_text())))
    assert [(r["Model"], r["Overall"], r["Blind"]) for r in table] == [("Strong", "75.0", "25.0"),
                                                                      ("Weak *", "14.3", "")]
    for name in ("leaderboard_bar.png", "leaderboard_radar.png"):
        data = (tmp_path / "board" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_a_run_without_results_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="unfinished.*results.json"):
        leaderboard_rows([tmp_path / "unfinished"])
