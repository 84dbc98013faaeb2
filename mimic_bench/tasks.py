"""The seven four-option MIMIC-Bench tasks and the comment-generation item: one declarative spec each.

A spec names the task and its axis, carries the function that gives a video's option text and the rule its distractors
are drawn by, and holds its versioned instruction. Adding a task is one `TaskSpec(...)` entry in TASKS, plus an option
function next to it when no existing one fits. Changing an instruction means bumping PROMPT_VERSION (it is stored in
every question row and is part of every evaluation cache key), never editing text in place.

The option functions map a video record (RECORD_SCHEMA dict) and the set of generic comment texts
(mimic_bench.options.generic_comments) to the text the video contributes as an option, or None when it has none (the
video then gets no question of that task, e.g. TikTok videos have no tags in yt-dlp, so no `cam_tag`). For an
"other videos" task the answer is the function applied to the question's video and each distractor the same function
applied to an irrelevant video, so answer and distractors come from one distribution and what tells them apart is the
video. This module stays free of heavy imports (numpy, pyarrow): the one function that needs the text normaliser
imports mimic_bench.options when called.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PROMPT_VERSION = "v1"
LETTERS = ("A", "B", "C", "D")
N_OPTIONS = len(LETTERS)
AXES = ("CIU", "CAM", "UIU")
MAX_TAGS = 8  # real tag lists can run to dozens; the first ones are the creator's own choice

OptionFn = Callable[[Mapping[str, Any], set[str] | None], str | None]
ExcludeFn = Callable[[Mapping[str, Any]], list[str]]


class Distractors(enum.Enum):
    """How a task's three distractors are drawn (mimic_bench.build holds one function per rule)."""

    OTHER_VIDEOS = "other_videos"  # the same option function applied to irrelevant videos of the pool
    SAME_VIDEO_RANKS = "same_video_ranks"  # lower-liked comments of the question's own video (mimic_bench.popularity)


def title_option(record: Mapping[str, Any], generic: set[str] | None = None) -> str | None:
    """The creator's title."""
    return record["title"].strip() or None


def description_option(record: Mapping[str, Any], generic: set[str] | None = None) -> str | None:
    """The creator's description."""
    return record["description"].strip() or None


def tags_option(record: Mapping[str, Any], generic: set[str] | None = None) -> str | None:
    """The first MAX_TAGS tags, comma-separated."""
    return ", ".join(t.strip() for t in record["tags"][:MAX_TAGS] if t.strip()) or None


def topics_option(record: Mapping[str, Any], generic: set[str] | None = None) -> str | None:
    """The hashtag topics, each written with one leading '#'."""
    return " ".join("#" + t.strip().lstrip("#") for t in record["topics"] if t.strip().lstrip("#")) or None


def category_option(record: Mapping[str, Any], generic: set[str] | None = None) -> str | None:
    """The platform category the creator filed the video under."""
    return record["category"].strip() or None


def match_comment_option(record: Mapping[str, Any], generic: set[str] | None = None) -> str | None:
    """UIU-Match's option: the video's most-liked non-generic comment at rank >= 2 (mimic_bench.options.match_comment)."""
    if generic is None:
        raise ValueError("match_comment options need the set of generic comments")
    from .options import match_comment  # deferred: options pulls numpy/pyarrow through mimic_data.select

    return (match_comment(record, generic) or "").strip() or None


def top_comment_option(record: Mapping[str, Any], generic: set[str] | None = None) -> str | None:
    """UIU-Pop's answer: the most-liked comment, verbatim (the builder picks it in mimic_bench.popularity)."""
    return (record["comments"][0]["text"] or None) if record["comments"] else None


def own_comments(record: Mapping[str, Any]) -> list[str]:
    """UIU-Match: a distractor equal to one of the video's own comments would be a second right answer."""
    return [c["text"] for c in record["comments"]]


def own_tags_and_hashtags(record: Mapping[str, Any]) -> list[str]:
    """CAM-Cat: a category the video's own tags or hashtags name is one the video arguably belongs to, so offering it
    as wrong would trap a model that sees what the video shows (creators do file videos under other categories)."""
    return [*record["tags"], *record["topics"]]


