"""MIMIC-Chat: a spatial-temporal dual-branch video encoder feeding a decoder LM, Y = LM([VID], phi(V)', [SEP], T).

Remote code: imports only torch/transformers and its sibling files (never the rest of the MIMIC-Bench project).
"""

import json
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.utils import cached_file, logging

from .configuration_mimic_chat import IMAGE_TOWERS, MimicChatConfig, special_token_ids
from .frames_mimic_chat import segment_centres

logger = logging.get_logger(__name__)


@dataclass
class MimicChatModelOutputWithPast(BaseModelOutputWithPast):
    """`visual_memory`: projected video tokens the cross-attention blocks read; generation carries it to decode steps."""

    visual_memory: torch.FloatTensor | None = None


@dataclass
class MimicChatCausalLMOutputWithPast(CausalLMOutputWithPast):
    visual_memory: torch.FloatTensor | None = None


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable / frozen / total parameter counts (shared tensors counted once)."""
    seen, trainable, frozen = set(), 0, 0
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        if parameter.requires_grad:
            trainable += parameter.numel()
        else:
            frozen += parameter.numel()
    return {"trainable": trainable, "frozen": frozen, "total": trainable + frozen}


# ----------------------------------------------------------------------------------------------- vision tower adapters
# Each turns clips (n, clip_len, 3, H, W) into patch tokens laid out as (n, patches, frames, width), where `frames` is
# clip_len / the tower's time stride, in time order, and `patches` the (image_size / patch_size)^2 grid, row-major.


def _timesformer_tokens(tower, clips: torch.Tensor, num_patches: int) -> torch.Tensor:
    """TimeSformer: last_hidden_state (n, 1 + patches * frames, width), CLS first, then patch-major, time-minor."""
    tokens = tower(pixel_values=clips).last_hidden_state[:, 1:]  # drop CLS
    return tokens.reshape(clips.shape[0], num_patches, -1, tokens.shape[-1])


def _videomae_tokens(tower, clips: torch.Tensor, num_patches: int) -> torch.Tensor:
    """VideoMAE: last_hidden_state (n, tubelets * patches, width), no CLS, tubelet-major (one patch grid per
    `tubelet_size` frames)."""
    tokens = tower(pixel_values=clips).last_hidden_state
    return tokens.reshape(clips.shape[0], -1, num_patches, tokens.shape[-1]).transpose(1, 2)


def _image_tokens(tower, clips: torch.Tensor, num_patches: int) -> torch.Tensor:
    """SigLIP / CLIP ViT, one frame at a time: last_hidden_state (n, prefix + patches, width); CLIP's prefix is its
    CLS token, SigLIP has none."""
    tokens = tower(pixel_values=clips[:, 0]).last_hidden_state
    return tokens[:, tokens.shape[1] - num_patches :].unsqueeze(2)


TOWER_ADAPTERS = {
    "timesformer": _timesformer_tokens,
    "videomae": _videomae_tokens,
    **dict.fromkeys(IMAGE_TOWERS, _image_tokens),
}


def _encode_clips(config: MimicChatConfig, tower, frames: torch.Tensor) -> torch.Tensor:
    """(B, F, 3, H, W) frames -> patch tokens (clips, patches, frames per clip, width), the tower run on clips of
    `config.tower_clip_len` frames (B * F / clip_len clips) through its adapter."""
    clips = frames.to(tower.dtype).reshape(-1, config.tower_clip_len, *frames.shape[2:])
    num_patches = (config.vision_config.image_size // config.vision_config.patch_size) ** 2
    tower_trainable = any(parameter.requires_grad for parameter in tower.parameters())
    with torch.set_grad_enabled(torch.is_grad_enabled() and tower_trainable):
        return TOWER_ADAPTERS[config.vision_config.model_type](tower, clips, num_patches)


def pooled_tower_features(
    config: MimicChatConfig, tower, pixel_values_videos: torch.Tensor, pixel_values_spatial: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The tower's tokens pooled as MIMIC-Chat feeds its projectors: (B, grid^2, vision width) and (B, T, vision width).

    A function of the config and the tower alone, so a tower can be trained on exactly these features without a
    language model (the demo's stand-in tower, `mimic_train.standins`).
    pixel_values_videos: (B, T, 3, H, W) temporal frames. pixel_values_spatial: (B, 8, 3, H, W); when absent, the
    spatial frames are taken from the temporal ones at segment centres. T / tower_time_stride temporal tokens.
    """
    num_temporal = config.temporal_num_frames
    batch = pixel_values_videos.shape[0]
    if pixel_values_videos.shape[1] != num_temporal:
        raise ValueError(f"pixel_values_videos has {pixel_values_videos.shape[1]} frames; config wants {num_temporal}")
    if pixel_values_spatial is None:
        pixel_values_spatial = pixel_values_videos[:, segment_centres(num_temporal, config.spatial_num_frames)]
    # Mean over all frames of a video: its clips are gathered along the frame axis first (a view for one clip).
    spatial = _encode_clips(config, tower, pixel_values_spatial).unflatten(0, (batch, -1)).transpose(1, 2)
    spatial = spatial.flatten(2, 3).mean(dim=2)
    grid = config.vision_config.image_size // config.vision_config.patch_size
    spatial = spatial.transpose(1, 2).reshape(batch, -1, grid, grid)
    spatial = F.adaptive_avg_pool2d(spatial, config.spatial_pool_grid).flatten(2).transpose(1, 2)
    temporal = _encode_clips(config, tower, pixel_values_videos).mean(dim=1)  # mean over patches
    return spatial, temporal.reshape(batch, config.num_temporal_tokens, -1)


