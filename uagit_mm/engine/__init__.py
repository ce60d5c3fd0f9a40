from .hooks import (AttentionCollapseHook, AttentionVisualizationHook,
                    DomainCheckHook, PhaseScheduleHook, SafeCheckpointHook,
                    TrainingStateHook, TranslationOutputHook)

__all__ = [
    'AttentionCollapseHook', 'AttentionVisualizationHook', 'DomainCheckHook',
    'PhaseScheduleHook', 'SafeCheckpointHook', 'TrainingStateHook',
    'TranslationOutputHook'
]
