from .attention_collapse_hook import AttentionCollapseHook
from .attention_visualization_hook import AttentionVisualizationHook
from .run_check_hook import RunCheckHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .translation_output_hook import TranslationOutputHook

__all__ = [
    'AttentionCollapseHook', 'AttentionVisualizationHook', 'RunCheckHook',
    'SafeCheckpointHook', 'TranslationOutputHook'
]
