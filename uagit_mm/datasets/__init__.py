from .synthetic import generate_dataset, is_translated, stripe_score
from .transforms import (LoadPhotoFromFile, LoadUnpairedMasks,
                         PackUnpairedInputs)
from .unpaired_dataset import UnpairedFolderDataset

__all__ = [
    'LoadPhotoFromFile', 'LoadUnpairedMasks', 'PackUnpairedInputs',
    'UnpairedFolderDataset', 'generate_dataset', 'is_translated',
    'stripe_score'
]
