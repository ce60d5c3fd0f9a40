"""An image pool whose entries carry their attention masks."""
from typing import Tuple

import torch

from mmagic.models.editors.cyclegan.cyclegan_modules import GANImageBuffer


class MaskedImagePool:
    """Keeps each pooled fake together with the attention mask it was made with.

    Phase 2 of Mejjati et al. (NeurIPS 2018) shows the discriminator a pooled
    fake through the *same* mask that composed it, so fake and mask must leave
    the pool together. mmagic's :class:`GANImageBuffer` implements the pool
    policy (fill up, then with probability 0.5 swap with a random stored
    entry); it stores single tensors, so mask and image are stored as one
    tensor with the mask as an extra channel and split again on the way out.

    Args:
        buffer (GANImageBuffer): The pool policy and storage.
    """

    def __init__(self, buffer: GANImageBuffer) -> None:
        self.buffer = buffer

    def query(self, images: torch.Tensor,
              masks: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Store the current batch and return a batch drawn from history.

        Args:
            images (Tensor): Fakes, (N, C, H, W); stored detached.
            masks (Tensor): Their masks, (N, 1, H, W); stored detached.

        Returns:
            tuple[Tensor, Tensor]: Fakes (N, C, H, W) and the matching masks
            (N, 1, H, W).
        """
        if images.shape[0] != masks.shape[0] or \
                images.shape[-2:] != masks.shape[-2:]:
            raise ValueError('MaskedImagePool: images and masks disagree in '
                             f'shape: {tuple(images.shape)} vs '
                             f'{tuple(masks.shape)}')
        joint = torch.cat([images.detach(), masks.detach().to(images.dtype)],
                          dim=1)
        out = self.buffer.query(joint)
        return out[:, :-1], out[:, -1:]
