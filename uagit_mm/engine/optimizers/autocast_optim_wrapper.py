"""Mixed precision without loss scaling, on whatever device the model is."""
from contextlib import contextmanager
from typing import Union

import torch
import torch.nn as nn
from mmengine.device import get_device
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast

from mmagic.registry import OPTIM_WRAPPERS


def module_device_type(module: nn.Module) -> str:
    """'cpu', 'cuda', ... of ``module``'s first parameter or buffer, else
    mmengine's current device."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device.type
    return get_device()


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose :meth:`optim_context` runs the forward
    passes and losses under ``torch.autocast`` in bfloat16, on the device
    of the module it is given (CPU or GPU).

    mmengine's ``AmpOptimWrapper`` refuses to be built without a GPU (its
    ``GradScaler`` is CUDA's), so CPU training had no mixed precision at
    all. bfloat16 keeps float32's exponent range, so, unlike float16, it
    needs no loss scaling: backward, step and the checkpointed state are
    exactly ``OptimWrapper``'s, and a checkpoint written with this wrapper
    resumes with a plain ``OptimWrapper`` and the other way round.

    Which operations run in bfloat16 is torch's autocast policy: matrix
    products and convolutions do, while the losses (``mse_loss``,
    ``l1_loss``), reductions such as ``sum``/``mean`` of the loss terms,
    and anything mixing a bfloat16 with a float32 tensor (e.g. the
    composition with the real image) come out in float32. The backward runs
    outside the context (``update_params``), as torch recommends.

    Args:
        dtype (str | torch.dtype): The autocast dtype. Only bfloat16:
            float16 needs loss scaling (use mmengine's ``AmpOptimWrapper``
            on a GPU). Defaults to 'bfloat16'.
        **kwargs: Passed to :class:`OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).

    Example:
        >>> optim_wrapper = dict(type='AutocastOptimWrapper',
        ...                      optimizer=dict(type='Adam', lr=2e-4))
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs) -> None:
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, None)
        if dtype is not torch.bfloat16:
            raise ValueError(
                'AutocastOptimWrapper: dtype must be bfloat16 (float16 '
                'needs loss scaling: use AmpOptimWrapper on a GPU), got '
                f'{dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper``'s context (no gradient sync while accumulating)
        plus autocast on ``model``'s device type."""
        with super().optim_context(model), autocast(
                device_type=module_device_type(model), dtype=self.cast_dtype):
            yield
