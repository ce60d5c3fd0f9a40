from .safe_checkpoint_hook import SafeCheckpointHook
from .translation_output_hook import TranslationOutputHook

__all__ = ['SafeCheckpointHook', 'TranslationOutputHook']
