"""MIMIC-Chat configuration: a video or image vision tower, two projectors and a transformers decoder language model.

Remote code: this file imports only `transformers` (never the rest of the MIMIC-Bench project).
"""

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec

FUSION_MODES = ("token_gate", "xattn_gate")

# Vision towers, by `vision_config.model_type`. Video towers take clips of `vision_config.num_frames` frames (TimeSformer
# layers and VideoMAE's position table are bound to that count); image towers take one frame at a time. The token
# layout of each is stated by its adapter in modeling_mimic_chat.py.
VIDEO_TOWERS = ("timesformer", "videomae")
IMAGE_TOWERS = ("siglip_vision_model", "clip_vision_model")

# Special tokens of the unified interface Y = LM([VID], phi(V)', [SEP], T) plus the ChatML turn markers.
VID_START_TOKEN = "[VID]"
VID_SEP_TOKEN = "[SEP]"
VIDEO_PAD_TOKEN = "<|video_pad|>"
IM_START_TOKEN = "<|im_start|>"
IM_END_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|pad|>"

# Presets. `tiny` is sized for CPU tests and the 10-minute demo training; `paper` mirrors the paper's scale:
# `tiny` trains from random weights, so its LM starts at std 0.08 (about 1/sqrt(width 128)): the usual
# 0.02 is tuned for 4096-wide models, and at width 128 it leaves attention uniform for thousands of steps — letter
# answers stayed at chance. Its frozen vision tower keeps TimeSformer's 0.02.
# TimeSformer-base (8 x 224^2, patch 16, 12 layers, 768-d) and an InternLM2-7B-class Llama backbone
# (32 layers, 4096-d, 32 heads, 8 KV heads, 14336 FFN, vocab 92544 + added tokens, rope theta 1e6, 32k context).
PRESETS = {
    "tiny": {
        "vision_config": {
            "image_size": 32,
            "patch_size": 8,
            "num_channels": 3,
            "num_frames": 8,
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 128,
        },
        "text_config": {
            "vocab_size": 4000,
            "hidden_size": 128,
            "intermediate_size": 256,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "max_position_embeddings": 1024,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
            "tie_word_embeddings": False,
            "initializer_range": 0.08,
        },
        "initializer_range": 0.08,
        "temporal_num_frames": 16,
        "spatial_pool_grid": 2,
        "cross_attn_every_n_layers": 2,
    },
    "paper": {
        "vision_config": {
            "image_size": 224,
            "patch_size": 16,
            "num_channels": 3,
            "num_frames": 8,
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
        },
        "text_config": {
            "vocab_size": 92547,
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-5,
            "rope_parameters": {"rope_type": "dynamic", "rope_theta": 1000000.0, "factor": 2.0},
            "tie_word_embeddings": False,
        },
        "temporal_num_frames": 32,
        "spatial_pool_grid": 7,
        "cross_attn_every_n_layers": 4,
    },
}