def _tower_attention(vision_config) -> None:
    """Run the tower with the requested attention when its class supports it, else eager (TimeSformer has only eager),
    so one `attn_implementation="sdpa"` serves the LM and any tower."""
    requested = vision_config._attn_implementation
    if requested in (None, "eager"):
        return
    tower_class = MODEL_MAPPING[type(vision_config)]
    if "flash" in requested:
        supported = tower_class._supports_flash_attn
    elif "flex" in requested:
        supported = tower_class._supports_flex_attn
    else:
        supported = requested == "sdpa" and tower_class._supports_sdpa
    if not supported:
        logger.warning_once(f"{tower_class.__name__} has no {requested!r} attention; the vision tower runs eager")
        vision_config._attn_implementation = "eager"


def _tower_normalisation(vision: str) -> dict:
    """`vision_image_mean` / `vision_image_std` from a tower checkpoint's preprocessor_config.json ({} without one)."""
    path = cached_file(vision, "preprocessor_config.json", _raise_exceptions_for_missing_entries=False)
    if path is None:
        return {}
    stats = json.loads(open(path).read())
    return {f"vision_{key}": stats[key] for key in ("image_mean", "image_std") if key in stats}


def _resize_embeddings_to_mean(causal_lm, vocab_size: int, new_token_ids) -> None:
    """Grow the LM's input (and untied output) embeddings to `vocab_size` rows; every new token's rows are set to the
    mean of the rows below the first new id (the tokens the LM was trained with), so they start as an average token."""
    if vocab_size > causal_lm.get_input_embeddings().weight.shape[0]:
        causal_lm.resize_token_embeddings(vocab_size, mean_resizing=False)
    new_token_ids = sorted(new_token_ids)
    if not new_token_ids:
        return
    weights = {id(m.weight): m.weight for m in (causal_lm.get_input_embeddings(), causal_lm.get_output_embeddings())}
    with torch.no_grad():
        for weight in weights.values():
            weight[new_token_ids] = weight[: new_token_ids[0]].float().mean(dim=0).to(weight.dtype)


class MimicChatProjector(nn.Module):
    """Two-layer MLP from the vision width into the LM's embedding space (one per branch)."""

    def __init__(self, config: MimicChatConfig):
        super().__init__()
        text_width = config.text_config.hidden_size
        self.linear_1 = nn.Linear(config.vision_config.hidden_size, text_width)
        self.act = ACT2FN[config.projector_hidden_act]
        self.linear_2 = nn.Linear(text_width, text_width)
        self.linear_1.keep_torch_init = self.linear_2.keep_torch_init = True  # see MimicChatPreTrainedModel._init_weights

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


class MimicChatTokenGate(nn.Module):
    """Token-level gate: each branch's tokens are scaled by 2*sigmoid(logit); logit 0 passes the signal unchanged."""

    def __init__(self):
        super().__init__()
        self.spatial_logit = nn.Parameter(torch.zeros(1))
        self.temporal_logit = nn.Parameter(torch.zeros(1))

    def forward(self, spatial: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [2 * torch.sigmoid(self.spatial_logit) * spatial, 2 * torch.sigmoid(self.temporal_logit) * temporal], dim=1
        )


