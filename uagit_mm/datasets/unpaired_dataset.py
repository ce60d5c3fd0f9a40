"""Unpaired two-domain image folders with clear errors about the layout."""
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.logging import print_log
from PIL import Image

from mmagic.datasets import UnpairedImageDataset
from mmagic.datasets.basic_image_dataset import IMG_EXTENSIONS
from mmagic.registry import DATASETS
from uagit_mm.errors import ConfigError, MissingFileError


@DATASETS.register_module()
class UnpairedFolderDataset(UnpairedImageDataset):
    """mmagic's ``UnpairedImageDataset`` that checks the folder layout first.

    Samples carry domain A's image path as ``img_A_path`` and domain B's as
    ``img_B_path`` with the names in ``domain_a``/``domain_b``; end the
    pipeline with ``PackUnpairedInputs`` to get ``img_<domain>`` inputs.
    Where ``trainA_mask/`` (``testA_mask/`` ...) has a PNG of the same name
    as an image, its path is given as ``mask_A_path`` (``LoadUnpairedMasks``
    loads it for the metrics).

    The layout is the CycleGAN one: ``data_root/{trainA,trainB}`` for
    training and ``data_root/{testA,testB}`` for testing. mmagic's dataset
    fails with a bare assertion (or a listing error) deep inside the Runner
    when a folder is missing or empty; this one stops before training with a
    message naming the folder and the option to change.

    Args:
        data_root (str): The dataset root (``data_root`` in the config).
        pipeline (list[dict]): Data transforms.
        test_mode (bool): Use the test folders. Defaults to False.
        domain_a (str): Name of domain A. Defaults to 'A'.
        domain_b (str): Name of domain B. Defaults to 'B'.
        io_backend (str, optional): mmengine file backend. Defaults to None.
        bad_files (str): What to do with files that do not decode as images
            (checked once, before training), or are smaller than a random
            crop that no resize precedes: 'error' stops with a message
            naming them, 'skip' leaves them out with a warning, 'ignore'
            does not check. Grayscale, RGBA, palette, CMYK, 16-bit and
            animated (first frame) images are fine: the pipeline's loader
            (mmcv's ``imfrombytes`` with ``color_type='color'``, i.e. cv2's
            ``IMREAD_COLOR``) converts them to 8-bit colour and applies the
            EXIF orientation, as ``LoadUnpairedMasks`` does for masks
            (``IMREAD_GRAYSCALE``); ``color_type='unchanged'`` or
            ``'color_ignore_orientation'`` would not.
        max_samples (int, optional): Use only the first ``max_samples``
            images (in name order) of each domain, e.g. a fixed subset of the
            test set for validation during training. Defaults to None (all).
        split (str, optional): Read ``data_root/<split>A`` and
            ``<split>B`` instead of ``train``/``test`` (by ``test_mode``),
            e.g. ``'val'``: the training images that
            ``tools/download_dataset.py --masks-zip`` holds out, with their
            reference masks, for validation and the mask figures. Defaults
            to None.
    """

    def __init__(self,
                 data_root: Optional[str],
                 pipeline: List[dict],
                 test_mode: bool = False,
                 domain_a: str = 'A',
                 domain_b: str = 'B',
                 io_backend: Optional[str] = None,
                 bad_files: str = 'error',
                 max_samples: Optional[int] = None,
                 split: Optional[str] = None) -> None:
        if split is not None and (not isinstance(split, str) or not split
                                  or '/' in split):
            raise ConfigError(f'split must be a folder prefix such as '
                              f"'val', got {split!r}")
        self.split = split
        if bad_files not in ('error', 'skip', 'ignore'):
            raise ConfigError("bad_files must be 'error', 'skip' or 'ignore', "
                              f'got {bad_files!r}')
        self.bad_files = bad_files
        if not data_root:
            raise ConfigError(
                'data_root is not set: pass --cfg-options data_root=<folder> '
                'with <folder>/trainA, trainB, testA, testB')
        if not osp.isdir(str(data_root)):
            raise MissingFileError(
                f'data_root {data_root} is not a folder (set it with '
                '--cfg-options data_root=<folder>)')
        if not (isinstance(domain_a, str) and isinstance(domain_b, str)
                and domain_a and domain_b and domain_a != domain_b):
            raise ConfigError('domain_a and domain_b must be two different '
                              f'names, got {domain_a!r} and {domain_b!r}')
        self.domain_names = (domain_a, domain_b)
        # images smaller than a random crop that is not preceded by a
        # resize come out smaller than the crop (mmagic's Crop shrinks the
        # crop to the image), so they are bad files for this pipeline
        self.min_size = _crop_before_resize(pipeline)
        # The parent loads generic keys img_A / img_B; PackUnpairedInputs
        # renames them to the domain names at the end of the pipeline.
        super().__init__(
            data_root,
            pipeline,
            io_backend=io_backend,
            test_mode=test_mode,
            domain_a='A',
            domain_b='B')
        if max_samples is not None:
            if not (isinstance(max_samples, int) and max_samples > 0):
                raise ConfigError('max_samples must be a positive integer, '
                                  f'got {max_samples!r}')
            # mmagic's dataset indexes each domain modulo its own length
            self.data_infos_a = self.data_infos_a[:max_samples]
            self.data_infos_b = self.data_infos_b[:max_samples]
            self.len_a = len(self.data_infos_a)
            self.len_b = len(self.data_infos_b)

    def load_data_list(self):
        """mmagic's lists, from ``<split>A``/``<split>B`` when ``split`` is
        set."""
        if self.split is not None:
            self.dataroot_a = osp.join(str(self.data_root), self.split + 'A')
            self.dataroot_b = osp.join(str(self.data_root), self.split + 'B')
        return super().load_data_list()

    def get_data_info(self, idx: int) -> dict:
        """Paths of one A and one B image, the two domain names and, where a
        ``<folder>_mask/`` twin holds the same file name, the mask paths."""
        info = super().get_data_info(idx)
        info['domain_a'], info['domain_b'] = self.domain_names
        for side, root in (('A', self.dataroot_a), ('B', self.dataroot_b)):
            mask = self._mask_path(info[f'img_{side}_path'], root)
            if mask is not None:
                info[f'mask_{side}_path'] = mask
        return info

    @staticmethod
    def _mask_path(image_path: str, root: str) -> Optional[str]:
        rel = osp.relpath(image_path, root)
        mask = osp.join(root + '_mask', osp.splitext(rel)[0] + '.png')
        return mask if osp.isfile(mask) else None

    def scan_folder(self, path: str) -> List[str]:
        """List the images under ``path`` (recursively), or explain why not."""
        if not osp.isdir(path):
            hint = ''
            if self.split == 'val':
                hint = ('; the validation split is written by '
                        'tools/make_synthetic_dataset.py (run it again on '
                        'this folder to add it) and tools/download_dataset.py'
                        ' (--num-val), or switch validation off with '
                        '--cfg-options val_interval=0')
            raise MissingFileError(
                f'image folder {path} does not exist; expected the CycleGAN '
                'layout data_root/{trainA,trainB,testA,testB} '
                f'(data_root={self.data_root}){hint}')
        files = self.file_backend.list_dir_or_file(
            path, list_dir=False, suffix=IMG_EXTENSIONS, recursive=True)
        images = sorted(self.file_backend.join_path(path, f) for f in files)
        if not images:
            raise MissingFileError(
                f'image folder {path} contains no images (looked for '
                f"{', '.join(IMG_EXTENSIONS)})")
        if self.bad_files != 'ignore':
            images = self._drop_or_refuse_bad(images, path)
        return images

    def _drop_or_refuse_bad(self, images: List[str], path: str) -> List[str]:
        problems = {}
        for image in images:
            reason = _decode_problem(image, self.min_size)
            if reason is not None:
                problems[image] = reason
        if not problems:
            return images
        bad = [f'{image} ({reason})' for image, reason in problems.items()]
        if self.bad_files == 'error':
            raise ConfigError(
                f'{len(bad)} file(s) in {path} cannot be read as images: '
                + '; '.join(bad[:5]) + (' ...' if len(bad) > 5 else '') +
                '. Remove them, or set bad_files=\'skip\' in the dataset '
                'config to leave them out.')
        for entry in bad:
            print_log(f'skipping unreadable image {entry}', logger='current',
                      level=30)
        kept = [i for i in images if i not in problems]
        if not kept:
            raise MissingFileError(f'image folder {path} has no readable '
                                   'images')
        return kept


