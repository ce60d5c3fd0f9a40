from .attention_net import AttentionNet
from .masked_discriminator import (AttentionMaskedDiscriminator,
                                   binarize_attention)
from .masked_pool import MaskedImagePool
from .uagit import UAGIT, compose

__all__ = [
    'AttentionNet', 'AttentionMaskedDiscriminator', 'binarize_attention',
    'MaskedImagePool', 'UAGIT', 'compose'
]
