"""An image pool whose entries carry their attention masks."""
from typing import Optional, Tuple

import torch

from mmagic.models.editors.cyclegan.cyclegan_modules import GANImageBuffer


class MaskedImagePool:
    """Keeps each pooled fake with the attention mask it was made with.

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

    def state_dict(self) -> dict:
        """The stored entries (fake and mask channels together, on the CPU)
        and their count, for checkpoints: a resumed run must draw from the
        same history as the interrupted one."""
        buf = self.buffer
        if buf.buffer_size == 0 or not buf.image_buffer:
            return dict(num=0, entries=torch.zeros(0))
        return dict(
            num=int(buf.img_num),
            entries=torch.cat(buf.image_buffer, dim=0).detach().cpu())

    def load_state_dict(self, state: dict,
                        device: Optional[torch.device] = None) -> None:
        """Restore what :meth:`state_dict` returned.

        Raises:
            ValueError: the stored entries do not fit this pool's size.
        """
        buf = self.buffer
        num, entries = int(state['num']), state['entries']
        if num > buf.buffer_size or (num and entries.shape[0] != num):
            raise ValueError(
                f'MaskedImagePool: the saved pool holds {num} entries, this '
                f'pool takes {buf.buffer_size} (model.buffer_size)')
        if buf.buffer_size == 0:
            return
        buf.img_num = num
        buf.image_buffer = [
            entries[i:i + 1].to(device) if device is not None else
            entries[i:i + 1] for i in range(num)
        ]