def _crop_before_resize(pipeline) -> Optional[Tuple[int, int]]:
    """``(h, w)`` of the first ``Crop`` in ``pipeline`` (looking into
    ``TransformBroadcaster``) when no resize comes before it, else None."""
    def walk(transforms):
        for t in transforms or []:
            kind = t.get('type') if isinstance(t, dict) else type(t).__name__
            kind = kind if isinstance(kind, str) else getattr(
                kind, '__name__', '')
            inner = t.get('transforms') if isinstance(t, dict) else getattr(
                t, 'transforms', None)
            if inner is not None:
                yield from walk(inner if isinstance(inner, (list, tuple))
                                else [inner])
            else:
                yield kind, t

    for kind, t in walk(pipeline):
        if 'Resize' in kind:
            return None
        if kind == 'Crop':
            size = t.get('crop_size') if isinstance(t, dict) else getattr(
                t, 'crop_size', None)
            if size is None:
                return None
            size = (size, size) if isinstance(size, int) else tuple(size)
            return int(size[0]), int(size[1])
    return None


def _decode_problem(path: str,
                    min_size: Optional[Tuple[int, int]] = None
                    ) -> Optional[str]:
    """Why ``path`` does not decode as an image (or is smaller than
    ``min_size`` = (h, w)), or None."""
    try:
        if osp.getsize(path) == 0:
            return 'empty file'
        with Image.open(path) as img:
            img.load()  # a full decode: truncated files fail here
            width, height = img.size
            if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                # turned a quarter: mmcv's loader (cv2) applies the EXIF
                # orientation, so the pipeline sees the image upright
                width, height = height, width
            if width == 0 or height == 0:
                return 'empty image'
            if min_size and (height < min_size[0] or width < min_size[1]):
                return (f'{width}x{height} is smaller than the '
                        f'pipeline\'s crop {min_size[1]}x{min_size[0]} (add '
                        'a Resize before the Crop, or remove the image)')
    except (OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as err:
        return str(err) or type(err).__name__
    return None
