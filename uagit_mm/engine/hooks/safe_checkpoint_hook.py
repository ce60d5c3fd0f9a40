"""Keep checkpoints loadable with ``torch.load(weights_only=True)``."""
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import get_state_dict, weights_to_cpu

from mmagic.registry import HOOKS

_TAG = '__uagit_history_buffer__'


def _to_plain(value: Any) -> Any:
    """Turn HistoryBuffers and numpy values into tensors / builtins."""
    if isinstance(value, HistoryBuffer):
        log, count = value.data
        return {
            _TAG: True,
            'log': torch.from_numpy(np.asarray(log, dtype=np.float64)),
            'count': torch.from_numpy(np.asarray(count, dtype=np.float64)),
            'max_length': int(value.max_length),
        }
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((k, _to_plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(v) for v in value)
    return value


def _from_plain(value: Any) -> Any:
    """Inverse of :func:`_to_plain` for the HistoryBuffers."""
    if isinstance(value, dict):
        if value.get(_TAG):
            return HistoryBuffer(value['log'].numpy().tolist(),
                                 value['count'].numpy().tolist(),
                                 value['max_length'])
        return type(value)((k, _from_plain(v)) for k, v in value.items())
    return value


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Store the message hub as tensors so checkpoints need no unpickling,
    and the weights under the same keys in single- and multi-process runs.

    mmengine saves the message hub as ``HistoryBuffer`` objects with numpy
    arrays, which ``torch.load(weights_only=True)`` (the default since torch
    2.6) refuses. This hook converts them to plain dicts of tensors before a
    checkpoint is written and back after one is loaded, so resume restores
    the same logs and runtime info. See :mod:`uagit_mm.checkpoint`.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # mmengine saves ``model.state_dict()``, whose keys carry a
        # '.module.' for every DDP-wrapped child in distributed runs
        # ('generators.module.horse...'); such a checkpoint would not load
        # into a single-process model. Save the unwrapped keys instead
        # (mmengine's loader unwraps wrapped children when loading).
        if 'state_dict' in checkpoint:
            model = runner.model.module if is_model_wrapper(
                runner.model) else runner.model
            checkpoint['state_dict'] = weights_to_cpu(get_state_dict(model))
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = _to_plain(checkpoint['message_hub'])
        if 'meta' in checkpoint:
            checkpoint['meta'] = _to_plain(checkpoint['meta'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Turn the stored message hub back into HistoryBuffers."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = _from_plain(checkpoint['message_hub'])
