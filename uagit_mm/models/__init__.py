from .attention_net import AttentionNet
from .masked_discriminator import AttentionMaskedDiscriminator
from .masked_pool import MaskedImagePool
from .phase_schedule import (PhaseSchedule, PhaseState, binarize_attention,
                             sample_binary_mask)
from .uagit import UAGIT, compose

__all__ = [
    'AttentionNet', 'AttentionMaskedDiscriminator', 'binarize_attention',
    'MaskedImagePool', 'PhaseSchedule', 'PhaseState', 'UAGIT', 'compose',
    'sample_binary_mask'
]
