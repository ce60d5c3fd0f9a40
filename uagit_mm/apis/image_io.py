"""Reading any common image as RGB, and writing outputs atomically."""
import os
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp',
                  '.ppm', '.pgm', '.gif')


class ImageReadError(Exception):
    """An input file could not be read as an image."""


#: Default limit of :func:`read_rgb` (and ``--max-pixels``): 36 megapixels,
#: e.g. 6000x6000. Larger files are refused from their header, before any
#: pixel is decoded.
DEFAULT_MAX_PIXELS = 36_000_000


def read_rgb(path: str,
             max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as an RGB uint8 array (H, W, 3).

    Grayscale, RGBA (the alpha channel is dropped), palette, 16-bit and
    float images are converted. Errors name the file.

    Args:
        path (str): The image file.
        max_pixels (int, optional): Refuse images with more pixels than
            this, judged from the file's header before decoding (a 20000 x
            20000 PNG can be a few hundred kilobytes on disk and 1.2 GB
            decoded). None: no limit of ours (Pillow's own decompression-
            bomb check still applies).

    Raises:
        ImageReadError: The file is empty, unreadable, too large or not an
            image.
    """
    try:
        if osp.getsize(path) == 0:
            raise ImageReadError(f'{path}: empty file')
        with Image.open(path) as img:
            pixels = img.width * img.height
            if max_pixels is not None and pixels > max_pixels:
                raise ImageReadError(
                    f'{path}: {img.width}x{img.height} is {pixels:,} pixels, '
                    f'more than the limit of {max_pixels:,} (--max-pixels); '
                    'raise the limit, with --max-side to translate it '
                    'smaller')
            img.load()
            return to_rgb(img, path)
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, ValueError,
            Image.DecompressionBombError, SyntaxError) as err:
        raise ImageReadError(f'{path}: {err}') from None


def to_rgb(img: Image.Image, name: str = 'image') -> np.ndarray:
    """Convert a PIL image of any mode to RGB uint8."""
    mode = img.mode
    if mode in ('I;16', 'I;16B', 'I;16L', 'I', 'F'):
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith('I;16'):
            arr = arr / 257.0
        elif arr.size and arr.max() > 255:
            arr = arr / max(arr.max(), 1.0) * 255.0
        gray = np.clip(arr, 0, 255).round().astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == 'P' and 'transparency' in img.info:
        img = img.convert('RGBA')
    if img.mode != 'RGB':
        img = img.convert('RGB')
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageReadError(f'{name}: unsupported image layout {arr.shape}')
    return np.ascontiguousarray(arr)


def find_images(root: str,
                errors: Optional[List[str]] = None) -> List[Tuple[str, str]]:
    """``(path, path relative to root)`` of every image under ``root``
    (recursively, sorted), or ``[(root, basename)]`` for a single file.
    Files with image suffixes are listed even when broken, so that they can
    be reported.

    Args:
        root (str): A file or folder.
        errors (list, optional): Receives a message for each sub-folder that
            cannot be listed (permissions); without it such folders raise.
    """
    if osp.isfile(root):
        return [(root, osp.basename(root))]
    if not osp.isdir(root):
        raise FileNotFoundError(f'input {root} does not exist')

    def onerror(err: OSError) -> None:
        # os.walk would skip an unlistable folder without a word
        if errors is None:
            raise err
        errors.append(f'{err.filename}: cannot list the folder '
                      f'({err.strerror})')

    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(IMAGE_SUFFIXES):
                path = osp.join(dirpath, name)
                found.append((path, osp.relpath(path, root)))
    return found
