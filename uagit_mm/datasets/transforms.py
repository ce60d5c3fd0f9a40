"""Loading of photos (as inference reads them) and of ground-truth masks,
and packing under the domain names."""
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmagic.datasets.transforms import LoadImageFromFile, PackInputs
from mmagic.registry import TRANSFORMS
from uagit_mm.errors import ConfigError


@TRANSFORMS.register_module()
class LoadPhotoFromFile(LoadImageFromFile):
    """mmagic's ``LoadImageFromFile`` decoding as the inference tools do.

    The file's bytes come through mmagic's file backend as before; they are
    decoded by :func:`uagit_mm.apis.image_io.decode_rgb` (EXIF orientation
    applied, CMYK / palette / 16-bit converted, an embedded colour profile
    converted to sRGB or ignored per ``color_profiles``) instead of
    ``mmcv.imfrombytes``, whose cv2 decoder ignores colour profiles while
    the translate tool converted them: a model trained on one reading and
    used with the other saw different colours. The translate tool, the
    demo and the inferencer read the config's ``color_profiles`` (that of
    its ``test_pipeline``), so both readings are the same one.

    Args:
        color_profiles (str): 'convert' (the default) or 'ignore', as in
            :func:`uagit_mm.apis.image_io.read_rgb`.
        Others: as mmagic's ``LoadImageFromFile``; ``color_type`` must be
            'color' (3 channels), the only kind the models take.
    """

    def __init__(self, key: str, color_profiles: str = 'convert',
                 **kwargs) -> None:
        from uagit_mm.apis.image_io import check_color_profiles
        try:
            self.color_profiles = check_color_profiles(color_profiles)
        except ValueError as err:
            raise ConfigError(f'LoadPhotoFromFile: {err}') from None
        super().__init__(key, **kwargs)
        if self.color_type != 'color' or \
                self.channel_order not in ('bgr', 'rgb'):
            raise ConfigError(
                "LoadPhotoFromFile: color_type must be 'color' and "
                "channel_order 'bgr' or 'rgb', got "
                f'{self.color_type!r}, {self.channel_order!r}')

    def _load_image(self, filename):
        from mmengine.fileio import get_file_backend

        from uagit_mm.apis.image_io import decode_rgb
        if self.file_backend is None:
            self.file_backend = get_file_backend(
                uri=filename, backend_args=self.backend_args)
        data = self.cache.get(filename)
        if data is None:
            data = self.file_backend.get(filename)
            if self.use_cache:
                self.cache[filename] = data
        img = decode_rgb(data, filename, self.color_profiles)
        return img[..., ::-1].copy() if self.channel_order == 'bgr' else img

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, '
                f'color_profiles={self.color_profiles!r}, '
                f'channel_order={self.channel_order!r})')


@TRANSFORMS.register_module()
class LoadUnpairedMasks(BaseTransform):
    """Load the object masks of a test sample when the dataset has them.

    Reads ``mask_A_path`` / ``mask_B_path`` (set by
    :class:`~uagit_mm.datasets.UnpairedFolderDataset` when the folders
    ``testA_mask/`` / ``testB_mask/`` exist) and stores ``gt_mask_A`` /
    ``gt_mask_B`` as float tensors of shape (1, H, W) with 1 = object. The
    masks end up in the data sample for the metrics, never in the model's
    inputs. Samples without mask paths pass through unchanged.

    Args:
        threshold (int): Mask pixels above this 8-bit value are object.
            Defaults to 127.
    """

    def __init__(self, threshold: int = 127) -> None:
        self.threshold = threshold

    def transform(self, results: dict) -> dict:
        for side in ('A', 'B'):
            path = results.get(f'mask_{side}_path')
            if path is None:
                continue
            mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            if mask is None:
                raise OSError(f'cannot read mask {path}')
            img = results.get(f'img_{side}')
            if img is not None and img.shape[:2] != mask.shape:
                raise ValueError(
                    f'mask {path} is {mask.shape[1]}x{mask.shape[0]} but its '
                    f'image is {img.shape[1]}x{img.shape[0]}')
            results[f'gt_mask_{side}'] = torch.from_numpy(
                (mask > self.threshold).astype(np.float32))[None]
        return results


