"""What a perfect viewer of a synthetic video would answer: the oracle ceiling per task and per-item decidability.

The oracle sees only what the video shows — its latent content in the synthetic world's world.parquet: the scene and
the category it belongs to, the object's colour and shape, the two motions in order (the first half, then the second)
and which of them glows — and checks every claim an option makes against it: the colours, shapes, motions (and their
order), scenes and categories it names; for CAM-Cat the option must be the category the scene shows; for UIU-Pop the
world's popularity rule (the viral comment names the glowing motion at its true time, mimic_data.world). An option is
consistent when none of its claims contradicts the video. The oracle then picks uniformly among the consistent options
and guesses among all four when none is consistent, so its expected accuracy on a question is 1/|consistent| when the
answer is consistent, 1/4 when nothing is, and 0 when the answer contradicts the video while a distractor does not (a
trap). The ceiling of a task is the mean over its questions.

`decidable_from` (a column of every released MCQ table, filled by `mimic bench audit`) says per question:
- "text": the text-only audit solves it (mimic_bench.audit blind_solvable): no video needed;
- "content": the oracle singles out the answer (exactly one consistent option, the answer);
- "neither": neither does (e.g. CAM-Cat videos whose creator filed them under a category the video does not show);
- null: not known — real data has no latent content; there the blind and single-frame runs of a model fill the same
  column.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mimic_data.world import CATEGORIES, COLOUR_NAMES, MOTIONS, SHAPES, TIMINGS

from .options import compact_key, normalise
from .tasks import N_OPTIONS

DECIDABLE_FROM = ("text", "content", "neither")
WORLD_FILE = "world.parquet"  # mimic_data.synth.WORLD_FILE; read here without importing the renderer

_CATEGORY_FORMS = {form: name for name, words, _, _ in CATEGORIES
                   for form in (normalise(name), compact_key(name), *(normalise(w) for w in words))}
_MOTION_FORMS = {normalise(form): motion for motion, forms in MOTIONS.items() for form in forms}
_OBJECT_SLUGS = {f"{c}{s}": (c, s) for c in COLOUR_NAMES for s in SHAPES}


def load_world(data_dir: str | Path) -> dict[str, dict[str, Any]] | None:
    """video id -> latent content row, or None when the data folder is not a synthetic world (real data)."""
    import pyarrow.parquet as pq

    path = Path(data_dir) / WORLD_FILE
    return {row["video_id"]: row for row in pq.read_table(path).to_pylist()} if path.exists() else None


def _mentions(padded: str, form: str) -> int:
    """Position of a normalised word or phrase in a padded normalised text, -1 when absent."""
    return padded.find(f" {form} ")


def _consistent(task: str, option: str, video: Mapping[str, Any]) -> bool:
    if task == "cam_cat":
        return option.strip() == video["scene"]
    padded = f" {normalise(option)} "
    tokens = set(padded.split())
    colours = {c for c in COLOUR_NAMES if c in tokens} | {_OBJECT_SLUGS[t][0] for t in tokens & _OBJECT_SLUGS.keys()}
    shapes = {s for s in SHAPES if s in tokens} | {_OBJECT_SLUGS[t][1] for t in tokens & _OBJECT_SLUGS.keys()}
    categories = {name for form, name in _CATEGORY_FORMS.items() if _mentions(padded, form) >= 0}
    first_seen: dict[str, int] = {}
    for form, motion in _MOTION_FORMS.items():
        if (at := _mentions(padded, form)) >= 0:
            first_seen[motion] = min(at, first_seen.get(motion, at))
    motions = sorted(first_seen, key=first_seen.get)
    shown = (video["motion1"], video["motion2"])
    if not (colours <= {video["colour"]} and shapes <= {video["shape"]} and categories <= {video["scene"]}
            and set(motions) <= set(shown)):
        return False
    if len(motions) == 2 and tuple(motions) != shown:
        return False  # both motions named, in the wrong order
    if task == "uiu_pop":
        glowing = shown[video["highlight"] - 1]
        timing = TIMINGS[video["highlight"] - 1]
        return motions == [glowing] and _mentions(padded, normalise(f"{MOTIONS[glowing][1]} {timing}")) >= 0
    return True


def consistent_options(question: Mapping[str, Any], video: Mapping[str, Any]) -> list[int]:
    """Indices of the options of a question (a row of <task>.parquet) that nothing in the video contradicts."""
    return [i for i, option in enumerate(question["options"]) if _consistent(question["task"], option, video)]


def oracle_accuracy(question: Mapping[str, Any], video: Mapping[str, Any]) -> float:
    """The oracle's expected accuracy on one question (module doc)."""
    consistent = consistent_options(question, video)
    if not consistent:
        return 1 / N_OPTIONS
    return 1 / len(consistent) if question["answer_idx"] in consistent else 0.0


def decidable_from_content(question: Mapping[str, Any], video: Mapping[str, Any]) -> bool:
    return consistent_options(question, video) == [question["answer_idx"]]
