"""MIMIC-Chat processor: video processor + tokenizer; expands each video placeholder into [VID] + N pads + [SEP].

Remote code: imports only transformers and its sibling files.
"""

from transformers.image_processing_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin


class MimicChatProcessor(ProcessorMixin):
    r"""
    `processor(text=..., videos=...)` -> input_ids, attention_mask, pixel_values_spatial, pixel_values_videos.

    `text` is a string or a list of strings (chat-templated or plain). Each text that comes with a video holds exactly one
    `<|video_pad|>` placeholder (the chat template renders a `{"type": "video"}` item as one); it becomes
    `[VID]` + `<|video_pad|>` x `num_video_tokens` + `[SEP]`. `videos` is None (text-only batch) or a list with one video
    per text: a local file path or its bytes (decoded with the project's sampler), pre-sampled frames or a decoded
    clip (see [`MimicChatVideoProcessor`]); `apply_chat_template(..., tokenize=True)` with a
    `{"type": "video", "path": ...}` item passes the path through. Padding follows `padding_side` (default: the
    tokenizer's, left for `build_tokenizer`).

    Args:
        video_processor ([`MimicChatVideoProcessor`], *optional*):
            Turns each video into the spatial and temporal frame tensors; its frame counts and `size` must match the
            model's config (`spatial_num_frames`, `temporal_num_frames`, `vision_config.image_size`).
        tokenizer ([`PreTrainedTokenizerBase`], *optional*):
            Tokenizer holding the special tokens `<|video_pad|>`, `[VID]`, `[SEP]`, `<|im_start|>` and `<|im_end|>`.
        chat_template (`str`, *optional*):
            Jinja chat template (`chat_template.jinja`: ChatML, `{"type": "video"}` rendered as one `<|video_pad|>`);
            needed for `apply_chat_template`, not for calling the processor on ready-made text.
        num_video_tokens (`int`, *optional*, defaults to 20):
            `<|video_pad|>` slots each placeholder expands to; must equal the model's `config.num_video_tokens`
            (all spatial + temporal tokens with `"token_gate"` fusion, 0 with `"xattn_gate"`).
        video_token (`str`, *optional*, defaults to `"<|video_pad|>"`):
            The per-video placeholder in the text, repeated `num_video_tokens` times in the expansion.
        vid_start_token (`str`, *optional*, defaults to `"[VID]"`):
            The token written before the video slots.
        vid_sep_token (`str`, *optional*, defaults to `"[SEP]"`):
            The token written after the video slots.
        **kwargs:
            Passed on to [`ProcessorMixin`].

    Example:

    ```python
    >>> import torch
    >>> from mimic_train.tokenizer import build_tokenizer  # or the tokenizer saved with a MIMIC-Chat model

    >>> from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
    >>> from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration
    >>> from modeling_mimic_chat.processing_mimic_chat import MimicChatProcessor
    >>> from modeling_mimic_chat.video_processing_mimic_chat import MimicChatVideoProcessor

    >>> tokenizer = build_tokenizer(["a red ball rolls across the floor", "what a goal"], vocab_size=300)
    >>> config = MimicChatConfig.from_preset("tiny", tokenizer=tokenizer)

    >>> # Frame counts, frame size and video-token count follow the model's config
    >>> side = config.vision_config.image_size
    >>> video_processor = MimicChatVideoProcessor(size={"height": side, "width": side},
    ...                                           spatial_num_frames=config.spatial_num_frames,
    ...                                           temporal_num_frames=config.temporal_num_frames)
    >>> processor = MimicChatProcessor(video_processor=video_processor, tokenizer=tokenizer,
    ...                                num_video_tokens=config.num_video_tokens)

    >>> clip = torch.randint(0, 256, (40, 48, 64, 3), dtype=torch.uint8)  # 40 decoded frames of 48 x 64
    >>> batch = processor(text=["<|video_pad|>What happens in the video?"], videos=[clip])
    >>> int((batch["input_ids"] == config.video_token_id).sum())
    20
    >>> batch["pixel_values_spatial"].shape, batch["pixel_values_videos"].shape
    (torch.Size([1, 8, 3, 32, 32]), torch.Size([1, 16, 3, 32, 32]))

    >>> model = MimicChatForConditionalGeneration(config)
    >>> model(**batch).logits.shape[-1] == len(tokenizer)
    True
    ```
    """

    def __init__(
        self,
        video_processor=None,
        tokenizer=None,
        chat_template=None,
        num_video_tokens: int = 20,
        video_token: str = "<|video_pad|>",
        vid_start_token: str = "[VID]",
        vid_sep_token: str = "[SEP]",
        **kwargs,
    ):
        self.num_video_tokens = num_video_tokens
        self.video_token = video_token
        self.vid_start_token = vid_start_token
        self.vid_sep_token = vid_sep_token
        super().__init__(video_processor, tokenizer, chat_template=chat_template, **kwargs)

    def expand_video_placeholder(self, text: str) -> str:
        return text.replace(
            self.video_token, self.vid_start_token + self.video_token * self.num_video_tokens + self.vid_sep_token
        )

    def __call__(self, text=None, videos=None, return_tensors="pt", padding=True, padding_side=None, **kwargs):
        if text is None:
            raise ValueError("MimicChatProcessor needs `text` (a prompt per sample)")
        texts = [text] if isinstance(text, str) else list(text)
        if videos is not None and not isinstance(videos, (list, tuple)):
            videos = [videos]
        if videos is not None:  # apply_chat_template nests them per conversation: [[video], [video], ...]
            videos = [_one_video(video, index) for index, video in enumerate(videos)]
        if videos is not None and len(videos) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(videos)} videos; pass one video per text or None")
        for index, sample in enumerate(texts):
            count = sample.count(self.video_token)
            wanted = 0 if videos is None else 1
            if count != wanted:
                raise ValueError(
                    f"text {index} holds {count} {self.video_token} placeholders; expected {wanted} "
                    f"({'no videos were passed' if videos is None else 'one video per text'})"
                )
        video_inputs = {}
        if videos is not None:
            video_inputs = self.video_processor(videos, return_tensors=return_tensors)
            texts = [self.expand_video_placeholder(sample) for sample in texts]
        text_inputs = self.tokenizer(
            texts,
            return_tensors=return_tensors,
            padding=padding,
            padding_side=padding_side or self.tokenizer.padding_side,
            **kwargs,
        )
        return BatchFeature({**text_inputs, **video_inputs}, tensor_type=return_tensors)

    @property
    def model_input_names(self):
        return ["input_ids", "attention_mask", "pixel_values_spatial", "pixel_values_videos"]


def _one_video(video, index: int):
    if not isinstance(video, (list, tuple)):
        return video
    if len(video) != 1:
        raise ValueError(f"text {index} comes with {len(video)} videos; MIMIC-Chat takes one video per text")
    return video[0]


__all__ = ["MimicChatProcessor"]