class MimicGatedXAttnBlock(GradientCheckpointingLayer):
    """Flamingo GATED XATTN-DENSE: x += tanh(a) * xattn(x, memory); x += tanh(f) * ffn(x). Identity when a = f = 0."""

    def __init__(self, config: MimicChatConfig):
        super().__init__()
        text = config.text_config
        self.num_heads = text.num_attention_heads
        self.head_dim = text.hidden_size // text.num_attention_heads
        width = self.num_heads * self.head_dim
        self.attn_norm = nn.LayerNorm(text.hidden_size)
        self.memory_norm = nn.LayerNorm(text.hidden_size)
        self.q_proj = nn.Linear(text.hidden_size, width, bias=False)
        self.k_proj = nn.Linear(text.hidden_size, width, bias=False)
        self.v_proj = nn.Linear(text.hidden_size, width, bias=False)
        self.o_proj = nn.Linear(width, text.hidden_size, bias=False)
        self.ffn_norm = nn.LayerNorm(text.hidden_size)
        self.ffn = nn.Sequential(
            nn.Linear(text.hidden_size, text.intermediate_size, bias=False),
            nn.GELU(),
            nn.Linear(text.intermediate_size, text.hidden_size, bias=False),
        )
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ffn_gate = nn.Parameter(torch.zeros(1))

    def _heads(self, states: torch.Tensor) -> torch.Tensor:
        return states.view(states.shape[0], states.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden_states: torch.Tensor, visual_memory: torch.Tensor) -> torch.Tensor:
        memory = self.memory_norm(visual_memory.to(hidden_states.dtype))
        query = self._heads(self.q_proj(self.attn_norm(hidden_states)))
        attended = F.scaled_dot_product_attention(
            query, self._heads(self.k_proj(memory)), self._heads(self.v_proj(memory))
        )
        attended = attended.transpose(1, 2).reshape(hidden_states.shape[0], hidden_states.shape[1], -1)
        hidden_states = hidden_states + torch.tanh(self.attn_gate) * self.o_proj(attended)
        return hidden_states + torch.tanh(self.ffn_gate) * self.ffn(self.ffn_norm(hidden_states))


def _cross_attention_pre_hook(block, module, args, kwargs):
    """Runs before a decoder layer: applies the layer's gated cross-attention block and drops `visual_memory`.

    A partial of a module-level function (not a closure) so `copy.deepcopy(model)` re-targets the copied block.
    """
    memory = kwargs.pop("visual_memory", None)
    if block is None or memory is None:
        return args, kwargs
    return (block(args[0], memory), *args[1:]), kwargs


class MimicChatPreTrainedModel(PreTrainedModel):
    config: MimicChatConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    _no_split_modules = ["MimicGatedXAttnBlock"]  # post_init adds the LM's and the tower's own (decoder layers, ...)
    _skip_keys_device_placement = ["cache"]

    def enable_input_require_grads(self):
        """Hook only the LM's token embeddings: the generic version also hooks TimeSformer's patch embedding, whose
        tuple output it cannot mark (and pixels need no gradient)."""

        def make_inputs_require_grads(module, inputs, output):
            output.requires_grad_(True)

        hook = self.get_input_embeddings().register_forward_hook(make_inputs_require_grads)
        self._require_grads_hooks = [hook]
        self._require_grads_hook = hook

    def _init_weights(self, module):
        if getattr(module, "keep_torch_init", False):
            # Projector layers keep PyTorch's fan-in init with bias, as a freshly built MLP: at normal(std) with zero
            # bias the randomly initialised demo model stayed at chance (#6).
            module.reset_parameters()
            return
        super()._init_weights(module)
        gate_init = self.config.gate_init
        if isinstance(module, MimicChatTokenGate):
            init.constant_(module.spatial_logit, gate_init)
            init.constant_(module.temporal_logit, gate_init)
        elif isinstance(module, MimicGatedXAttnBlock):
            init.constant_(module.attn_gate, gate_init)
            init.constant_(module.ffn_gate, gate_init)


