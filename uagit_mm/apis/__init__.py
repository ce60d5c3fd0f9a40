from .image_io import IMAGE_SUFFIXES, ImageReadError, find_images, read_rgb
from .inference import (init_model, load_weights, mask_to_uint8,
                        resolve_direction, translate_arrays, translate_tensors)
from .inferencer import AttentionTranslationInferencer, add_to_model_table

add_to_model_table()

__all__ = [
    'IMAGE_SUFFIXES', 'ImageReadError', 'find_images', 'read_rgb',
    'init_model', 'load_weights', 'mask_to_uint8',
    'resolve_direction', 'translate_arrays', 'translate_tensors',
    'AttentionTranslationInferencer'
]
