"""Build the processor for a config and save a Hub-ready MIMIC-Chat folder (project-side helper, not remote code).

The saved folder holds config.json (auto_map for AutoConfig/AutoModel/AutoModelForCausalLM/AutoModelForImageTextToText),
generation_config.json, model.safetensors, processor_config.json, video_preprocessor_config.json, the tokenizer,
chat_template.jinja and the remote-code .py files, and loads with `trust_remote_code=True` without this project.
"""

import os
import shutil
import tempfile
from pathlib import Path

from .configuration_mimic_chat import IM_END_TOKEN, MimicChatConfig
from .modeling_mimic_chat import MimicChatForConditionalGeneration
from .processing_mimic_chat import MimicChatProcessor
from .video_processing_mimic_chat import MimicChatVideoProcessor

CHAT_TEMPLATE_PATH = Path(__file__).with_name("chat_template.jinja")

AUTO_MAP = {
    "AutoConfig": "configuration_mimic_chat.MimicChatConfig",
    "AutoModel": "modeling_mimic_chat.MimicChatForConditionalGeneration",
    "AutoModelForCausalLM": "modeling_mimic_chat.MimicChatForConditionalGeneration",
    "AutoModelForImageTextToText": "modeling_mimic_chat.MimicChatForConditionalGeneration",
    "AutoProcessor": "processing_mimic_chat.MimicChatProcessor",
    "AutoVideoProcessor": "video_processing_mimic_chat.MimicChatVideoProcessor",
}


def build_video_processor(config: MimicChatConfig) -> MimicChatVideoProcessor:
    """The video processor whose frame counts and frame size match `config`."""
    side = config.vision_config.image_size
    # The tower's own normalisation when the config names one (SigLIP, CLIP); the processor's ImageNet default else.
    normalisation = {key: value for key, value in (("image_mean", config.vision_image_mean),
                                                    ("image_std", config.vision_image_std)) if value is not None}
    return MimicChatVideoProcessor(
        size={"height": side, "width": side},
        spatial_num_frames=config.spatial_num_frames,
        temporal_num_frames=config.temporal_num_frames,
        **normalisation,
    )


def build_processor(config: MimicChatConfig, tokenizer) -> MimicChatProcessor:
    """The processor whose frame counts, frame size and video-token count match `config`."""
    return MimicChatProcessor(
        video_processor=build_video_processor(config),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE_PATH.read_text(),
        num_video_tokens=config.num_video_tokens,
    )


def save_for_hub(model: MimicChatForConditionalGeneration, processor: MimicChatProcessor, out_dir: str | os.PathLike):
    """Write the model repo folder atomically: built in a temporary sibling folder, then renamed into place."""
    if processor.num_video_tokens != model.config.num_video_tokens:
        raise ValueError(
            f"processor expands videos to {processor.num_video_tokens} tokens but the model wants "
            f"{model.config.num_video_tokens}; build the processor with build_processor(model.config, tokenizer)"
        )
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # register_for_auto_class makes save_pretrained copy the .py files; the full auto_map is set explicitly because
    # each class can register only one auto class.
    MimicChatConfig.register_for_auto_class("AutoConfig")
    MimicChatForConditionalGeneration.register_for_auto_class("AutoModel")
    MimicChatProcessor.register_for_auto_class("AutoProcessor")
    MimicChatVideoProcessor.register_for_auto_class("AutoVideoProcessor")
    model.config.auto_map = dict(AUTO_MAP)
    end_id = processor.tokenizer.convert_tokens_to_ids(IM_END_TOKEN)
    model.generation_config.eos_token_id = end_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        # v5 nests the video processor in processor_config.json; a standalone file serves AutoVideoProcessor too.
        processor.video_processor.save_pretrained(staging)
        if out_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, retired / out_dir.name)
            os.replace(staging, out_dir)
            shutil.rmtree(retired)
        else:
            os.replace(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out_dir
