"""Packing of unpaired samples under their domain names."""
from mmcv.transforms import BaseTransform

from mmagic.datasets.transforms import PackInputs
from mmagic.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackUnpairedInputs(BaseTransform):
    """Rename the generic ``*_A`` / ``*_B`` keys to the domain names and pack.

    :class:`~uagit_mm.datasets.UnpairedFolderDataset` loads domain A's image
    as ``img_A`` and domain B's as ``img_B`` and records the domain names in
    ``domain_a`` / ``domain_b``; pipelines can then be written once, without
    naming the domains, and this last step renames ``img_A`` to e.g.
    ``img_horse`` (likewise ``img_A_path``, ``mask_A`` ...) before mmagic's
    :class:`PackInputs` builds ``inputs`` and the ``DataSample``.

    Args:
        keys (tuple[str]): Generic keys packed as image tensors.
            Defaults to ('img',).
    """

    def __init__(self, keys=('img', )) -> None:
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        names = {'A': results['domain_a'], 'B': results['domain_b']}
        renamed = {}
        for key, value in results.items():
            new_key = key
            for generic, name in names.items():
                for prefix in self.keys + ('mask', ):
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
        return PackInputs(
            keys=packed, data_keys=packed, meta_keys=paths).transform(renamed)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(keys={self.keys})'
