"""Build a trained model and translate images of any size."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from PIL import Image

from mmagic.registry import MODELS
from mmagic.utils import tensor2img
from ..checkpoint import MODULE_SEGMENT, check_weights_fit, load_from_local
from ..utils import load_config
from .mask_control import MaskOptions, apply_mask_options, masks_to_tensor
from .precision import autocast_context, resolve_dtype


def resolve_direction(model, direction: Optional[str] = None,
                      target_domain: Optional[str] = None) -> str:
    """The target domain for ``direction`` ('a2b' / 'b2a', where a and b are
    the model's first and second domain) or an explicit ``target_domain``;
    the model's default domain when neither is given."""
    domains = list(model._reachable_domains)
    if target_domain is not None:
        if target_domain not in domains:
            raise ValueError(f'target domain {target_domain!r} is not one of '
                             f'the model\'s domains {domains}')
        return target_domain
    if direction is None:
        return model._default_domain
    if direction not in ('a2b', 'b2a'):
        raise ValueError(f"direction must be 'a2b' or 'b2a', got "
                         f'{direction!r} (a={domains[0]}, b={domains[1]})')
    return domains[1] if direction == 'a2b' else domains[0]


def load_weights(model, checkpoint: str,
                 config: str = 'the config') -> None:
    """Load a checkpoint's weights into a UAGIT model, safely and checked.

    The file is read with ``torch.load(weights_only=True)``
    (:func:`uagit_mm.checkpoint.load_from_local`): files made by
    ``tools/train.py`` or ``tools/publish_model.py`` load, a file whose
    pickle would run code is refused. ``.module.`` segments that DDP wrappers
    leave in keys are removed. Discriminator weights are not needed
    (published checkpoints drop them); generator and attention weights must
    all be present with the model's shapes, and no key may be left over.
    mmengine then loads the weights.

    Args:
        model: A UAGIT model built from ``config``.
        checkpoint (str): Path of the checkpoint.
        config (str): How to name the config in errors.

    Raises:
        UnsafeCheckpointError: The file needs arbitrary unpickling.
        ConfigError: The checkpoint does not fit the model.
    """
    state = load_from_local(checkpoint, map_location='cpu')
    check_weights_fit(model, state, checkpoint, config)
    # checked above: nothing for mmengine to warn about but the
    # discriminators a published checkpoint leaves out
    _load_checkpoint_to_model(model, state, strict=False, logger='silent',
                              revise_keys=[MODULE_SEGMENT])


def init_model(config: str,
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None):
    """Build a UAGIT model from a config and load a checkpoint safely
    (:func:`load_weights`).

    Returns:
        The model in eval mode on ``device``, with ``model.cfg`` set.
    """
    import uagit_mm  # noqa: F401  (registers the modules)
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_weights(model, checkpoint, config)
    model.cfg = cfg
    return model.to(device).eval()


def _fit(image: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))


def model_device(model) -> torch.device:
    """Where ``model`` computes: its ``.device`` attribute (e.g. an
    exported translator's) or its first parameter's device."""
    device = getattr(model, 'device', None)
    if device is not None:
        return torch.device(device)
    return next(model.parameters()).device


