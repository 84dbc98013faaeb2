"""The seven four-option MIMIC-Bench tasks and the comment-generation item: one declarative spec each.

A spec names the task, its axis, the metadata field its options come from, how distractors are drawn, and its
versioned instruction. Changing an instruction means bumping PROMPT_VERSION (it is stored in every question row and
is part of every evaluation cache key), never editing text in place.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMPT_VERSION = "v1"
LETTERS = ("A", "B", "C", "D")
N_OPTIONS = len(LETTERS)
AXES = ("CIU", "CAM", "UIU")


@dataclass(frozen=True)
class TaskSpec:
    name: str  # config name in the release
    label: str  # the paper's column name
    axis: str
    field: str  # metadata field the options come from (see mimic_bench.options)
    distractors: str  # "other_videos": the same field of irrelevant videos | "same_video_ranks": UIU-Pop's rule
    instruction: str
    similarity_ceiling: float = 0.8  # options whose embedding cosine reaches this are near-duplicates


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("ciu_title", "CIU-Title", "CIU", "title", "other_videos",
             "Based on the video, select the title its creator gave it."),
    TaskSpec("ciu_desc", "CIU-Desc", "CIU", "description", "other_videos",
             "Based on the video, select the description its creator wrote for it."),
    TaskSpec("cam_tag", "CAM-Tag", "CAM", "tags", "other_videos",
             "Based on the video, select the set of tags its creator attached to it."),
    TaskSpec("cam_topic", "CAM-Topic", "CAM", "topics", "other_videos",
             "Based on the video, select the hashtag topics that belong to it."),
    TaskSpec("cam_cat", "CAM-Cat", "CAM", "category", "other_videos",
             "Based on the video, select the category its creator filed it under.", similarity_ceiling=1.01),
    TaskSpec("uiu_match", "UIU-Match", "UIU", "match_comment", "other_videos",
             "Based on the video, select the comment that a viewer actually wrote under this video."),
    TaskSpec("uiu_pop", "UIU-Pop", "UIU", "comments", "same_video_ranks",
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
