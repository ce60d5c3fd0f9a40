"""Reading images as people have them (phone photos, web folders) as RGB:
the one reader of training, testing and inference.

EXIF orientation is applied (a portrait phone photo comes out upright);
CMYK, palette, 16-bit and float images are converted; of an animated image
(GIF, APNG, WebP) the first frame is used. An embedded colour profile other
than sRGB (Display P3 from phones, Adobe RGB from cameras, a CMYK press
profile) is, with ``color_profiles='convert'`` (the default), converted to
sRGB with Pillow's LittleCMS bindings (a profile it cannot read leaves the
pixels as stored); with ``'ignore'`` the stored values are taken as they
are, as the field's loaders (CycleGAN's, the published FID/KID code) and
mmcv's cv2 decoder do. The configs' loading transform
(:class:`uagit_mm.datasets.LoadPhotoFromFile`) decodes with the same
functions, and the translate tool, the demo and the inferencer take the
choice of the model's config (:func:`config_color_profiles`), so a model
sees its photos at inference as it saw its training images.
"""
import io
import os
import os.path as osp
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp',
                  '.ppm', '.pgm', '.gif')


class ImageReadError(Exception):
    """An input file could not be read as an image."""


#: Default limit of :func:`read_rgb` (and ``--max-pixels``): 36 megapixels,
#: e.g. 6000x6000. Larger files are refused from their header, before any
#: pixel is decoded.
DEFAULT_MAX_PIXELS = 36_000_000


#: What an embedded colour profile does (see the module docstring).
COLOR_PROFILES = ('convert', 'ignore')
DEFAULT_COLOR_PROFILES = 'convert'


def check_color_profiles(value: str, where: str = 'color_profiles') -> str:
    """``value`` if it is one of :data:`COLOR_PROFILES`, else ValueError
    naming ``where``."""
    if value not in COLOR_PROFILES:
        raise ValueError(f'{where} must be one of {COLOR_PROFILES}, got '
                         f'{value!r}')
    return value


def config_color_profiles(cfg) -> str:
    """The ``color_profiles`` of the loading transform of ``cfg``'s test
    pipeline (:class:`uagit_mm.datasets.LoadPhotoFromFile`), or the default
    for a config without one (no config, mmagic's ``LoadImageFromFile``)."""
    pipeline = None if cfg is None else cfg.get('test_pipeline', None)
    for step in pipeline or []:
        if isinstance(step, dict) and step.get('type') == 'LoadPhotoFromFile':
            return check_color_profiles(
                step.get('color_profiles', DEFAULT_COLOR_PROFILES),
                'test_pipeline LoadPhotoFromFile color_profiles')
    return DEFAULT_COLOR_PROFILES


#: Errors Pillow raises for files it cannot read.
_READ_ERRORS = (UnidentifiedImageError, OSError, ValueError,
                Image.DecompressionBombError, SyntaxError, EOFError)


@contextmanager
def open_oriented(path: str,
                  before_decode: Optional[Callable[[int, int], None]] = None
                  ) -> Iterator[Image.Image]:
    """Open an image, decode its first frame and apply its EXIF
    orientation (in place: no second copy of the pixels).

    Args:
        path (str): The image file.
        before_decode (callable, optional): Called with the stored
            ``(width, height)`` from the file's header, before any pixel is
            decoded; it may raise to refuse the file.
    """
    with Image.open(path) as img:
        if before_decode is not None:
            before_decode(img.width, img.height)
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
        yield img


