"""The attention network A_S / A_T of Mejjati et al. (NeurIPS 2018)."""
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmagic.models.editors.cyclegan.cyclegan_modules import \
    ResidualBlockWithDropout
from mmagic.registry import MODELS


@MODELS.register_module()
class AttentionNet(BaseModule):
    """Attention network that predicts a one-channel map in [0, 1].

    From "Unsupervised Attention-guided Image-to-Image Translation",
    Mejjati et al., NeurIPS 2018 (arXiv 1806.02311). With the defaults it has
    the paper's ~0.15 M parameters: a 7x7 stride-2 conv to 32 channels, a
    3x3 stride-2 conv to 64, one residual block, two nearest-neighbour
    upsamplings each followed by a 3x3 conv (64, then 32 channels), and a
    3x3 conv to one channel with a sigmoid. Every conv except the last is
    followed by instance norm and ReLU. Weights are initialised by
    mmengine's ``BaseModule.init_weights`` from ``init_cfg``, by default
    normal(0, 0.02) weights and zero biases in every conv (the authors'
    init).

    Upsampling goes back to the exact size of the matching encoder level, so
    any input size works (not only multiples of 4) and the output always has
    the input's height and width.

    Args:
        in_channels (int): Channels of the input image. Defaults to 3.
        base_channels (int): Channels after the first conv. Level ``i`` of
            the encoder has ``base_channels * 2**i``. Defaults to 32.
        num_down (int): Number of stride-2 convs (and of upsamplings).
            Defaults to 2.
        num_blocks (int): Residual blocks at the bottleneck. Defaults to 1.
        up_kernel_size (int): Kernel of the convs after each upsampling and
            of the output conv. The paper's intent is 3 (the authors' code
            ends up with 1 through an argument mix-up). Defaults to 3.
        norm_cfg (dict, optional): Norm layer config. Defaults to IN.
        out_bias (float): Initial bias of the output conv, i.e. the
            attention starts near ``sigmoid(out_bias)`` everywhere; applied
            after ``init_cfg``. Defaults to 0 (the authors' init: 0.5).
        init_cfg (dict, optional): mmengine init config. Defaults to
            ``dict(type='Normal', layer='Conv2d', std=0.02, bias=0)``.
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 32,
                 num_down: int = 2,
                 num_blocks: int = 1,
                 up_kernel_size: int = 3,
                 norm_cfg: Optional[dict] = None,
                 out_bias: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg or dict(
            type='Normal', layer='Conv2d', std=0.02, bias=0))
        if num_down < 1:
            raise ValueError(f'AttentionNet: num_down must be >= 1, '
                             f'got {num_down}')
        norm_cfg = dict(type='IN') if norm_cfg is None else norm_cfg
        chans = [base_channels * 2**i for i in range(num_down)]

        down = [
            ConvModule(in_channels, chans[0], 7, stride=2, padding=3,
                       padding_mode='reflect', norm_cfg=norm_cfg)
        ]
        for i in range(1, num_down):
            down.append(
                ConvModule(chans[i - 1], chans[i], 3, stride=2, padding=1,
                           norm_cfg=norm_cfg))
        self.down = nn.ModuleList(down)
        self.blocks = nn.Sequential(*[
            ResidualBlockWithDropout(
                chans[-1], padding_mode='reflect', norm_cfg=norm_cfg,
                use_dropout=False) for _ in range(num_blocks)
        ])
        pad = up_kernel_size // 2
        up = []
        in_ch = chans[-1]
        for i in reversed(range(num_down)):
            up.append(
                ConvModule(in_ch, chans[i], up_kernel_size, padding=pad,
                           norm_cfg=norm_cfg))
            in_ch = chans[i]
        self.up = nn.ModuleList(up)
        self.out_conv = nn.Conv2d(in_ch, 1, up_kernel_size, padding=pad)
        self.out_bias = float(out_bias)

    def init_weights(self) -> None:
        """``init_cfg``, then the output bias ``out_bias``."""
        super().init_weights()
        if self.out_bias:
            nn.init.constant_(self.out_conv.bias, self.out_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict the attention map.

        Args:
            x (Tensor): Images, shape (N, C, H, W), any H and W larger
                than ``2 ** num_down`` (so the bottleneck is at least 2x2).

        Returns:
            Tensor: Attention, shape (N, 1, H, W), values in [0, 1].
        """
        min_size = 2**len(self.down) + 1
        if min(x.shape[-2:]) < min_size:
            raise ValueError(f'AttentionNet needs images of at least '
                             f'{min_size}x{min_size} pixels, got '
                             f'{tuple(x.shape[-2:])}')
        sizes: List[torch.Size] = []
        for layer in self.down:
            sizes.append(x.shape[-2:])
            x = layer(x)
        x = self.blocks(x)
        for layer, size in zip(self.up, reversed(sizes)):
            x = layer(F.interpolate(x, size=size, mode='nearest'))
        return torch.sigmoid(self.out_conv(x))
