"""Gradient averaging across processes for modules called directly."""
from typing import Sequence

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.model import is_model_wrapper
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


def sync_gradients(modules: Sequence[nn.Module]) -> None:
    """Average the gradients of ``modules`` over all processes.

    mmagic's ``MMSeparateDistributedDataParallel`` wraps each child of a GAN
    in DDP, but a translation model calls its per-domain networks directly
    (``generators[domain](x)``, several times per step), which bypasses DDP's
    forward and so its gradient all-reduce: without this, every rank would
    train its own model. Called between backward and step; a no-op outside
    distributed training. Every rank must hold gradients for the same
    parameters, which the model's fixed schedule guarantees.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    world = dist.get_world_size()
    if world == 1:
        return
    grads = []
    for module in modules:
        module = module.module if is_model_wrapper(module) else module
        grads += [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    by_dtype = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for group in by_dtype.values():
        flat = _flatten_dense_tensors(group)
        dist.all_reduce(flat)
        flat.div_(world)
        for g, synced in zip(group, _unflatten_dense_tensors(flat, group)):
            g.copy_(synced)


def update_with_sync(wrappers, loss: torch.Tensor,
                     modules: Sequence[nn.Module]) -> None:
    """``OptimWrapper.update_params(loss)`` with gradients averaged across
    processes between backward and step.

    Args:
        wrappers (OptimWrapper | list[OptimWrapper]): The first one does the
            backward (loss scaling and gradient accumulation as in
            ``update_params``); all of them step together.
        loss (Tensor): The loss.
        modules (list[nn.Module]): Whose gradients to average.
    """
    wrappers = list(wrappers) if isinstance(wrappers, (list, tuple)) \
        else [wrappers]
    first = wrappers[0]
    first.backward(first.scale_loss(loss))
    if first.should_update():
        sync_gradients(modules)
        for wrapper in wrappers:
            wrapper.step()
            wrapper.zero_grad()
