from .hooks import (AttentionCollapseHook, AttentionVisualizationHook,
                    RunCheckHook, SafeCheckpointHook, TranslationOutputHook)
from .optimizers import AutocastOptimWrapper
from .runner import UAGITRunner

__all__ = [
    'AttentionCollapseHook', 'AttentionVisualizationHook',
    'AutocastOptimWrapper', 'RunCheckHook', 'SafeCheckpointHook',
    'TranslationOutputHook', 'UAGITRunner'
]
