"""The attention-guided (masked) PatchGAN discriminator.

In the second phase of training, Mejjati et al. (NeurIPS 2018) show the
discriminator only the attended regions, ``x * [a > tau]``, so that it cannot
learn that the mid-grey of a fractional mask is a sign of real images; the
authors' code also turns instance norm off in every discriminator layer in
that phase.
"""
from typing import Optional

import torch
from mmcv.cnn import ConvModule

from mmagic.models.archs import PatchDiscriminator
from mmagic.registry import MODELS
from uagit_mm.errors import ConfigError


def binarize_attention(attention: torch.Tensor,
                       threshold: float) -> torch.Tensor:
    """Binarise an attention map: 1 where ``attention > threshold``, else 0.

    Args:
        attention (Tensor): Attention in [0, 1], shape (N, 1, H, W).
        threshold (float): The threshold tau.

    Returns:
        Tensor: Binary mask with the dtype and shape of ``attention``; it
        carries no gradient.
    """
    return (attention.detach() > threshold).to(attention.dtype)


@MODELS.register_module()
class AttentionMaskedDiscriminator(PatchDiscriminator):
    """mmagic's PatchGAN discriminator that can look at attended regions only.

    ``forward(x)`` sees the whole image (phase 1); ``forward(x, attention)``
    sees ``x * [attention > threshold]`` (phase 2). :meth:`set_norm_enabled`
    switches the norm layers of every conv block on or off.

    Args:
        threshold (float): tau, in [0, 1]. Defaults to 0.1 (the paper).
        **kwargs: Passed to :class:`mmagic.models.archs.PatchDiscriminator`
            (``in_channels``, ``base_channels``, ``num_conv``, ``norm_cfg``,
            ``init_cfg``). With ``base_channels=64, num_conv=3`` the layers
            are 64-128-256-512-1 with strides 2, 2, 2, 1, 1, as in the paper.
    """

    def __init__(self, threshold: float = 0.1, **kwargs) -> None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ConfigError(
                'AttentionMaskedDiscriminator: threshold '
                '(model.discriminator.threshold, the paper\'s tau) must lie '
                f'in [0, 1], got {threshold}')
        kwargs.setdefault('norm_cfg', dict(type='IN'))
        # mmagic's init_weights dereferences init_cfg even when it is None.
        kwargs.setdefault('init_cfg', dict(type='normal', gain=0.02))
        super().__init__(**kwargs)
        self.threshold = float(threshold)

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
                attention: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Score image patches.

        Args:
            x (Tensor): Images, shape (N, C, H, W).
            attention (Tensor, optional): Attention maps of shape
                (N, 1, H, W) in [0, 1]. When given, the discriminator sees
                ``x * [attention > threshold]``.

        Returns:
            Tensor: Patch scores, shape (N, 1, H', W').
        """
        if attention is not None:
            x = x * binarize_attention(attention, self.threshold)
        return self.model(x)
