"""MIMIC-Chat's tokenizer: a byte-level BPE trained locally for the presets (no hub downloads), or a pretrained LM's
tokenizer given the model's special tokens."""

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from modeling_mimic_chat.configuration_mimic_chat import (
    IM_END_TOKEN,
    IM_START_TOKEN,
    PAD_TOKEN,
    VID_SEP_TOKEN,
    VID_START_TOKEN,
    VIDEO_PAD_TOKEN,
)

# Fixed order, so the ids match the `tiny` preset defaults: pad 0, <|im_start|> 1, <|im_end|> 2, [VID] 3, [SEP] 4,
# <|video_pad|> 5. `<|im_end|>` doubles as eos (InternLM2-chat convention).
SPECIAL_TOKENS = [PAD_TOKEN, IM_START_TOKEN, IM_END_TOKEN, VID_START_TOKEN, VID_SEP_TOKEN, VIDEO_PAD_TOKEN]


def build_tokenizer(texts: Iterable[str], vocab_size: int = 4000) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts` (deterministic for the same texts in the same order).

    The vocabulary may come out smaller than `vocab_size` on a small corpus; size the model with `len(tokenizer)`.
    Padding defaults to the left, which batched generation needs; training collators pad as they see fit.
    """
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD_TOKEN,
        eos_token=IM_END_TOKEN,
        extra_special_tokens=SPECIAL_TOKENS[1:],
        padding_side="left",
    )


def add_special_tokens(tokenizer) -> list[int]:
    """Give a pretrained LM's tokenizer the special tokens MIMIC-Chat needs that it lacks (in place); returns their ids.

    `[VID]`, `[SEP]`, `<|video_pad|>` and the ChatML markers are added as special tokens, `<|pad|>` only when the
    tokenizer has no pad token; tokens it already has (Qwen2 ships `<|im_start|>`, `<|im_end|>`, `<|video_pad|>`) keep
    their ids. The model's embeddings must then grow to `len(tokenizer)`, new rows at the mean
    (`MimicChatForConditionalGeneration.from_pretrained_parts(..., new_token_ids=...)`). Padding goes to the left, as
    with `build_tokenizer`.
    """
    vocab = tokenizer.get_vocab()
    tokenizer.add_tokens([token for token in SPECIAL_TOKENS[1:] if token not in vocab], special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    tokenizer.padding_side = tokenizer.init_kwargs["padding_side"] = "left"  # init_kwargs: what save_pretrained keeps
    return sorted(index for token, index in tokenizer.get_vocab().items() if token not in vocab)