def read_rgb(path: str,
             max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
             before_decode: Optional[Callable[[int, int], None]] = None,
             color_profiles: str = DEFAULT_COLOR_PROFILES) -> np.ndarray:
    """Read an image file as an RGB uint8 array (H, W, 3), upright.

    The EXIF orientation is applied. Grayscale, RGBA (the alpha channel is
    dropped), palette, CMYK, 16-bit and float images are converted; of an
    animated file the first frame is read. Errors name the file.

    Args:
        path (str): The image file.
        max_pixels (int, optional): Refuse images with more pixels than
            this, judged from the file's header before decoding (a 20000 x
            20000 PNG can be a few hundred kilobytes on disk and 1.2 GB
            decoded). None: no limit of ours (Pillow's own decompression-
            bomb check still applies).
        before_decode (callable, optional): Called with ``(width,
            height)`` from the header before decoding (e.g. a memory check);
            an :class:`ImageReadError` it raises is passed on.
        color_profiles (str): 'convert' an embedded colour profile to sRGB
            or 'ignore' it (module docstring).

    Raises:
        ImageReadError: The file is empty, unreadable, too large or not an
            image.
    """

    check_color_profiles(color_profiles)

    def check(width: int, height: int) -> None:
        pixels = width * height
        if max_pixels is not None and pixels > max_pixels:
            raise ImageReadError(
                f'{path}: {width}x{height} is {pixels:,} pixels, '
                f'more than the limit of {max_pixels:,} (--max-pixels); '
                'raise the limit, with --max-side to translate it '
                'smaller')
        if before_decode is not None:
            before_decode(width, height)

    try:
        if osp.getsize(path) == 0:
            raise ImageReadError(f'{path}: empty file')
        with open_oriented(path, check) as img:
            return to_rgb(img, path, color_profiles)
    except ImageReadError:
        raise
    except _READ_ERRORS as err:
        raise ImageReadError(f'{path}: {err}') from None


def to_srgb(img: Image.Image) -> Image.Image:
    """``img`` converted from its embedded ICC profile to sRGB (mode RGB,
    or RGBA when it has alpha), or ``img`` itself when it has no profile,
    an sRGB one, a mode the conversion does not take, or a profile
    LittleCMS cannot read."""
    icc = img.info.get('icc_profile')
    if not icc or img.mode not in ('RGB', 'RGBA', 'CMYK'):
        return img
    try:
        from PIL import ImageCms
    except ImportError:  # a Pillow built without LittleCMS
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode != 'CMYK' and _is_srgb(src, ImageCms):
            return img  # already what the models expect
        return ImageCms.profileToProfile(
            img, src, ImageCms.createProfile('sRGB'),
            outputMode='RGBA' if img.mode == 'RGBA' else 'RGB')
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img  # an unreadable or unusable profile: pixels as stored


#: Test colours for :func:`_is_srgb`: greys, primaries, secondaries and
#: mid tones, one pixel each.
_PROBE_COLOURS = [(v, v, v) for v in (0, 16, 64, 128, 192, 255)] + [
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
    (255, 0, 255), (200, 30, 30), (30, 160, 60), (40, 60, 200),
    (128, 64, 32)]


def _is_srgb(profile, cms) -> bool:
    """Whether an RGB ``profile`` maps colours to sRGB unchanged (within one
    level): decided by what the profile does, not by the words in its
    description ("sRGB IEC61966-2.1" from a camera maker may or may not be
    sRGB; a profile named "Custom RGB" may be)."""
    probe = Image.new('RGB', (len(_PROBE_COLOURS), 1))
    probe.putdata(_PROBE_COLOURS)
    out = cms.profileToProfile(probe, profile, cms.createProfile('sRGB'),
                               outputMode='RGB')
    return all(
        max(abs(a - b) for a, b in zip(want, got)) <= 1
        for want, got in zip(_PROBE_COLOURS, out.getdata()))


def decode_rgb(data: bytes, name: str = 'image',
               color_profiles: str = DEFAULT_COLOR_PROFILES) -> np.ndarray:
    """:func:`read_rgb` of a file's bytes (no size limit of ours), for
    loaders that get their bytes from a file backend.

    Raises:
        ImageReadError: The bytes are not an image; ``name`` is named.
    """
    check_color_profiles(color_profiles)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            ImageOps.exif_transpose(img, in_place=True)
            return to_rgb(img, name, color_profiles)
    except ImageReadError:
        raise
    except _READ_ERRORS as err:
        raise ImageReadError(f'{name}: {err}') from None


def to_rgb(img: Image.Image, name: str = 'image',
           color_profiles: str = DEFAULT_COLOR_PROFILES) -> np.ndarray:
    """Convert a PIL image of any mode to RGB uint8 (sRGB where it has an
    ICC profile, :func:`to_srgb`, unless ``color_profiles='ignore'``)."""
    if check_color_profiles(color_profiles) == 'convert':
        img = to_srgb(img)
    mode = img.mode
    if mode.startswith('I') or mode == 'F':
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size else 0
        if mode.startswith('I;16') or (mode == 'I' and 255 < top <= 65535
                                       and arr.min() >= 0):
            arr = arr / 257.0  # 16-bit
        elif mode == 'F' and 0 < top <= 1:
            arr = arr * 255.0  # float in [0, 1]
        elif top > 255:
            arr = arr / top * 255.0
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
