"""The "Human or AI?" game: bundled rounds (a bench video, real top-liked comments, MIMIC-Chat comments), dealt shuffled.

The Space keeps each dealt round's sources in server-side session state (gr.State is never sent to the browser); the
page only ever receives the comment texts until the visitor has guessed. `mimic release` writes the data folder:
`rounds.json` + `examples/<video_id>.mp4` (see `assemble.py`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

ROUNDS_FILE = "rounds.json"
HUMAN, MODEL = "human", "MIMIC-Chat"


@dataclass
class SpaceData:
    root: Path
    rounds: list[dict]  # {video_id, platform, file, comments: [{text, source}]}
    prompts: dict[str, str]  # platform -> the comment-generation prompt that serves uploads (rendered at release)

    def video_path(self, round_: dict) -> str:
        return str(self.root / round_["file"])

    def examples(self) -> list[str]:
        return [self.video_path(r) for r in self.rounds]


def load_space_data(root: str | Path | None) -> SpaceData | None:
    """The bundled data, or None when the folder or its rounds file is absent (the Space then says so)."""
    if root is None or not (Path(root) / ROUNDS_FILE).is_file():
        return None
    payload = json.loads((Path(root) / ROUNDS_FILE).read_text())
    return SpaceData(root=Path(root), rounds=payload["rounds"], prompts=payload["prompts"])


def deal(data: SpaceData, seed: int) -> tuple[dict, dict]:
    """(public, secret) for one round: texts in a seeded shuffled order, and their sources in the same order."""
    rng = random.Random(seed)
    round_ = data.rounds[rng.randrange(len(data.rounds))]
    comments = list(round_["comments"])
    rng.shuffle(comments)
    public = {"video": data.video_path(round_), "texts": [c["text"] for c in comments]}
    secret = {"video_id": round_["video_id"], "sources": [c["source"] for c in comments]}
    return public, secret


def reveal(secret: dict, texts: list[str], guessed_ai: list[int]) -> tuple[str, int]:
    """Markdown table of every comment's true source next to the guess, and the number guessed right."""
    rows, correct = [], 0
    for position, (text, source) in enumerate(zip(texts, secret["sources"], strict=True), start=1):
        guess = MODEL if position in guessed_ai else HUMAN
        hit = guess == source
        correct += hit
        rows.append(f"| {position} | {text.replace('|', '/')} | {'AI' if guess == MODEL else 'Human'} | "
                    f"{'AI (' + MODEL + ')' if source == MODEL else 'Human'} | {'✓' if hit else '✗'} |")
    header = "| # | comment | your guess | truth | |\n|---|---|---|---|---|"
    summary = f"**You got {correct} of {len(texts)} right.**"
    return summary + "\n\n" + header + "\n" + "\n".join(rows), correct
