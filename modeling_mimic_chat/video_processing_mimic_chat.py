"""MIMIC-Chat video processor: 8 spatial + T temporal frames, resized and normalised for the TimeSformer tower.

Remote code: imports only torch/numpy/transformers and its sibling files; videos given as files are decoded by
`frames_mimic_chat.py`, the sampler the rest of the project uses too (same frames, same orientation).
"""

import os

import numpy as np
import torch
import torch.nn.functional as F
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.processing_utils import VideosKwargs
from transformers.video_processing_utils import BaseVideoProcessor

from .frames_mimic_chat import VideoDecodeError, sample_frames, segment_centres


class MimicChatVideosKwargs(VideosKwargs, total=False):
    spatial_num_frames: int
    temporal_num_frames: int


class MimicChatVideoProcessor(BaseVideoProcessor):
    r"""
    Turns each video into `pixel_values_spatial` (B, 8, 3, H, W) and `pixel_values_videos` (B, T, 3, H, W).

    A video is a local file (path, `file://` path, or the file's bytes), decoded with `frames_mimic_chat.sample_frames`
    (segment centres in time, display orientation, resized in the decoder to `size`); pre-sampled frames
    `{"spatial": uint8 [8,H,W,3], "temporal": uint8 [T,H,W,3]}` (numpy or torch), as the project's sampler yields; or
    a full uint8 clip [n,H,W,3] from which both frame sets are picked with `frames_mimic_chat.segment_centres`.
    Frames are resized (bilinear, antialiased) to `size` unless already there, scaled to [0, 1] and normalised.

    Args:
        size (`dict[str, int]`, *optional*, defaults to `{"height": 224, "width": 224}`):
            Frame size after resizing; the vision tower's `image_size` on both sides.
        do_resize (`bool`, *optional*, defaults to `True`):
            Whether to resize frames to `size` (bilinear, antialiased, no crop: the aspect ratio is not kept).
        do_rescale (`bool`, *optional*, defaults to `True`):
            Whether to multiply the uint8 pixel values by `rescale_factor`.
        rescale_factor (`float`, *optional*, defaults to `1 / 255`):
            The scale applied when `do_rescale` is set, mapping pixel values to [0, 1].
        do_normalize (`bool`, *optional*, defaults to `True`):
            Whether to normalise each channel with `image_mean` and `image_std`.
        image_mean (`list[float]`, *optional*, defaults to `IMAGENET_DEFAULT_MEAN`):
            Per-channel mean subtracted when normalising.
        image_std (`list[float]`, *optional*, defaults to `IMAGENET_DEFAULT_STD`):
            Per-channel standard deviation divided by when normalising.
        spatial_num_frames (`int`, *optional*, defaults to 8):
            Frames of the spatial branch (`pixel_values_spatial`); the model config's `spatial_num_frames`.
        temporal_num_frames (`int`, *optional*, defaults to 32):
            Frames of the temporal branch (`pixel_values_videos`); the model config's `temporal_num_frames`.

    Both frame counts can also be passed per call. Other `VideosKwargs` (e.g. `do_sample_frames`) are accepted and
    stored but not used: which frames are kept depends only on the input form (pre-sampled or full clip).

    Example:

    ```python
    >>> import numpy as np

    >>> from modeling_mimic_chat.video_processing_mimic_chat import MimicChatVideoProcessor

    >>> # The `tiny` preset's tower: 32 x 32 frames, 8 spatial + 16 temporal frames
    >>> video_processor = MimicChatVideoProcessor(size={"height": 32, "width": 32}, spatial_num_frames=8,
    ...                                           temporal_num_frames=16)

    >>> # A full decoded clip: both frame sets are picked at segment centres
    >>> clip = np.zeros((50, 48, 64, 3), dtype=np.uint8)
    >>> out = video_processor([clip])
    >>> out["pixel_values_spatial"].shape, out["pixel_values_videos"].shape
    (torch.Size([1, 8, 3, 32, 32]), torch.Size([1, 16, 3, 32, 32]))

    >>> # Pre-sampled frames pass through unchanged in number
    >>> out = video_processor([{"spatial": clip[:8], "temporal": clip[:16]}])
    >>> out["pixel_values_videos"].shape
    torch.Size([1, 16, 3, 32, 32])
    ```
    """

    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    size = {"height": 224, "width": 224}
    do_resize = True
    do_rescale = True
    do_normalize = True
    do_sample_frames = True
    spatial_num_frames = 8
    temporal_num_frames = 32
    valid_kwargs = MimicChatVideosKwargs
    model_input_names = ["pixel_values_videos", "pixel_values_spatial"]

    def preprocess(self, videos, **kwargs) -> BatchFeature:
        # Extra kwargs (return_tensors, device, ...) are accepted: the processor and transformers pass them along.
        spatial_k = kwargs.get("spatial_num_frames") or self.spatial_num_frames
        temporal_k = kwargs.get("temporal_num_frames") or self.temporal_num_frames
        if isinstance(videos, (dict, str, bytes, os.PathLike)) or _is_frame_array(videos):
            videos = [videos]
        spatial, temporal = [], []
        for index, video in enumerate(videos):
            spatial_frames, temporal_frames = self._split_frames(video, index, spatial_k, temporal_k)
            spatial.append(self._normalise(spatial_frames))
            temporal.append(self._normalise(temporal_frames))
        return BatchFeature(
            {"pixel_values_spatial": torch.stack(spatial), "pixel_values_videos": torch.stack(temporal)},
            tensor_type=kwargs.get("return_tensors"),
        )

    def _split_frames(self, video, index: int, spatial_k: int, temporal_k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(video, (str, bytes, os.PathLike)):
            size = (self.size["height"], self.size["width"]) if self.do_resize else None
            try:
                sampled = sample_frames(video, spatial=spatial_k, temporal=temporal_k, size=size, threads=1)
            except VideoDecodeError as err:
                raise ValueError(f"video {index}: cannot sample {err.path}: {err.reason}") from err
            return sampled.spatial, sampled.temporal
        if isinstance(video, dict):
            missing = {"spatial", "temporal"} - set(video)
            if missing:
                raise ValueError(
                    f"video {index}: pre-sampled frames need keys 'spatial' and 'temporal', missing {missing}"
                )
            spatial = _as_uint8_frames(video["spatial"], index, "spatial")
            temporal = _as_uint8_frames(video["temporal"], index, "temporal")
            for name, frames, wanted in (("spatial", spatial, spatial_k), ("temporal", temporal, temporal_k)):
                if frames.shape[0] != wanted:
                    raise ValueError(f"video {index}: expected {wanted} {name} frames, got {frames.shape[0]}")
            return spatial, temporal
        clip = _as_uint8_frames(video, index, "clip")
        num_decoded = clip.shape[0]
        return (
            clip[segment_centres(num_decoded, spatial_k)],
            clip[segment_centres(num_decoded, temporal_k)],
        )

    def _normalise(self, frames: torch.Tensor) -> torch.Tensor:
        pixels = frames.permute(0, 3, 1, 2).float()
        if self.do_resize:
            target = (self.size["height"], self.size["width"])
            if tuple(pixels.shape[-2:]) != target:
                pixels = F.interpolate(pixels, size=target, mode="bilinear", antialias=True, align_corners=False)
        if self.do_rescale:
            pixels = pixels * self.rescale_factor
        if self.do_normalize:
            mean = torch.tensor(self.image_mean, dtype=pixels.dtype).view(1, 3, 1, 1)
            std = torch.tensor(self.image_std, dtype=pixels.dtype).view(1, 3, 1, 1)
            pixels = (pixels - mean) / std
        return pixels


def _is_frame_array(value) -> bool:
    return isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 4


def _as_uint8_frames(frames, index: int, name: str) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"video {index}: {name} frames must be a numpy array or torch tensor, got {type(frames).__name__}"
        )
    if tensor.dtype != torch.uint8 or tensor.ndim != 4 or tensor.shape[-1] != 3 or tensor.shape[0] == 0:
        raise ValueError(
            f"video {index}: {name} frames must be uint8 [N>0, H, W, 3], got {tensor.dtype} {tuple(tensor.shape)}"
        )
    return tensor


__all__ = ["MimicChatVideoProcessor"]
