"""Mask control at inference: a thresholded, dilated or inverted attention,
or the user's own masks, in place of the attention network's output.

The composite is ``m * G(x) + (1 - m) * x`` (paper, eq. 1). With ``m`` all
zero the input comes back unchanged, with ``m`` all one it is the
generator's output, and ``1 - m`` translates the complement (the
background) instead.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .image_io import IMAGE_SUFFIXES, ImageReadError, open_oriented, to_rgb


@dataclass
class MaskOptions:
    """What to do to a mask before it is used for the composition.

    Applied in this order by :func:`apply_mask_options`:

    Args:
        threshold (float, optional): Binarise: ``m = [m > threshold]``
            (``--mask-threshold``). None keeps the soft mask.
        dilate (int): Grow the mask by this many pixels (of the output
            image) with a max filter (``--mask-dilate``). Defaults to 0.
        invert (bool): Use ``1 - m``: translate the complement, e.g. the
            background (``--invert-mask``). Defaults to False.
    """

    threshold: Optional[float] = None
    invert: bool = False
    dilate: int = 0

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 <= self.threshold < 1:
            raise ValueError('mask threshold (--mask-threshold) must be in '
                             f'[0, 1), got {self.threshold}')
        if int(self.dilate) != self.dilate or self.dilate < 0:
            raise ValueError('mask dilation (--mask-dilate) must be a whole '
                             f'number of pixels >= 0, got {self.dilate}')
        self.dilate = int(self.dilate)

    @property
    def changes_mask(self) -> bool:
        """Whether :func:`apply_mask_options` changes anything."""
        return self.threshold is not None or self.invert or self.dilate > 0


def apply_mask_options(mask: torch.Tensor,
                       options: Optional[MaskOptions],
                       scale: float = 1.0) -> torch.Tensor:
    """Threshold, dilate and invert ``mask`` as ``options`` say.

    Args:
        mask (Tensor): (N, 1, H, W) in [0, 1].
        options (MaskOptions, optional): None changes nothing.
        scale (float): Size of ``mask`` relative to the output image (below
            1 when translating at a working size, ``--max-side``): the
            dilation is ``round(dilate * scale)`` pixels of ``mask``.

    Returns:
        Tensor: (N, 1, H, W) in [0, 1].
    """
    if options is None or not options.changes_mask:
        return mask
    if options.threshold is not None:
        mask = (mask > options.threshold).to(mask.dtype)
    radius = round(options.dilate * scale)
    if radius > 0:
        mask = F.max_pool2d(mask, 2 * radius + 1, stride=1, padding=radius)
    if options.invert:
        mask = 1 - mask
    return mask


def find_mask(mask_dir: str, rel: str) -> Optional[str]:
    """The user's mask for the input ``rel`` (path relative to the input
    folder): ``mask_dir/rel`` itself, else ``mask_dir/<rel without
    suffix><any image suffix>`` (PNG first); None when there is none."""
    exact = osp.join(mask_dir, rel)
    if osp.isfile(exact):
        return exact
    stem = osp.join(mask_dir, osp.splitext(rel)[0])
    for suffix in IMAGE_SUFFIXES:
        for cand in (stem + suffix, stem + suffix.upper()):
            if osp.isfile(cand):
                return cand
    return None


def read_mask(path: str, size: Tuple[int, int]) -> np.ndarray:
    """A user's mask as float32 (H, W) in [0, 1], 1 = translate.

    Any image file: its gray value is the mask (255 = 1), EXIF orientation
    applied as for the photos, resized (bilinear) to ``size`` = (H, W) of
    the image it belongs to.

    Raises:
        ImageReadError: The file cannot be read; the message names it.
    """
    try:
        with open_oriented(path) as img:
            if img.mode in ('1', 'L', 'P', 'RGB', 'RGBA', 'LA', 'CMYK'):
                gray = img.convert('L')
            else:  # 16-bit and float: through to_rgb's scaling
                gray = Image.fromarray(to_rgb(img, path)[..., 0])
            h, w = size
            if gray.size != (w, h):
                gray = gray.resize((w, h), Image.BILINEAR)
            return np.asarray(gray, dtype=np.float32) / 255.
    except ImageReadError:
        raise
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageReadError(f'mask {path}: {err}') from None


def masks_to_tensor(masks: Sequence[np.ndarray], size: Tuple[int, int],
                    device) -> torch.Tensor:
    """Masks (H, W) in [0, 1] (float) or [0, 255] (uint8) as one tensor
    (N, 1, h, w) at ``size`` = (h, w) (bilinear)."""
    arrays = []
    for m in masks:
        m = np.asarray(m)
        if m.ndim != 2:
            raise ValueError(f'a mask must be (H, W), got {m.shape}')
        arrays.append(m.astype(np.float32) / 255. if m.dtype == np.uint8
                      else m.astype(np.float32))
    if len({a.shape for a in arrays}) != 1:
        raise ValueError('masks of one batch must have one size, got '
                         f'{sorted({a.shape for a in arrays})}')
    t = torch.from_numpy(np.stack(arrays))[:, None].to(device)
    if t.shape[-2:] != tuple(size):
        t = F.interpolate(t, size=tuple(size), mode='bilinear',
                          align_corners=False)
    return t.clamp_(0, 1)
