from .attention_metrics import AttentionTranslationMetric, image_stats

__all__ = ['AttentionTranslationMetric', 'image_stats']