class MimicChatModel(MimicChatPreTrainedModel):
    """Vision tower + two projectors + fusion + Llama-family decoder; returns the decoder's hidden states."""

    def __init__(self, config: MimicChatConfig):
        super().__init__(config)
        _tower_attention(config.vision_config)
        self.vision_tower = AutoModel.from_config(config.vision_config)
        self.spatial_projector = MimicChatProjector(config)
        self.temporal_projector = MimicChatProjector(config)
        self.language_model = AutoModel.from_config(config.text_config)
        if config.fusion_mode == "token_gate":
            self.token_gate = MimicChatTokenGate()
        else:
            every = config.cross_attn_every_n_layers
            layers = range(0, config.text_config.num_hidden_layers, every)
            self.cross_attn_blocks = nn.ModuleDict({str(index): MimicGatedXAttnBlock(config) for index in layers})
            for index, layer in enumerate(self.language_model.layers):
                block = self.cross_attn_blocks[str(index)] if str(index) in self.cross_attn_blocks else None
                layer.register_forward_pre_hook(partial(_cross_attention_pre_hook, block), with_kwargs=True)
        self.post_init()

    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    def get_video_features(
        self, pixel_values_videos: torch.Tensor, pixel_values_spatial: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected (spatial, temporal) tokens: (B, grid^2, D) and (B, T, D); see `get_tower_features`."""
        spatial, temporal = self.get_tower_features(pixel_values_videos, pixel_values_spatial)
        return self.spatial_projector(spatial), self.temporal_projector(temporal)

    def get_tower_features(
        self, pixel_values_videos: torch.Tensor, pixel_values_spatial: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled vision-tower tokens before the projectors; see `pooled_tower_features`."""
        return pooled_tower_features(self.config, self.vision_tower, pixel_values_videos, pixel_values_spatial)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        pixel_values_spatial: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        visual_memory: torch.FloatTensor | None = None,
        **kwargs,
    ) -> MimicChatModelOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        if pixel_values_videos is not None:
            spatial, temporal = self.get_video_features(pixel_values_videos, pixel_values_spatial)
            if self.config.fusion_mode == "token_gate":
                inputs_embeds = self._scatter_video_tokens(input_ids, inputs_embeds, self.token_gate(spatial, temporal))
            else:
                visual_memory = torch.cat([spatial, temporal], dim=1)
        lm_kwargs = {"visual_memory": visual_memory} if self.config.fusion_mode == "xattn_gate" else {}
        outputs = self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            **lm_kwargs,
            **kwargs,
        )
        return MimicChatModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            visual_memory=visual_memory,
        )

    def _scatter_video_tokens(self, input_ids, inputs_embeds, video_embeds: torch.Tensor) -> torch.Tensor:
        if input_ids is None:
            raise ValueError("token_gate fusion needs input_ids to find the <|video_pad|> slots")
        slots = input_ids == self.config.video_token_id
        per_row = slots.sum(dim=1)
        wanted = video_embeds.shape[1]
        rows_with_video = per_row.nonzero().flatten()
        if rows_with_video.numel() != video_embeds.shape[0] or bool((per_row[rows_with_video] != wanted).any()):
            raise ValueError(
                f"got {video_embeds.shape[0]} videos of {wanted} tokens but <|video_pad|> counts per row are "
                f"{per_row.tolist()}; run the prompts through MimicChatProcessor with a matching num_video_tokens"
            )
        mask = slots.unsqueeze(-1).expand_as(inputs_embeds)
        return inputs_embeds.masked_scatter(mask, video_embeds.to(inputs_embeds.dtype))