@torch.no_grad()
def translate_tensors(model,
                      images: Sequence[np.ndarray],
                      target_domain: str,
                      max_side: Optional[int] = None,
                      denormalize: bool = False,
                      mask_options: Optional[MaskOptions] = None,
                      masks: Optional[Sequence[np.ndarray]] = None,
                      resize: bool = True,
                      dtype=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Translate RGB images into ``target_domain``; the model's tensors.

    Images of one size are translated as one batch. Any size works: the model
    pads to what its networks need and crops back, so the output has exactly
    the input's size. With ``max_side``, larger images are translated at a
    working size whose longer side is ``max_side`` and the results are
    resized back to the input size.

    The composition uses the attention network's mask, or the user's
    ``masks``; ``mask_options`` then threshold, dilate or invert it
    (:func:`~uagit_mm.apis.mask_control.apply_mask_options`). The attention
    comes from ``model.attend`` where the model has it, else from a first
    ``model.translate`` pass.

    Args:
        model: A UAGIT model (eval mode).
        images: RGB uint8 arrays (H, W, 3), all the same size.
        target_domain (str): Domain to translate into.
        max_side (int, optional): Bound on the working size.
        denormalize (bool): Give the translations in [0, 255] rather than
            normalised (resized back in that range). Defaults to False.
        mask_options (MaskOptions, optional): Threshold / dilate / invert
            the mask before the composition.
        masks (list[ndarray], optional): One mask per image, (H, W) float in
            [0, 1] or uint8 in [0, 255] (1 / 255 = translate), used instead
            of the attention network's; resized to the working size.
        resize (bool): Resize the results to the input size (False: give
            them at the working size). Defaults to True.
        dtype (str | torch.dtype, optional): 'bf16' (or torch.bfloat16)
            runs the networks under bfloat16 autocast (weights stay
            float32; 1.6-1.8x the images/s at 256x256 on AVX512-BF16 CPUs);
            None / 'fp32' in float32. The results are float32 either way.

    Returns:
        tuple[Tensor, Tensor]: The translations (N, 3, H, W) BGR, as the
        model gives them (normalised by its data preprocessor: [-1, 1] with
        mmagic's defaults) or in [0, 255] with ``denormalize``, and the
        mask the composition used (N, 1, H, W) in [0, 1]: the attention
        unless ``masks`` / ``mask_options`` say otherwise.
    """
    dev = model_device(model)
    sizes = {im.shape[:2] for im in images}
    if len(sizes) != 1:
        raise ValueError(f'translate: one size per batch, got {sizes}')
    if masks is not None and len(masks) != len(images):
        raise ValueError(f'translate: {len(masks)} masks for {len(images)} '
                         'images')
    dtype = resolve_dtype(dtype)
    if dtype is not None and not isinstance(model, torch.nn.Module):
        raise ValueError('translate: dtype bf16 needs a PyTorch model (a '
                         'checkpoint), not an exported file')
    h, w = images[0].shape[:2]
    work = np.stack([_fit(im, max_side) for im in images])
    # mmagic loads BGR, so the models are trained on BGR
    x = torch.from_numpy(work[..., ::-1].copy()).permute(0, 3, 1, 2)
    del work
    pre = model.data_preprocessor
    x = (x.to(dev).float() - pre.mean.to(dev)) / pre.std.to(dev)
    changes = mask_options is not None and mask_options.changes_mask
    with autocast_context(dev, dtype):
        if masks is None and not changes:
            fake, attn = model.translate(x, target_domain)
        else:
            if masks is not None:
                mask = masks_to_tensor(masks, x.shape[-2:], dev)
            elif hasattr(model, 'attend'):
                mask = model.attend(x, target_domain)
            else:  # e.g. an exported model: translate gives the attention
                mask = model.translate(x, target_domain)[1]
            mask = apply_mask_options(mask, mask_options,
                                      scale=x.shape[-1] / w)
            fake, attn = model.translate(x, target_domain, mask=mask)
    del x
    fake, attn = fake.float(), attn.float()  # bfloat16 parts, if any
    if denormalize:
        fake = fake * pre.std.to(dev) + pre.mean.to(dev)
    if resize and fake.shape[-2:] != (h, w):
        fake = F.interpolate(fake, size=(h, w), mode='bicubic',
                             align_corners=False)
        # a thresholded mask stays binary at the input size
        attn = F.interpolate(attn, size=(h, w), mode='nearest') \
            if _binary(mask_options) else F.interpolate(
                attn, size=(h, w), mode='bilinear', align_corners=False)
    return fake, attn


def _binary(mask_options: Optional[MaskOptions]) -> bool:
    """Whether ``mask_options`` make the mask binary (a threshold; dilation
    and inversion keep it so)."""
    return mask_options is not None and mask_options.threshold is not None


def mask_to_uint8(mask: torch.Tensor) -> np.ndarray:
    """An attention map (1, H, W) in [0, 1] as uint8 (H, W), 255 = attended.

    Through a three-channel copy: ``tensor2img`` squeezes leading size-1
    dimensions (a one-pixel-high mask would become a vector) and clamps its
    input in place.
    """
    return np.ascontiguousarray(
        tensor2img(mask.repeat(3, 1, 1), min_max=(0, 1))[..., 0])


def translate_arrays(model,
                     images: Sequence[np.ndarray],
                     target_domain: str,
                     max_side: Optional[int] = None,
                     mask_options: Optional[MaskOptions] = None,
                     masks: Optional[Sequence[np.ndarray]] = None,
                     dtype=None) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Translate RGB images into ``target_domain``, as uint8 arrays.

    As :func:`translate_tensors` (one size per batch, any size, ``max_side``,
    ``mask_options``, ``masks``, ``dtype``).

    Args:
        model: A UAGIT model (eval mode).
        images: RGB uint8 arrays (H, W, 3), all the same size for a batch.
        target_domain (str): Domain to translate into.
        max_side (int, optional): Bound on the working size.
        mask_options (MaskOptions, optional): Threshold / dilate / invert.
        masks (list[ndarray], optional): The user's masks, one per image.
        dtype (str | torch.dtype, optional): 'bf16': bfloat16 autocast.

    Returns:
        list[tuple]: Per image, the translation (H, W, 3) RGB uint8 and the
        mask used (H, W) uint8, 255 = translated.
    """
    if not images:
        return []
    fake, attn = translate_tensors(model, images, target_domain, max_side,
                                   denormalize=True,
                                   mask_options=mask_options, masks=masks,
                                   resize=False, dtype=dtype)
    size = images[0].shape[1::-1]
    # tensor2img reads RGB and writes BGR: the model's BGR comes out RGB
    # (it clamps in place: ``fake`` is ours to change). With max_side the
    # 8-bit results are resized to the input size, which takes a few bytes
    # per pixel where float tensors would take dozens (large photos).
    # (a thresholded mask is resized nearest: it stays 0 / 255)
    mask_resample = Image.NEAREST if _binary(mask_options) else \
        Image.BILINEAR
    return [(_resize(tensor2img(f, min_max=(0, 255)), size, Image.BICUBIC),
             _resize(mask_to_uint8(a), size, mask_resample))
            for f, a in zip(fake, attn)]


def _resize(image: np.ndarray, size: Tuple[int, int],
            resample: int) -> np.ndarray:
    """``image`` (uint8) at ``size`` = (W, H)."""
    if image.shape[1::-1] == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize(size, resample))
