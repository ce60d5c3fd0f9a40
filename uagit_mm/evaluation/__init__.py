from .attention_metrics import AttentionTranslationMetric, image_stats
from .fid_kid import TransFIDKID, kid_from_features, polynomial_mmd2

__all__ = [
    'AttentionTranslationMetric', 'image_stats', 'TransFIDKID',
    'kid_from_features', 'polynomial_mmd2'
]
