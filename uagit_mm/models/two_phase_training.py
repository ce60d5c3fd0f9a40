"""The two-phase training of Mejjati et al. (NeurIPS 2018): the schedule,
the translation cycle and the discriminator / generator updates of
:class:`~uagit_mm.models.UAGIT`, kept apart from its translation and test
code."""
from typing import Dict

import torch
from mmengine import MessageHub, print_log
from mmengine.dist import all_reduce
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict

from mmagic.models.utils import set_requires_grad
from .grad_sync import update_with_sync

Tensor = torch.Tensor


class TwoPhaseTrainingMixin:
    """Training steps for a model with per-domain ``attentions``,
    ``generators`` and ``discriminators`` (``nn.ModuleDict``), ``image_pools``,
    ``gan_loss``/``cycle_loss``/``id_loss``, the schedule attributes
    ``switch_iter``/``switch_epoch``/``freeze_attention``/
    ``disc_norm_in_phase2``/``nonfinite`` and the translation step
    ``_attend_and_translate``, as :class:`~uagit_mm.models.UAGIT` has.
    """

    # ------------------------------------------------------------------
    # schedule
    def current_phase(self) -> int:
        """1 (holistic discriminator) or 2 (attended regions only)."""
        hub = MessageHub.get_current_instance()
        if self.switch_iter is not None:
            return 2 if hub.get_info('iter', 0) >= self.switch_iter else 1
        if self.switch_epoch is not None:
            return 2 if hub.get_info('epoch', 0) >= self.switch_epoch else 1
        return 1

    def _enter_phase(self, phase: int) -> None:
        """Set the discriminators' norm for ``phase`` when it changes (also
        on the first step after a resume, when ``_last_phase`` is None)."""
        if phase != self._last_phase:
            norm_on = phase == 1 or self.disc_norm_in_phase2
            for disc in self.get_module(self.discriminators).values():
                disc.set_norm_enabled(norm_on)
            print_log(
                f'UAGIT phase {phase}: discriminators see '
                f"{'whole images' if phase == 1 else 'attended regions only'}"
                f", norm {'on' if norm_on else 'off'}; attention networks "
                f"{'frozen' if self.attention_frozen(phase) else 'training'}",
                logger='current')
            self._last_phase = phase

    def attention_frozen(self, phase: int) -> bool:
        """Whether the attention networks are frozen in ``phase``."""
        return phase == 2 and self.freeze_attention

    # ------------------------------------------------------------------
    # training
    def forward_cycle(self, inputs: Dict[str, Tensor],
                      train_attention: bool) -> Dict[str, Tensor]:
        """Translate both ways and back.

        Returns a dict with, per domain ``d`` and ``o`` the other domain:
        ``real_d``, ``attn_d`` (A_d(real_d)), ``fake_o`` (real_d translated),
        ``cycle_d`` (fake_o translated back through A_o).
        """
        out = {}
        for src in self._reachable_domains:
            tgt = self.other_domain(src)
            real = inputs[f'img_{src}']
            fake, out[f'attn_{src}'] = self._attend_and_translate(
                real, src, tgt, train_attention)
            # back through the other domain's attention network
            out[f'cycle_{src}'], _ = self._attend_and_translate(
                fake, tgt, src, train_attention)
            out[f'real_{src}'] = real
            out[f'fake_{tgt}'] = fake
        return out

    def train_discriminator(self, outputs: Dict[str, Tensor], phase: int,
                            optim_wrapper) -> Dict[str, Tensor]:
        """One LSGAN update of both discriminators on pooled fakes."""
        discs = self.get_module(self.discriminators)
        losses = {}
        with optim_wrapper.optim_context(self.discriminators):
            for tgt in self._reachable_domains:
                src = self.other_domain(tgt)
                fake, fake_attn = self.image_pools[tgt].query(
                    outputs[f'fake_{tgt}'], outputs[f'attn_{src}'])
                real_attn = outputs[f'attn_{tgt}'].detach()
                use_mask = phase == 2
                pred_fake = discs[tgt](fake, fake_attn if use_mask else None)
                pred_real = discs[tgt](outputs[f'real_{tgt}'],
                                       real_attn if use_mask else None)
                losses[f'loss_gan_d_{tgt}'] = 0.5 * (
                    self.gan_loss(pred_fake, False, is_disc=True) +
                    self.gan_loss(pred_real, True, is_disc=True))
        if self._losses_finite(losses, optim_wrapper):
            update_with_sync(optim_wrapper, sum(losses.values()),
                             [self.discriminators])
        return losses

    def train_generator(self, outputs: Dict[str, Tensor], phase: int,
                        optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One update of the generators (and attention nets in phase 1)."""
        discs = self.get_module(self.discriminators)
        gen_wrapper = optim_wrapper['generators']
        losses = {}
        set_requires_grad(self.discriminators, False)
        with gen_wrapper.optim_context(self.generators):
            for tgt in self._reachable_domains:
                src = self.other_domain(tgt)
                attn = outputs[f'attn_{src}'] if phase == 2 else None
                pred = discs[tgt](outputs[f'fake_{tgt}'], attn)
                losses[f'loss_gan_g_{tgt}'] = self.gan_loss(
                    pred, True, is_disc=False)
                losses[f'loss_cycle_{src}'] = self.cycle_loss(
                    outputs[f'cycle_{src}'], outputs[f'real_{src}'])
                if self.id_loss is not None:
                    real = outputs[f'real_{tgt}']
                    losses[f'loss_id_{tgt}'] = self.id_loss(
                        self._generate(tgt, real), real)
        set_requires_grad(self.discriminators, True)
        loss = sum(losses.values())
        if not self._losses_finite(losses, gen_wrapper):
            return losses
        if 'attentions' in optim_wrapper:
            # A separate wrapper for the attention networks: one backward
            # through the generators' wrapper, then both step.
            att_wrapper = optim_wrapper['attentions']
            if isinstance(att_wrapper, AmpOptimWrapper):
                raise ValueError(
                    'optim_wrapper.attentions cannot be an AmpOptimWrapper '
                    '(two loss scalers on one loss); put the attention '
                    "networks into the generators' wrapper with "
                    "modules=['generators', 'attentions'] for AMP.")
            update_with_sync([gen_wrapper, att_wrapper], loss,
                             [self.generators, self.attentions])
        else:
            update_with_sync(gen_wrapper, loss,
                             [self.generators, self.attentions])
        return losses

    def _losses_finite(self, losses: Dict[str, Tensor], wrapper) -> bool:
        """Check the losses; stop or skip (see ``nonfinite``) when one is
        NaN or infinite."""
        # one device sync for all losses; the names only on failure
        finite = torch.isfinite(torch.stack(
            [v.detach() for v in losses.values()])).all().float()
        # all processes decide together: a rank that skipped (or stopped)
        # alone would leave the others waiting in the gradient all-reduce
        all_reduce(finite, op='min')
        if finite.item() == 1.0:
            return True
        bad = {k: float(v) for k, v in losses.items()
               if not torch.isfinite(v.detach())} or {
                   'another process': float('nan')}
        it = MessageHub.get_current_instance().get_info('iter', 0)
        msg = (f'non-finite loss at iteration {it + 1}: ' + ', '.join(
            f'{k} = {v}' for k, v in bad.items()))
        if self.nonfinite == 'stop':
            raise FloatingPointError(
                f'{msg}. Training stopped before this update, so the last '
                'checkpoint in the work dir is the last good state. Lower '
                "the learning rate, or set model.nonfinite='skip' to skip "
                'such updates with a warning.')
        print_log(f'{msg}; update skipped', logger='current', level=30)
        wrapper.zero_grad()
        return False

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """Translate, update the discriminators, then the generators."""
        data = self.data_preprocessor(data, True)
        phase = self.current_phase()
        self._enter_phase(phase)
        train_attention = not self.attention_frozen(phase)
        with optim_wrapper['generators'].optim_context(self.generators):
            outputs = self.forward_cycle(data['inputs'], train_attention)
        log_vars = self.train_discriminator(outputs, phase,
                                            optim_wrapper['discriminators'])
        log_vars.update(
            self.train_generator(outputs, phase, optim_wrapper))
        log_vars = {k: v.detach() for k, v in log_vars.items()}
        thr = self.get_module(self.discriminators)[
            self._default_domain].threshold
        for d in self._reachable_domains:
            attn = outputs[f'attn_{d}'].detach()
            log_vars[f'mask_mean_{d}'] = attn.mean()
            log_vars[f'mask_above_tau_{d}'] = (attn > thr).float().mean()
        log_vars['phase'] = torch.tensor(float(phase))
        return log_vars
