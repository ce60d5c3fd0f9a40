from .transforms import PackUnpairedInputs
from .unpaired_dataset import UnpairedFolderDataset

__all__ = ['PackUnpairedInputs', 'UnpairedFolderDataset']
