from .hooks import SafeCheckpointHook, TranslationOutputHook

__all__ = ['SafeCheckpointHook', 'TranslationOutputHook']
