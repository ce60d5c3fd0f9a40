from .image_io import (IMAGE_SUFFIXES, ImageReadError, find_images, read_rgb,
                       save_png_atomic)
from .inference import init_model, resolve_direction, translate_arrays
from .inferencer import AttentionTranslationInferencer, register

register()

__all__ = [
    'IMAGE_SUFFIXES', 'ImageReadError', 'find_images', 'read_rgb',
    'save_png_atomic', 'init_model', 'resolve_direction', 'translate_arrays',
    'AttentionTranslationInferencer'
]
