from .hooks import (AttentionCollapseHook, AttentionVisualizationHook,
                    SafeCheckpointHook, TranslationOutputHook)

__all__ = [
    'AttentionCollapseHook', 'AttentionVisualizationHook',
    'SafeCheckpointHook', 'TranslationOutputHook'
]