@dataclass(frozen=True)
class TaskSpec:
    """One MCQ task of the bench.

    Args:
        name (`str`): the task's config name in the release (`<name>.parquet`, the `task` column, cache keys).
        label (`str`): the paper's column name, e.g. `"CIU-Title"`; used in leaderboards and cards.
        axis (`str`): the ability axis, one of AXES (`"CIU"`, `"CAM"`, `"UIU"`).
        field (`str`): the record field the options come from, as a name only (nothing dispatches on it); it names
            the build-stats skip reason `"no <field>"` for videos whose `option` is None.
        option (`Callable[[Mapping, set[str] | None], str | None]`): the option text a video record contributes,
            given the set of generic comment texts; None when the video has none and gets no question of this task.
            For `Distractors.SAME_VIDEO_RANKS` it gives the answer text (audits compare it with the train pool).
        distractors (`Distractors`): how the three distractors are drawn.
        instruction (`str`): the question shown to the model, versioned by PROMPT_VERSION.
        similarity_ceiling (`float`, defaults to 0.8): options whose embedding cosine reaches this are
            near-duplicates and never share a question (above 1 turns the check off).
        match_style (`bool`, defaults to True): draw distractors from the answer's length and formatting bucket
            first; False for closed sets such as categories, whose length carries no style.
        exclude (`Callable[[Mapping], list[str]]`, optional): texts of the question's video that no distractor may
            equal (compared by mimic_bench.options.compact_key, so "Pets & Animals" meets the hashtag
            "petsanimals"), e.g. `own_comments` for UIU-Match.
    """

    name: str
    label: str
    axis: str
    field: str
    option: OptionFn
    distractors: Distractors
    instruction: str
    similarity_ceiling: float = 0.8
    match_style: bool = True
    exclude: ExcludeFn | None = None


_OTHER, _RANKS = Distractors.OTHER_VIDEOS, Distractors.SAME_VIDEO_RANKS
TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("ciu_title", "CIU-Title", "CIU", "title", title_option, _OTHER,
             "Based on the video, select the title its creator gave it."),
    TaskSpec("ciu_desc", "CIU-Desc", "CIU", "description", description_option, _OTHER,
             "Based on the video, select the description its creator wrote for it."),
    TaskSpec("cam_tag", "CAM-Tag", "CAM", "tags", tags_option, _OTHER,
             "Based on the video, select the set of tags its creator attached to it."),
    TaskSpec("cam_topic", "CAM-Topic", "CAM", "topics", topics_option, _OTHER,
             "Based on the video, select the hashtag topics that belong to it."),
    TaskSpec("cam_cat", "CAM-Cat", "CAM", "category", category_option, _OTHER,
             "Based on the video, select the category its creator filed it under.", similarity_ceiling=1.01,
             match_style=False, exclude=own_tags_and_hashtags),
    TaskSpec("uiu_match", "UIU-Match", "UIU", "match_comment", match_comment_option, _OTHER,
             "Based on the video, select the comment that a viewer actually wrote under this video.",
             exclude=own_comments),
    TaskSpec("uiu_pop", "UIU-Pop", "UIU", "comments", top_comment_option, _RANKS,
             "All four comments were written under this video. Based on the video, select the one that received "
             "the most likes.", similarity_ceiling=0.98),
)
TASKS_BY_NAME = {t.name: t for t in TASKS}
TASK_NAMES = tuple(t.name for t in TASKS)
COMMENT_GENERATION = "comment_generation"
COMMENT_INSTRUCTION = (
    "Watch the video and write one comment about it as a real viewer of this platform would: short, in your own "
    "voice, reacting to what you saw."
)
N_REFERENCES = 5  # top-liked real comments kept as references for the generation item


def task_spec(name: str) -> TaskSpec:
    try:
        return TASKS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown MIMIC-Bench task {name!r}; known: {', '.join(TASK_NAMES)}") from None


def question_id(task: str, video_id: str) -> str:
    """Stable id: one question per (task, video)."""
    return f"{task}:{video_id}"
