"""Inference precision: float32, or bfloat16 autocast (``--dtype bf16``)."""
from contextlib import nullcontext
from typing import ContextManager, Optional, Union

import torch

DTYPES = {
    'fp32': torch.float32,
    'float32': torch.float32,
    'bf16': torch.bfloat16,
    'bfloat16': torch.bfloat16,
}
DTYPE_CHOICES = ('fp32', 'bf16')


def resolve_dtype(
        dtype: Union[None, str, torch.dtype]) -> Optional[torch.dtype]:
    """None for float32, ``torch.bfloat16`` for bfloat16.

    Raises:
        ValueError: any other dtype (named in the message).
    """
    if dtype is None:
        return None
    resolved = DTYPES.get(dtype, None) if isinstance(dtype, str) else dtype
    if resolved is torch.float32:
        return None
    if resolved is torch.bfloat16:
        return resolved
    raise ValueError(f'dtype must be one of {DTYPE_CHOICES} (or '
                     f'torch.float32 / torch.bfloat16), got {dtype!r}')


def autocast_context(device: Union[str, torch.device],
                     dtype: Union[None, str, torch.dtype]) -> ContextManager:
    """``torch.autocast`` in ``dtype`` on ``device``'s type, or nothing for
    float32. The weights stay float32; convolutions and matrix products run
    in bfloat16 (on CPUs with AVX512-BF16 or AMX, and on recent GPUs)."""
    dtype = resolve_dtype(dtype)
    if dtype is None:
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
