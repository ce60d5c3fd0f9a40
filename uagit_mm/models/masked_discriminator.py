"""The attention-guided (masked) PatchGAN discriminator.

In the second phase of training, Mejjati et al. (NeurIPS 2018) show the
discriminator only the attended regions, ``x * [a > tau]``, so that it cannot
learn that the mid-grey of a fractional mask is a sign of real images; the
authors' code also turns instance norm off in every discriminator layer in
that phase. The model's :class:`~uagit_mm.models.PhaseSchedule` owns tau and
the norm decision; this module applies the binary mask it is given and
switches its norm layers.
"""
from typing import Optional

import torch
from mmcv.cnn import ConvModule

from mmagic.models.archs import PatchDiscriminator
from mmagic.registry import MODELS
from uagit_mm.errors import ConfigError


@MODELS.register_module()
class AttentionMaskedDiscriminator(PatchDiscriminator):
    """mmagic's PatchGAN discriminator that can look at attended regions only.

    ``forward(x)`` sees the whole image (phase 1); ``forward(x, mask)`` sees
    ``x * mask`` for a binary mask (phase 2). :meth:`set_norm_enabled`
    switches the norm layers of every conv block on or off.

    Args:
        **kwargs: Passed to :class:`mmagic.models.archs.PatchDiscriminator`
            (``in_channels``, ``base_channels``, ``num_conv``, ``norm_cfg``,
            ``init_cfg``). With ``base_channels=64, num_conv=3`` the layers
            are 64-128-256-512-1 with strides 2, 2, 2, 1, 1, as in the paper.
    """

    def __init__(self, **kwargs) -> None:
        if 'threshold' in kwargs:
            raise ConfigError(
                'model.discriminator.threshold has moved to model.threshold '
                "(the paper's tau, owned by the model's phase schedule)")
        kwargs.setdefault('norm_cfg', dict(type='IN'))
        # mmagic's init_weights dereferences init_cfg even when it is None.
        kwargs.setdefault('init_cfg', dict(type='normal', gain=0.02))
        super().__init__(**kwargs)

    @property
    def norm_enabled(self) -> bool:
        """Whether the norm layers are applied."""
        return all(m.with_norm for m in self._normed_blocks())

    def _normed_blocks(self):
        return [
            m for m in self.modules()
            if isinstance(m, ConvModule) and m.norm_cfg is not None
        ]

    def set_norm_enabled(self, enabled: bool) -> None:
        """Apply (True) or skip (False) the norm layer of every conv block.

        ``ConvModule`` consults ``with_norm`` on every forward, so this needs
        no rebuilding and holds no parameters (IN has no affine weights here).
        """
        for m in self._normed_blocks():
            m.with_norm = bool(enabled)

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Score image patches.

        Args:
            x (Tensor): Images, shape (N, C, H, W).
            mask (Tensor, optional): Binary masks, (N, 1, H, W), e.g.
                ``[attention > tau]``. When given, the discriminator sees
                ``x * mask``.

        Returns:
            Tensor: Patch scores, shape (N, 1, H', W').
        """
        if mask is not None:
            x = x * mask
        return self.model(x)
