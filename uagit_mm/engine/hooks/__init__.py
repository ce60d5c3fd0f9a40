from .attention_collapse_hook import AttentionCollapseHook
from .attention_visualization_hook import AttentionVisualizationHook
from .domain_check_hook import DomainCheckHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .schedule_check_hook import PhaseScheduleHook
from .training_state_hook import TrainingStateHook
from .translation_output_hook import TranslationOutputHook

__all__ = [
    'AttentionCollapseHook', 'AttentionVisualizationHook', 'DomainCheckHook',
    'PhaseScheduleHook', 'SafeCheckpointHook', 'TrainingStateHook',
    'TranslationOutputHook'
]
