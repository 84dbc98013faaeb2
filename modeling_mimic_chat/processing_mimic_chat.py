"""MIMIC-Chat processor: video processor + tokenizer; expands each video placeholder into [VID] + N pads + [SEP].

Remote code: imports only transformers and its sibling files.
"""

from transformers.image_processing_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin


class MimicChatProcessor(ProcessorMixin):
    """`processor(text=..., videos=...)` -> input_ids, attention_mask, pixel_values_spatial, pixel_values_videos.

    `text` is a string or a list of strings (chat-templated or plain). Each text that comes with a video holds exactly one
    `<|video_pad|>` placeholder (the chat template renders a `{"type": "video"}` item as one); it becomes
    `[VID]` + `<|video_pad|>` x `num_video_tokens` + `[SEP]`. `videos` is None (text-only batch) or a list with one video
    per text. Padding follows `padding_side` (default: the tokenizer's, left for `build_tokenizer`).
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


__all__ = ["MimicChatProcessor"]
