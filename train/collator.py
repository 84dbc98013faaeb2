"""Batch SFT rows for MIMIC-Chat: frames through the processor, chat template, assistant-only labels.

A row holds `prompt` (the user text, rendered by mimic_bench.prompts), `target` (a letter or a comment) and `video_path`.
The prompt turn (video placeholder included) and the completion (`target` + `<|im_end|>`) are tokenised separately and
concatenated, so the labels are exactly the completion tokens; everything else — padding, `[VID]`, `<|video_pad|>`,
`[SEP]`, the instruction and options — is -100. A warm-up row with `slot_text` shows those words between `[VID]` and
`[SEP]` instead of the video (see `sft_data.curriculum_order`); its video is not loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from modeling_mimic_chat.configuration_mimic_chat import IM_END_TOKEN
from modeling_mimic_chat.frames_mimic_chat import FramePolicy

IGNORE_INDEX = -100

FrameLoader = Callable[[dict[str, Any]], dict[str, torch.Tensor]]


class VideoFrameLoader:
    """`loader(row)` -> {"spatial", "temporal"} uint8 frames of `row["video_path"]` under the model's frame policy,
    decoded once per video and memoised across epochs (resized in the decoder: tiny preset ~50 KB a video).

    A missing or corrupt file raises `VideoDecodeError` naming the path.
    """

    def __init__(self, config, memoise: bool = True):
        self.policy = FramePolicy.from_config(config)
        self.memo: dict[str, dict[str, torch.Tensor]] | None = {} if memoise else None

    def __call__(self, row: dict[str, Any]) -> dict[str, torch.Tensor]:
        path = row["video_path"]
        if self.memo is not None and path in self.memo:
            return self.memo[path]
        sampled = self.policy.sample(path, threads=1)
        frames = {"spatial": sampled.spatial, "temporal": sampled.temporal}
        if self.memo is not None:
            self.memo[path] = frames
        return frames


def user_turn(processor, prompt: str) -> str:
    """The chat-templated user turn with one video placeholder, ending in the assistant header."""
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


class SFTCollator:
    """Turns a list of SFT rows into model inputs with `labels`; padding on the right (training only).

    `load_frames(row)` returns `{"spatial": uint8 [8,h,w,3], "temporal": uint8 [T,h,w,3]}`; the default decodes
    `row["video_path"]` with the model's frame policy (`VideoFrameLoader`). A row longer than `max_length` raises instead
    of being truncated, because truncation would cut the answer or the video tokens.
    """

    def __init__(self, processor, load_frames: FrameLoader, max_length: int):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.load_frames = load_frames
        self.max_length = max_length
        self.end_text = IM_END_TOKEN
        ids = self.tokenizer.convert_tokens_to_ids
        self.video_special_ids = torch.tensor(
            [ids(processor.video_token), ids(processor.vid_start_token), ids(processor.vid_sep_token)]
        )

    def encode(self, row: dict[str, Any]) -> tuple[list[int], list[int]]:
        """(input_ids, labels) of one row, unpadded."""
        processor, turn = self.processor, user_turn(self.processor, row["prompt"])
        if row.get("slot_text") is None:
            prompt = processor.expand_video_placeholder(turn)
        else:  # leading space: the words tokenise as they do in the options
            slot = f"{processor.vid_start_token} {row['slot_text']}{processor.vid_sep_token}"
            prompt = turn.replace(processor.video_token, slot)
        prompt_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        completion_ids = self.tokenizer(row["target"] + self.end_text, add_special_tokens=False)["input_ids"]
        input_ids = prompt_ids + completion_ids
        if len(input_ids) > self.max_length:
            raise ValueError(
                f"SFT row {row.get('question_id', '?')} is {len(input_ids)} tokens, over max_length={self.max_length}; "
                "raise max_length (it must hold the video tokens, the prompt and the answer)"
            )
        return input_ids, [IGNORE_INDEX] * len(prompt_ids) + completion_ids

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        encoded = [self.encode(row) for row in rows]
        width = max(len(ids) for ids, _ in encoded)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, (ids, row_labels) in enumerate(encoded):
            input_ids[index, : len(ids)] = torch.tensor(ids)
            labels[index, : len(ids)] = torch.tensor(row_labels)
            attention_mask[index, : len(ids)] = 1
        # Safety net: video slots never carry loss, whatever a target string contains.
        labels[torch.isin(input_ids, self.video_special_ids)] = IGNORE_INDEX
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        videos = [self.load_frames(row) for row in rows if row.get("slot_text") is None]
        if videos:  # in row order, as the model fills the rows' video slots
            pixels = self.processor.video_processor(videos, return_tensors="pt")
            batch["pixel_values_videos"] = pixels["pixel_values_videos"]
            batch["pixel_values_spatial"] = pixels["pixel_values_spatial"]
        return batch
