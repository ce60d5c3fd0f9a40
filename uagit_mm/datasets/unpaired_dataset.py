"""Unpaired two-domain image folders with clear errors about the layout."""
import os.path as osp
from typing import List, Optional

from mmagic.datasets import UnpairedImageDataset
from mmagic.registry import DATASETS
from mmagic.datasets.basic_image_dataset import IMG_EXTENSIONS


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
    """

    def __init__(self,
                 data_root: Optional[str],
                 pipeline: List[dict],
                 test_mode: bool = False,
                 domain_a: str = 'A',
                 domain_b: str = 'B',
                 io_backend: Optional[str] = None) -> None:
        if not data_root:
            raise ValueError(
                'data_root is not set: pass --cfg-options data_root=<folder> '
                'with <folder>/trainA, trainB, testA, testB')
        if not osp.isdir(str(data_root)):
            raise FileNotFoundError(
                f'data_root {data_root} is not a folder (set it with '
                '--cfg-options data_root=<folder>)')
        if not (isinstance(domain_a, str) and isinstance(domain_b, str)
                and domain_a and domain_b and domain_a != domain_b):
            raise ValueError('domain_a and domain_b must be two different '
                             f'names, got {domain_a!r} and {domain_b!r}')
        self.domain_names = (domain_a, domain_b)
        # The parent loads generic keys img_A / img_B; PackUnpairedInputs
        # renames them to the domain names at the end of the pipeline.
        super().__init__(
            data_root,
            pipeline,
            io_backend=io_backend,
            test_mode=test_mode,
            domain_a='A',
            domain_b='B')

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
            raise FileNotFoundError(
                f'image folder {path} does not exist; expected the CycleGAN '
                'layout data_root/{trainA,trainB,testA,testB} '
                f'(data_root={self.data_root})')
        files = self.file_backend.list_dir_or_file(
            path, list_dir=False, suffix=IMG_EXTENSIONS, recursive=True)
        images = sorted(self.file_backend.join_path(path, f) for f in files)
        if not images:
            raise FileNotFoundError(
                f'image folder {path} contains no images (looked for '
                f"{', '.join(IMG_EXTENSIONS)})")
        return images
