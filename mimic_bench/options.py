"""The text machinery behind options: normalisation, the style features used for matching, and comment rules.

Which text a video contributes to a task is the task's own `option` function (mimic_bench.tasks.TaskSpec); the ones
that need more than a record field live here (`match_comment`, which needs `generic_comments`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from mimic_data.select import normalise_title

GENERIC_COMMENT_SHARE = 0.05  # a comment text found under >= 5 % of videos ("first", "lol") belongs to no one video
GENERIC_SCAN_DEPTH = 100  # comments per video looked at when counting how common a text is

_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]")


def normalise(text: str) -> str:
    """The key two texts are compared by (casefolded, punctuation and emoji dropped)."""
    return normalise_title(text)


def compact_key(text: str) -> str:
    """normalise() without spaces: a category name, its tag and its hashtag ("Pets & Animals", "petsanimals") meet."""
    return normalise(text).replace(" ", "")


def style_signature(text: str) -> tuple[bool, bool, bool, bool]:
    """Formatting tells a text-only model could use: ALL CAPS, emoji, trailing '!', hashtags."""
    letters = [ch for ch in text if ch.isalpha()]
    all_caps = len(letters) >= 3 and all(ch.isupper() for ch in letters if unicodedata.category(ch) != "Lo")
    return all_caps, bool(_EMOJI.search(text)), text.rstrip().endswith("!"), "#" in text


def generic_comments(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Normalised comment texts common enough across videos that they cannot identify one video."""
    df: Counter[str] = Counter()
    n_videos = 0
    for record in records:
        n_videos += 1
        df.update({normalise(c["text"]) for c in record["comments"][:GENERIC_SCAN_DEPTH]})
    threshold = max(3, GENERIC_COMMENT_SHARE * n_videos)
    return {text for text, count in df.items() if count >= threshold or not text}


def match_comment(record: Mapping[str, Any], generic: set[str]) -> str | None:
    """UIU-Match's option for a video: its most-liked comment at rank >= 2 that is not generic.

    Rank 1 is left out because it is UIU-Pop's answer: otherwise one video's two questions would share a text.
    """
    for comment in record["comments"][1:]:
        if normalise(comment["text"]) not in generic:
            return comment["text"]
    return None

