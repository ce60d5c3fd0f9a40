from .hooks import (AttentionCollapseHook, AttentionVisualizationHook,
                    RunCheckHook, SafeCheckpointHook, TranslationOutputHook)
from .runner import UAGITRunner

__all__ = [
    'AttentionCollapseHook', 'AttentionVisualizationHook', 'RunCheckHook',
    'SafeCheckpointHook', 'TranslationOutputHook', 'UAGITRunner'
]
