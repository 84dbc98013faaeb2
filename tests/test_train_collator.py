"""The SFT collator: only the answer tokens (and the closing <|im_end|>) carry loss. Tiny random tokenizer/model."""

import pytest
import torch
from model_helpers import tiny_model, tiny_processor, tiny_tokenizer
from train_helpers import RandomFrames, smoke_rows

from mimic_train.collator import IGNORE_INDEX, SFTCollator


@pytest.fixture(scope="module")
def processor():
    tokenizer = tiny_tokenizer()
    return tiny_processor(tiny_model(tokenizer), tokenizer)


def test_labels_cover_exactly_the_answer_tokens(processor):
    rows = smoke_rows(6)
    batch = SFTCollator(processor, RandomFrames(), max_length=512)(rows)
    tokenizer = processor.tokenizer
    video_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|video_pad|>", "[VID]", "[SEP]")]
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["pixel_values_videos"].shape[:2] == (6, 16) and batch["pixel_values_spatial"].shape[:2] == (6, 8)
    for row, ids, labels, mask in zip(rows, batch["input_ids"], batch["labels"], batch["attention_mask"], strict=True):
        supervised = labels != IGNORE_INDEX
        # The supervised tokens decode to the target followed by the end-of-turn marker, nothing else.
        assert tokenizer.decode(labels[supervised]) == row["target"] + "<|im_end|>"
        assert torch.equal(labels[supervised], ids[supervised])
        # They are the last real tokens of the row: the prompt comes before, padding after.
        real = int(mask.sum())
        assert supervised.nonzero().flatten().tolist() == list(range(real - int(supervised.sum()), real))
        assert not supervised[real:].any() and (ids[real:] == tokenizer.pad_token_id).all()
        assert (ids == video_ids[0]).sum() == processor.num_video_tokens
        assert not supervised[torch.isin(ids, torch.tensor(video_ids))].any()
    # The model computes a finite loss from these labels.
    model = tiny_model(processor.tokenizer)
    assert torch.isfinite(model(**batch).loss)


def test_letter_target_is_one_token_plus_end_of_turn(processor):
    rows = [row for row in smoke_rows(4) if row["task"] == "ciu_title"]
    batch = SFTCollator(processor, RandomFrames(), max_length=512)(rows)
    assert ((batch["labels"] != IGNORE_INDEX).sum(dim=1) == 2).all()


def test_too_long_row_is_refused_with_its_id(processor):
    with pytest.raises(ValueError, match="q0 is .* over max_length=16"):
        SFTCollator(processor, RandomFrames(), max_length=16)(smoke_rows(1))


def test_slot_text_row_shows_its_words_in_the_video_slot_and_loads_no_video(processor):
    rows = smoke_rows(4)[:2]  # two MCQ rows
    rows[0]["slot_text"] = "blue box rises"
    loaded = []

    def frames(row):
        loaded.append(row["question_id"])
        return RandomFrames()(row)

    batch = SFTCollator(processor, frames, max_length=512)(rows)
    tokenizer = processor.tokenizer
    assert loaded == ["q1"]  # only the video row is decoded
    assert batch["pixel_values_videos"].shape[0] == 1 and batch["pixel_values_spatial"].shape[0] == 1
    pad_id = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert [(ids == pad_id).sum().item() for ids in batch["input_ids"]] == [0, processor.num_video_tokens]
    real = batch["input_ids"][0][batch["attention_mask"][0].bool()]
    assert "[VID] blue box rises[SEP]" in tokenizer.decode(real)
    supervised = batch["labels"][0] != IGNORE_INDEX
    assert tokenizer.decode(batch["labels"][0][supervised]) == rows[0]["target"] + "<|im_end|>"
    model = tiny_model(tokenizer)  # a mixed batch: the model fills only the second row's slots
    assert torch.isfinite(model(**batch).loss)
    text_only = SFTCollator(processor, frames, max_length=512)([rows[0]])
    assert "pixel_values_videos" not in text_only and torch.isfinite(model(**text_only).loss)