@TRANSFORMS.register_module()
class PackUnpairedInputs(BaseTransform):
    """Rename the generic ``*_A`` / ``*_B`` keys to the domain names and pack.

    :class:`~uagit_mm.datasets.UnpairedFolderDataset` loads domain A's image
    as ``img_A`` and domain B's as ``img_B`` and records the domain names in
    ``domain_a`` / ``domain_b``; pipelines can then be written once, without
    naming the domains, and this last step renames ``img_A`` to e.g.
    ``img_horse`` (likewise ``img_A_path``, ``gt_mask_A``, ``mask_A_path``)
    before mmagic's :class:`PackInputs` builds ``inputs`` (images only) and
    the ``DataSample`` (images, ground-truth masks, paths).

    Samples that no dataset made (an inferencer runs the pipeline on a bare
    ``dict(img_A_path=..., img_B_path=...)``) carry no domain names; they
    take them from ``domains``, which is why the configs' top-level
    ``test_pipeline`` (the one mmagic's inferencers read) names them.

    Args:
        keys (tuple[str]): Generic keys packed as image tensors.
            Defaults to ('img',).
        domains (Sequence[str], optional): The names of domains A and B for
            samples without ``domain_a`` / ``domain_b``. A sample that has
            them must agree. Defaults to None (the sample must name them).
    """

    def __init__(self,
                 keys=('img', ),
                 domains: Optional[Sequence[str]] = None) -> None:
        self.keys = tuple(keys)
        if domains is not None and (isinstance(domains, str)
                                    or len(domains) != 2):
            raise ConfigError('PackUnpairedInputs: domains must name the two '
                              f'domains A and B, got {domains!r}')
        self.domains = tuple(domains) if domains is not None else None

    def _domain_names(self, results: dict) -> Dict[str, str]:
        """``{'A': name, 'B': name}`` from the sample or from ``domains``."""
        given = (results.get('domain_a'), results.get('domain_b'))
        if None not in given:
            if self.domains is not None and given != self.domains:
                raise ConfigError(
                    'PackUnpairedInputs: the dataset names the domains '
                    f'{list(given)} but the pipeline names '
                    f'{list(self.domains)}')
            return dict(A=given[0], B=given[1])
        if self.domains is None:
            raise ConfigError(
                'PackUnpairedInputs: the sample names no domains (a dataset '
                'such as UnpairedFolderDataset sets domain_a / domain_b); for '
                'a pipeline used without one, e.g. by an inferencer, give '
                "them: dict(type='PackUnpairedInputs', domains=[domain_a, "
                'domain_b])')
        return dict(A=self.domains[0], B=self.domains[1])

    def transform(self, results: dict) -> dict:
        names = self._domain_names(results)
        renamed = {}
        for key, value in results.items():
            new_key = key
            for generic, name in names.items():
                for prefix in self.keys + ('gt_mask', 'mask'):
                    stem = f'{prefix}_{generic}'
                    if key == stem or key.startswith(stem + '_'):
                        new_key = f'{prefix}_{name}' + key[len(stem):]
            renamed[new_key] = value
        packed = [
            f'{prefix}_{name}' for prefix in self.keys
            for name in names.values() if f'{prefix}_{name}' in renamed
        ]
        # the paths go to the metainfo (PackInputs would drop them otherwise)
        paths = [
            f'{prefix}_{name}_path' for prefix in self.keys + ('mask', )
            for name in names.values() if f'{prefix}_{name}_path' in renamed
        ]
        masks = [f'gt_mask_{n}' for n in names.values() if f'gt_mask_{n}' in
                 renamed]
        return PackInputs(
            keys=packed, data_keys=packed + masks,
            meta_keys=paths).transform(renamed)

    def __repr__(self) -> str:
        domains = '' if self.domains is None else \
            f', domains={list(self.domains)}'
        return f'{self.__class__.__name__}(keys={self.keys}{domains})'