@strict
class MimicChatConfig(PreTrainedConfig):
    r"""
    Configuration of [`MimicChatForConditionalGeneration`]: a vision tower shared by a spatial and a temporal branch,
    one two-layer projector per branch, a fusion step and a decoder language model. The defaults give a TimeSformer-base
    tower (224 x 224, 8 frames) and transformers' default `LlamaConfig`; the sizes of the paper and of the CPU-sized
    test model are the presets of [`~MimicChatConfig.from_preset`] (`"paper"`, `"tiny"`), and a model from pretrained
    checkpoints comes from [`~MimicChatForConditionalGeneration.from_pretrained_parts`].

    Configuration objects inherit from [`PreTrainedConfig`]; read its documentation for the arguments shared by every
    config (e.g. `output_hidden_states`).

    Args:
        text_config (`Union[PreTrainedConfig, dict]`, *optional*, defaults to `LlamaConfig()`):
            Config of the language model, any transformers decoder whose causal-LM class splits into a base model and
            `lm_head` (Llama, Qwen2/3, Mistral; InternLM2 after `convert_internlm2_to_llama.py`), built with
            `AutoModel.from_config`; a dict is read as a `"llama"` config unless it names another `model_type`.
        vision_config (`Union[PreTrainedConfig, dict]`, *optional*, defaults to `TimesformerConfig()`):
            Config of the vision tower shared by both branches (built with `AutoModel.from_config`; a dict is read as a
            `"timesformer"` config): a video tower (`timesformer`, `videomae`), which takes clips of its `num_frames`
            frames, or an image tower (`siglip_vision_model`, `clip_vision_model`), applied to each frame.
        video_token_id (`int`, *optional*, defaults to 5):
            Id of `<|video_pad|>`, the slots the visual tokens are written into (`"token_gate"` fusion).
        vid_start_token_id (`int`, *optional*, defaults to 3):
            Id of `[VID]`, the token that opens the video span.
        vid_sep_token_id (`int`, *optional*, defaults to 4):
            Id of `[SEP]`, the token that closes the video span.
        spatial_num_frames (`int`, *optional*, defaults to 8):
            Frames seen by the spatial branch (8 in the paper); a multiple of a video tower's `num_frames`.
        temporal_num_frames (`int`, *optional*, defaults to 32):
            Frames seen by the temporal branch; a multiple of `spatial_num_frames` and of a video tower's
            `num_frames`.
        spatial_pool_grid (`int`, *optional*, defaults to 7):
            The spatial branch averages its patch grid over time, then pools it to `spatial_pool_grid` x
            `spatial_pool_grid` tokens; between 1 and the tower's patch grid (`image_size // patch_size`).
        temporal_pool (`str`, *optional*, defaults to `"frame_mean"`):
            How the temporal branch pools a frame; `"frame_mean"` (the only value) gives one token per temporal
            frame, the mean over that frame's patches (one per tubelet of `vision_config.tubelet_size` frames for
            VideoMAE).
        projector_hidden_act (`str`, *optional*, defaults to `"gelu"`):
            Activation between the two linear layers of each projector (a key of `transformers.activations.ACT2FN`).
        fusion_mode (`str`, *optional*, defaults to `"token_gate"`):
            How visual tokens reach the language model. `"token_gate"`: each branch's tokens are scaled by
            2 * sigmoid(gate) and written into the `<|video_pad|>` slots between `[VID]` and `[SEP]`. `"xattn_gate"`:
            Flamingo-style tanh-gated cross-attention before every `cross_attn_every_n_layers`-th decoder layer; the
            prompt then holds only `[VID][SEP]`.
        gate_init (`float`, *optional*, defaults to 0.0):
            Initial gate logit; 0 gives a token-gate scale of 1 and a cross-attention gate of tanh(0) = 0.
        cross_attn_every_n_layers (`int`, *optional*, defaults to 4):
            With `"xattn_gate"`, a gated cross-attention block runs before decoder layers 0, n, 2n, ...; unused
            with `"token_gate"`.
        freeze_vision (`bool`, *optional*, defaults to `True`):
            Set the vision tower's parameters to `requires_grad=False` when the model is built or loaded.
        freeze_language_model (`bool`, *optional*, defaults to `True`):
            Set the language model's and `lm_head`'s parameters to `requires_grad=False` when the model is built or
            loaded (projectors, gates and cross-attention blocks always train).
        tie_word_embeddings (`bool`, *optional*, defaults to `False`):
            Whether `lm_head` shares its weight with the language model's input embeddings.
        vision_image_mean (`list[float]`, *optional*):
            Per-channel mean the video processor normalises frames with: the vision tower's own (SigLIP 0.5, CLIP's
            OpenAI mean); `None` means ImageNet's, which the TimeSformer and VideoMAE checkpoints use.
        vision_image_std (`list[float]`, *optional*):
            Per-channel standard deviation, as `vision_image_mean`.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialiser for the weights MIMIC-Chat adds itself (`lm_head`,
            cross-attention blocks); the projectors keep PyTorch's default init, and the vision tower and language
            model use their own configs' `initializer_range`.

    Example:

    ```python
    >>> from transformers import LlamaConfig, TimesformerConfig

    >>> from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
    >>> from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration

    >>> # A small TimeSformer tower (32 x 32 frames, 8 frames per clip) and a small Llama decoder
    >>> vision_config = TimesformerConfig(image_size=32, patch_size=8, num_frames=8, hidden_size=64,
    ...                                   num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    >>> text_config = LlamaConfig(vocab_size=4000, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
    ...                           num_attention_heads=8, num_key_value_heads=4)

    >>> # Initializing a MIMIC-Chat configuration: 2 x 2 spatial tokens + 16 temporal tokens
    >>> configuration = MimicChatConfig(vision_config=vision_config, text_config=text_config,
    ...                                 temporal_num_frames=16, spatial_pool_grid=2)
    >>> configuration.num_video_tokens
    20

    >>> # Initializing a model (with random weights) from the configuration
    >>> model = MimicChatForConditionalGeneration(configuration)

    >>> # Accessing the model configuration
    >>> configuration = model.config

    >>> # The same sizes from the `tiny` preset; `from_preset("paper")` gives the paper's
    >>> MimicChatConfig.from_preset("tiny").num_video_tokens
    20
    ```
    """

    model_type = "mimic_chat"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama"),
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="timesformer"),
    }

    text_config: dict | PreTrainedConfig | None = None
    vision_config: dict | PreTrainedConfig | None = None
    video_token_id: int = 5
    vid_start_token_id: int = 3
    vid_sep_token_id: int = 4
    spatial_num_frames: int = 8
    temporal_num_frames: int = 32
    spatial_pool_grid: int = 7
    temporal_pool: str = "frame_mean"
    projector_hidden_act: str = "gelu"
    fusion_mode: str = "token_gate"
    gate_init: float = 0.0
    cross_attn_every_n_layers: int = 4
    freeze_vision: bool = True
    freeze_language_model: bool = True
    tie_word_embeddings: bool = False
    vision_image_mean: list[float] | None = None
    vision_image_std: list[float] | None = None
    initializer_range: float = 0.02

    def validate_architecture(self):
        super().validate_architecture()
        if self.fusion_mode not in FUSION_MODES:
            raise ValueError(f"fusion_mode must be one of {FUSION_MODES}, got {self.fusion_mode!r}")
        if self.temporal_pool != "frame_mean":
            raise ValueError(f"temporal_pool must be 'frame_mean', got {self.temporal_pool!r}")
        tower = self.vision_config.model_type
        if tower not in VIDEO_TOWERS + IMAGE_TOWERS:
            raise ValueError(
                f"vision tower {tower!r} is not supported; use one of {VIDEO_TOWERS + IMAGE_TOWERS} (for a full CLIP or "
                "SigLIP checkpoint, its vision_config)"
            )
        for name in ("spatial_num_frames", "temporal_num_frames"):
            if getattr(self, name) % self.tower_clip_len:
                raise ValueError(
                    f"{name} ({getattr(self, name)}) must be a multiple of vision_config.num_frames "
                    f"({self.tower_clip_len}): the {tower} tower is bound to clips of that many frames"
                )
        if self.temporal_num_frames % self.spatial_num_frames:
            raise ValueError(
                f"temporal_num_frames ({self.temporal_num_frames}) must be a multiple of spatial_num_frames "
                f"({self.spatial_num_frames}): the temporal branch runs the tower on clips of that size"
            )
        patch_grid = self.vision_config.image_size // self.vision_config.patch_size
        if not 1 <= self.spatial_pool_grid <= patch_grid:
            raise ValueError(f"spatial_pool_grid must be in [1, {patch_grid}], got {self.spatial_pool_grid}")

    @property
    def tower_clip_len(self) -> int:
        """Frames the vision tower takes at once: a video tower's `num_frames`, 1 for an image tower."""
        return self.vision_config.num_frames if self.vision_config.model_type in VIDEO_TOWERS else 1

    @property
    def tower_time_stride(self) -> int:
        """Frames per temporal token of the tower's output (VideoMAE's tubelet size; 1 for the others)."""
        return getattr(self.vision_config, "tubelet_size", 1) if self.vision_config.model_type == "videomae" else 1

    @property
    def num_spatial_tokens(self) -> int:
        return self.spatial_pool_grid**2

    @property
    def num_temporal_tokens(self) -> int:
        return self.temporal_num_frames // self.tower_time_stride

    @property
    def num_video_tokens(self) -> int:
        """`<|video_pad|>` slots between [VID] and [SEP]: all visual tokens for token_gate, none for xattn_gate."""
        if self.fusion_mode == "xattn_gate":
            return 0
        return self.num_spatial_tokens + self.num_temporal_tokens

    @classmethod
    def from_preset(cls, name: str, tokenizer=None, **overrides) -> "MimicChatConfig":
        """Build the `tiny` or `paper` config. With a tokenizer, the vocabulary size and special-token ids follow it.

        `overrides` replace top-level fields; `text_config` / `vision_config` dicts are merged into the preset's.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        preset = {key: dict(value) if isinstance(value, dict) else value for key, value in PRESETS[name].items()}
        for sub in ("text_config", "vision_config"):
            preset[sub] = {**preset[sub], **overrides.pop(sub, {})}
        if tokenizer is not None:
            text_ids, ids = special_token_ids(tokenizer)
            preset["text_config"].update(vocab_size=len(tokenizer), **text_ids)
            preset.update(ids)
        preset["text_config"]["model_type"] = "llama"
        preset["vision_config"]["model_type"] = "timesformer"
        return cls(**{**preset, **overrides})


def special_token_ids(tokenizer) -> tuple[dict, dict]:
    """(text_config fields, MimicChatConfig fields) that follow a tokenizer holding MIMIC-Chat's special tokens."""
    missing = [token for token in (IM_END_TOKEN, VIDEO_PAD_TOKEN, VID_START_TOKEN, VID_SEP_TOKEN)
               if token not in tokenizer.get_vocab()]
    if missing or tokenizer.pad_token_id is None:
        raise ValueError(f"the tokenizer lacks MIMIC-Chat's special tokens {missing or ['a pad token']}; add them "
                         "first (mimic_train.tokenizer.add_special_tokens)")
    text = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.convert_tokens_to_ids(IM_END_TOKEN)}
    ids = {"video_token_id": tokenizer.convert_tokens_to_ids(VIDEO_PAD_TOKEN),
           "vid_start_token_id": tokenizer.convert_tokens_to_ids(VID_START_TOKEN),
           "vid_sep_token_id": tokenizer.convert_tokens_to_ids(VID_SEP_TOKEN)}
    return text, ids


__all__ = ["MimicChatConfig"]
