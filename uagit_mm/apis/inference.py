"""Build a trained model and translate images of any size."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from PIL import Image

from mmagic.registry import MODELS
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
    working size whose longer side is ``max_side``; the mask and the
    generator's output are then scaled up to the input size and composed
    there with the input itself, ``a * G + (1 - a) * s``
    (:func:`compose_full_size`), so that wherever the mask is 0 the output
    is the input's own pixels, not a blurred copy of them.

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
    pre = model.data_preprocessor
    x = _normalise(work, pre, dev)
    del work
    full = resize and tuple(x.shape[-2:]) != (h, w)
    changes = mask_options is not None and mask_options.changes_mask
    with autocast_context(dev, dtype):
        mask = None
        if masks is not None or changes:
            if masks is not None:
                mask = masks_to_tensor(masks, x.shape[-2:], dev)
            elif hasattr(model, 'attend'):
                mask = model.attend(x, target_domain)
            else:  # e.g. an exported model: translate gives the attention
                mask = model.translate(x, target_domain)[1]
            mask = apply_mask_options(mask, mask_options,
                                      scale=x.shape[-1] / w)
        if full and hasattr(model, 'translate_parts'):
            fake, attn, gen = model.translate_parts(x, target_domain,
                                                    mask=mask)
        else:
            fake, attn = model.translate(x, target_domain, mask=mask)
            gen = _generated(fake, attn, x) if full else None
    fake, attn = fake.float(), attn.float()  # bfloat16 parts, if any
    if full:
        del fake
        # the user's own mask at full size where nothing changed it
        full_mask = masks_to_tensor(masks, (h, w), dev) \
            if masks is not None and not changes else None
        fake, attn = compose_full_size(
            images, gen.float(), attn, pre, dev, full_mask,
            binary=_binary(mask_options))
    del x
    if denormalize and full:  # in place: a large photo's own tensor
        fake.mul_(pre.std.to(dev)).add_(pre.mean.to(dev))
    elif denormalize:
        fake = fake * pre.std.to(dev) + pre.mean.to(dev)
    return fake, attn


def _normalise(images: np.ndarray, pre, dev) -> torch.Tensor:
    """RGB uint8 (N, H, W, 3) as the model's normalised BGR (N, 3, H, W)
    (mmagic loads BGR, so the models are trained on BGR)."""
    x = torch.from_numpy(images[..., ::-1].copy()).permute(0, 3, 1, 2)
    x = x.to(dev).float()
    return x.sub_(pre.mean.to(dev)).div_(pre.std.to(dev))


def _generated(composite: torch.Tensor, attention: torch.Tensor,
               image: torch.Tensor) -> torch.Tensor:
    """The generator's output behind ``composite = a * G + (1 - a) * s``,
    for models that give only the composite (exported files): ``G = s +
    (composite - s) / a`` where ``a`` > 1e-3, else ``s`` (whatever it is
    there, ``a`` gives it no weight), clamped to the tanh range."""
    a = attention.float()
    s = image.float()
    gen = s + (composite.float() - s) / a.clamp(min=1e-3)
    return torch.where(a > 1e-3, gen, s).clamp_(-1, 1)


def compose_full_size(images: Sequence[np.ndarray], generated: torch.Tensor,
                      attention: torch.Tensor, pre, dev,
                      full_mask: Optional[torch.Tensor] = None,
                      binary: bool = False
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``a * G + (1 - a) * s`` at the size of ``images`` from a translation
    made at a smaller working size.

    The attention ``attention`` (N, 1, h, w) and the generator's output
    ``generated`` (N, 3, h, w, normalised) are scaled up to the images'
    size (bilinear; a ``binary`` mask nearest, so that it stays binary;
    ``full_mask``, a user's mask already at full size, is used as it is)
    and blended with the full-size input: the background is the photo's
    own pixels. Computed in place to hold few full-size float tensors.

    Returns:
        tuple[Tensor, Tensor]: The composite (N, 3, H, W), normalised BGR,
        and the mask it used (N, 1, H, W) in [0, 1].
    """
    h, w = images[0].shape[:2]
    if full_mask is not None:
        attn = full_mask
    elif binary:
        attn = F.interpolate(attention, size=(h, w), mode='nearest')
    else:
        attn = F.interpolate(attention, size=(h, w), mode='bilinear',
                             align_corners=False).clamp_(0, 1)
    out = F.interpolate(generated, size=(h, w), mode='bicubic',
                        align_corners=False).clamp_(-1, 1)
    source = _normalise(np.stack(images), pre, dev)
    # a * G + (1 - a) * s  ==  s + a * (G - s): exactly s where a is 0
    out.sub_(source).mul_(attn).add_(source)
    return out, attn


def _binary(mask_options: Optional[MaskOptions]) -> bool:
    """Whether ``mask_options`` make the mask binary (a threshold; dilation
    and inversion keep it so)."""
    return mask_options is not None and mask_options.threshold is not None


def mask_to_uint8(mask: torch.Tensor) -> np.ndarray:
    """An attention map (1, H, W) in [0, 1] as uint8 (H, W), 255 = attended.

    Rounded to the nearest level, as ``mmagic.utils.tensor2img`` does, but
    without its float copies (the mask of a large photo is full-size) and
    its squeezing of size-1 dimensions (a one-pixel-high mask would become
    a vector).
    """
    h, w = mask.shape[-2:]
    level = (mask.reshape(h, w).float() * 255).clamp_(0, 255).round_()
    return np.ascontiguousarray(level.to(torch.uint8).cpu().numpy())


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
                                   resize=True, dtype=dtype)
    # To 8 bits in place rather than with mmagic's tensor2img, which makes
    # three float copies of the image: at the size of a large photo (the
    # composite is made there) those would be most of the peak memory.
    # ``fake`` is BGR in [0, 255] and ours to change.
    out = []
    for f, a in zip(fake, attn):
        rgb = f.clamp_(0, 255).round_().to(torch.uint8).flip(0)
        out.append((np.ascontiguousarray(rgb.permute(1, 2, 0).cpu().numpy()),
                    mask_to_uint8(a)))
    return out
