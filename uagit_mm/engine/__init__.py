from .hooks import (AttentionCollapseHook, AttentionVisualizationHook,
                    PhaseScheduleHook, SafeCheckpointHook,
                    TranslationOutputHook)

__all__ = [
    'AttentionCollapseHook', 'AttentionVisualizationHook',
    'PhaseScheduleHook', 'SafeCheckpointHook', 'TranslationOutputHook'
]