class MimicChatForConditionalGeneration(MimicChatPreTrainedModel, GenerationMixin):
    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: MimicChatConfig):
        super().__init__(config)
        self.model = MimicChatModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        self.apply_freeze_flags()

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        # Loading replaces the parameters (requires_grad=True again), so the freeze flags are re-applied afterwards.
        loaded = super().from_pretrained(*args, **kwargs)
        (loaded[0] if isinstance(loaded, tuple) else loaded).apply_freeze_flags()
        return loaded

    @classmethod
    def from_pretrained_parts(
        cls,
        lm: str,
        vision: str,
        tokenizer=None,
        new_token_ids=(),
        dtype: str | torch.dtype = "auto",
        attn_implementation: str | dict | None = None,
        **config_kwargs,
    ) -> "MimicChatForConditionalGeneration":
        """A MIMIC-Chat whose language model and vision tower are pretrained checkpoints (folders or Hub ids).

        lm: any causal LM transformers loads natively (Llama, Qwen2/3, Mistral; InternLM2 after
        `convert_internlm2_to_llama.py`). vision: a TimeSformer or VideoMAE checkpoint (a video classifier is fine: its
        head is dropped), or a SigLIP / CLIP checkpoint (full or vision-only). tokenizer: the LM's tokenizer holding
        MIMIC-Chat's special tokens; the embeddings grow to it and the rows of `new_token_ids` start at the mean of
        the LM's own rows. dtype: one dtype for the whole model, "auto" = the LM checkpoint's. The projectors, gates and
        cross-attention blocks are new (initialised as in a fresh model: seed torch first for a reproducible start);
        `config_kwargs` set any other `MimicChatConfig` field (frame counts, `spatial_pool_grid`, `fusion_mode`, ...).
        """
        causal_lm = AutoModelForCausalLM.from_pretrained(lm, dtype=dtype)
        vision_config = AutoConfig.from_pretrained(vision)
        vision_config = getattr(vision_config, "vision_config", None) or vision_config  # full CLIP / SigLIP
        tower = AutoModel.from_pretrained(vision, config=vision_config, dtype=causal_lm.dtype)
        text_config = causal_lm.config
        ids = {}
        if tokenizer is not None:
            _resize_embeddings_to_mean(causal_lm, len(tokenizer), new_token_ids)
            text_ids, ids = special_token_ids(tokenizer)
            for key, value in text_ids.items():
                setattr(text_config, key, value)
        config = MimicChatConfig(
            text_config=text_config.to_dict(),
            vision_config=tower.config.to_dict(),
            tie_word_embeddings=bool(getattr(text_config, "tie_word_embeddings", False)),
            **{**_tower_normalisation(vision), **ids, **config_kwargs},
        )
        state = {f"model.language_model.{k}": v for k, v in causal_lm.base_model.state_dict().items()}
        state.update({f"lm_head.{k}": v for k, v in causal_lm.get_output_embeddings().state_dict().items()})
        state.update({f"model.vision_tower.{k}": v for k, v in tower.state_dict().items()})
        return cls.from_pretrained(
            None, config=config, state_dict=state, dtype=causal_lm.dtype, attn_implementation=attn_implementation
        )

    def apply_freeze_flags(self) -> None:
        """Freeze per config: the vision tower (`freeze_vision`) and the base LM + lm_head (`freeze_language_model`).

        Projectors, gates and cross-attention blocks always stay trainable; LoRA adapters are added by training.
        """
        self.model.vision_tower.requires_grad_(not self.config.freeze_vision)
        self.model.language_model.requires_grad_(not self.config.freeze_language_model)
        self.lm_head.requires_grad_(not self.config.freeze_language_model)

    def count_parameters(self) -> dict[str, int]:
        return count_parameters(self)

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.lm_head

    def get_video_features(self, pixel_values_videos, pixel_values_spatial=None):
        return self.model.get_video_features(pixel_values_videos, pixel_values_spatial)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        pixel_values_spatial: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        visual_memory: torch.FloatTensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> MimicChatCausalLMOutputWithPast:
        outputs = self.model(
            input_ids=input_ids,
            pixel_values_videos=pixel_values_videos,
            pixel_values_spatial=pixel_values_spatial,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            visual_memory=visual_memory,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[:, keep, :])
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs
            )
        return MimicChatCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            visual_memory=outputs.visual_memory,
        )

    def prepare_inputs_for_generation(self, *args, is_first_iteration=False, **kwargs):
        model_inputs = super().prepare_inputs_for_generation(*args, is_first_iteration=is_first_iteration, **kwargs)
        # transformers drops pixel_values_videos after prefill; our second visual input must follow it.
        if not is_first_iteration and kwargs.get("use_cache", True):
            model_inputs.pop("pixel_values_spatial", None)
        return model_inputs

    def _update_model_kwargs_for_generation(self, outputs, model_kwargs, *args, **kwargs):
        model_kwargs = super()._update_model_kwargs_for_generation(outputs, model_kwargs, *args, **kwargs)
        # Cross-attention reads the video at every decode step: keep the prefill's projected tokens.
        if getattr(outputs, "visual_memory", None) is not None:
            model_kwargs["visual_memory"] = outputs.visual_memory
        return model_kwargs


__all__ = [
    "MimicChatForConditionalGeneration",
    "MimicChatModel",
    "MimicChatPreTrainedModel",
    "count_parameters",
]
