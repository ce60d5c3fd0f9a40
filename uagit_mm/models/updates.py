"""Optimizer updates for a GAN that calls its networks directly: gradient
averaging across processes, the non-finite loss guard and the check that
every trainable network is in some optimizer. Used by
:meth:`UAGIT.train_step <uagit_mm.models.UAGIT.train_step>`."""
from typing import Dict, Sequence

import torch
import torch.nn as nn
from mmengine import MessageHub, print_log
from mmengine.dist import all_reduce, all_reduce_params
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict

from uagit_mm.errors import ConfigError


def update(wrappers: Sequence[OptimWrapper], loss: torch.Tensor,
           modules: Sequence[nn.Module]) -> None:
    """``OptimWrapper.update_params(loss)`` with the gradients of ``modules``
    averaged over processes between backward and step.

    Args:
        wrappers (list[OptimWrapper]): The first one does the backward (loss
            scaling and gradient accumulation as in ``update_params``); all
            of them step together.
        loss (Tensor): The loss.
        modules (list[nn.Module]): Whose gradients to average.
    """
    first = wrappers[0]
    first.backward(first.scale_loss(loss))
    if first.should_update():
        # The model calls its per-domain networks directly
        # (``generators[d](x)``, several times per step), which bypasses the
        # DDP forward of MMSeparateDistributedDataParallel and so its
        # gradient all-reduce: without this every process would train its
        # own model. A no-op outside distributed training; every process
        # holds gradients for the same parameters (one fixed schedule).
        all_reduce_params([p.grad for m in modules for p in m.parameters()
                           if p.grad is not None], op='mean')
        for wrapper in wrappers:
            wrapper.step()
            wrapper.zero_grad()


def losses_finite(losses: Dict[str, torch.Tensor], nonfinite: str,
                  wrapper: OptimWrapper) -> bool:
    """Whether all ``losses`` are finite on every process.

    When one is not: ``nonfinite='stop'`` raises FloatingPointError naming
    the loss and the iteration; ``'skip'`` warns, clears the gradients of
    ``wrapper`` and returns False (skip this update).
    """
    # one device sync for all losses; the names only on failure
    finite = torch.isfinite(torch.stack(
        [v.detach() for v in losses.values()])).all().float()
    # all processes decide together: a rank that skipped (or stopped)
    # alone would leave the others waiting in the gradient all-reduce
    all_reduce(finite, op='min')
    if finite.item() == 1.0:
        return True
    bad = {k: float(v.detach()) for k, v in losses.items()
           if not torch.isfinite(v.detach())} or {
               'another process': float('nan')}
    it = MessageHub.get_current_instance().get_info('iter', 0)
    msg = (f'non-finite loss at iteration {it + 1}: ' +
           ', '.join(f'{k} = {v}' for k, v in bad.items()))
    if nonfinite == 'stop':
        raise FloatingPointError(
            f'{msg}. Training stopped before this update, so the last '
            'checkpoint in the work dir is the last good state. Lower '
            "the learning rate, or set model.nonfinite='skip' to skip "
            'such updates with a warning.')
    print_log(f'{msg}; update skipped', logger='current', level=30)
    wrapper.zero_grad()
    return False


def check_attentions_optimized(attentions: nn.Module,
                               optim_wrapper: OptimWrapperDict) -> None:
    """Refuse optimizer wrappers that would leave the attention networks
    untrained.

    mmagic's CycleGAN-style ``optim_wrapper`` (``generators`` and
    ``discriminators`` only) has no optimizer for them: they would stay at
    their init while their gradients pile up. This raises rather than add
    them to an optimizer behind the config's back, which would change its
    parameter groups and so what a checkpoint resumes. Coverage is checked
    by parameter identity against every wrapper's ``param_groups``.

    Raises:
        ConfigError: a trainable attention parameter is in no optimizer, or
            a separate ``attentions`` wrapper is an ``AmpOptimWrapper``.
    """
    covered = {
        id(p)
        for wrapper in optim_wrapper.values()
        for group in wrapper.optimizer.param_groups for p in group['params']
    }
    missing = [
        name for name, p in attentions.named_parameters()
        if p.requires_grad and id(p) not in covered
    ]
    if missing:
        raise ConfigError(
            'UAGIT: no optimizer updates the attention networks '
            f'({len(missing)} parameters, e.g. attentions.{missing[0]}); '
            'they would stay at their init. Set optim_wrapper.generators.'
            "modules=['generators', 'attentions'] (with "
            'constructor=MultiOptimWrapperConstructor), or add an '
            'optim_wrapper.attentions wrapper.')
    if 'attentions' in optim_wrapper and isinstance(
            optim_wrapper['attentions'], AmpOptimWrapper):
        raise ConfigError(
            'UAGIT: optim_wrapper.attentions cannot be an AmpOptimWrapper '
            '(two loss scalers on one loss); put the attention networks '
            "into the generators' wrapper with modules=['generators', "
            "'attentions'] for AMP.")
