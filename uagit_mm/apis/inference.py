"""Build a trained model and translate images of any size."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from mmagic.registry import MODELS
from ..checkpoint import load_from_local
from ..utils import load_config


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


def init_model(config: str,
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None):
    """Build a UAGIT model from a config and load a checkpoint safely.

    The checkpoint is loaded with ``torch.load(weights_only=True)``; files
    made by ``tools/train.py`` or ``tools/publish_model.py`` load, a file
    whose pickle would run code is refused. Discriminator weights are not
    needed (published checkpoints drop them); generator and attention
    weights must all be present.

    Returns:
        The model in eval mode on ``device``, with ``model.cfg`` set.
    """
    import uagit_mm  # noqa: F401  (registers the modules)
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    model = MODELS.build(cfg.model)
    if checkpoint:
        state = load_from_local(checkpoint, map_location='cpu')
        weights = state.get('state_dict', state)
        # checkpoints of distributed runs saved without SafeCheckpointHook
        # carry 'module.' segments from the DDP wrappers
        weights = {
            ('.' + k).replace('.module.', '.')[1:]: v
            for k, v in weights.items()
        }
        try:
            missing, unexpected = model.load_state_dict(weights,
                                                        strict=False)
        except RuntimeError as err:  # shape mismatches
            first = str(err).split('\n\t')[1:2] or [str(err)]
            raise ValueError(f'checkpoint {checkpoint} does not fit config '
                             f'{config}: {first[0]}') from None
        needed = [k for k in missing if not k.startswith('discriminators.')]
        if needed or unexpected:
            raise ValueError(
                f'checkpoint {checkpoint} does not fit config {config}: '
                f'missing {needed[:5]}{"..." if len(needed) > 5 else ""}, '
                f'unexpected {unexpected[:5]}')
    model.cfg = cfg
    return model.to(device).eval()


def _fit(image: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    from PIL import Image
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))


@torch.no_grad()
def translate_arrays(model,
                     images: Sequence[np.ndarray],
                     target_domain: str,
                     max_side: Optional[int] = None
                     ) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Translate RGB images into ``target_domain``.

    Images of one size are translated as one batch. Any size works: the model
    pads to what its networks need and crops back, so the output has exactly
    the input's size. With ``max_side``, larger images are translated at a
    working size whose longer side is ``max_side`` and the results are
    resized back to the input size.

    Args:
        model: A UAGIT model (eval mode).
        images: RGB uint8 arrays (H, W, 3), all the same size for a batch.
        target_domain (str): Domain to translate into.
        max_side (int, optional): Bound on the working size.

    Returns:
        list[tuple]: Per image, the translation (H, W, 3) RGB uint8 and the
        attention (H, W) uint8, 255 = attended.
    """
    if not images:
        return []
    dev = next(model.parameters()).device
    sizes = {im.shape[:2] for im in images}
    if len(sizes) != 1:
        raise ValueError(f'translate_arrays: one size per batch, got {sizes}')
    h, w = images[0].shape[:2]
    work = np.stack([_fit(im, max_side) for im in images])
    # mmagic loads BGR, so the models are trained on BGR
    x = torch.from_numpy(work[..., ::-1].copy()).permute(0, 3, 1, 2)
    pre = model.data_preprocessor
    x = (x.to(dev).float() - pre.mean.to(dev)) / pre.std.to(dev)
    fake, attn = model.translate(x, target_domain)
    fake = fake * pre.std.to(dev) + pre.mean.to(dev)
    if fake.shape[-2:] != (h, w):
        fake = F.interpolate(fake, size=(h, w), mode='bicubic',
                             align_corners=False)
        attn = F.interpolate(attn, size=(h, w), mode='bilinear',
                             align_corners=False)
    fake = fake.clamp(0, 255).round().byte().flip(1).permute(0, 2, 3, 1)
    attn = (attn[:, 0].clamp(0, 1) * 255).round().byte()
    return [(f.cpu().numpy(), a.cpu().numpy()) for f, a in zip(fake, attn)]
