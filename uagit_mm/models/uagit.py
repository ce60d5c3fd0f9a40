"""Attention-guided unpaired image-to-image translation (AGGAN) for mmagic."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import MessageHub
from mmengine.optim import OptimWrapperDict

from mmagic.models.base_models import BaseTranslationModel
from mmagic.models.editors.cyclegan.cyclegan_modules import GANImageBuffer
from mmagic.models.utils import set_requires_grad
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from mmagic.utils.typing import SampleList
from uagit_mm.errors import ConfigError
from .masked_pool import MaskedImagePool
from .phase_schedule import (PhaseSchedule, PhaseState, area_floor_penalty,
                             binarize_attention, sample_binary_mask,
                             sharpness_penalty)
from .updates import check_attentions_optimized, losses_finite, update

Tensor = torch.Tensor


def compose(image: Tensor, attention: Tensor, translated: Tensor) -> Tensor:
    """``attention * translated + (1 - attention) * image`` (paper, eq. 1),
    (N, C, H, W), for an attention map (N, 1, H, W) in [0, 1]."""
    return attention * translated + (1.0 - attention) * image


@MODELS.register_module()
class UAGIT(BaseTranslationModel):
    """Unsupervised attention-guided image-to-image translation.

    Mejjati, Richardt, Tompkin, Cosker, Kim. "Unsupervised Attention-guided
    Image-to-Image Translation", NeurIPS 2018 (arXiv 1806.02311), often
    called AGGAN. Per domain ``d`` the model holds ``attentions[d]`` (applied
    to images *of* ``d``), ``generators[d]`` and ``discriminators[d]``
    (producing / judging images *of* ``d``, mmagic's convention). A source
    image ``s`` with attention ``a = A_s(s)`` translates to
    ``a * G_t(a * s) + (1 - a) * s``; the cycle goes back through the other
    domain's attention network applied to the translation. ``schedule`` (a
    :class:`PhaseSchedule`) decides each training step's phase.

    The optimizer wrappers must cover the attention networks (``modules=
    ['generators', 'attentions']`` or an ``attentions`` wrapper): with
    mmagic's CycleGAN-style wrappers the first step that would train them
    raises a ``ConfigError`` (:func:`.updates.check_attentions_optimized`).

    Args:
        generator (dict): Generator config (e.g. mmagic ``ResnetGenerator``).
        discriminator (dict): Config of an ``AttentionMaskedDiscriminator``.
        attention (dict): Config of an ``AttentionNet``.
        data_preprocessor (dict): mmagic ``DataPreprocessor`` config; its
            ``data_keys`` default to ``img_<domain>`` for both domains.
        domains (list[str], optional): The two domain names, e.g.
            ``['horse', 'zebra']``; sets the three arguments below, with the
            second domain as the default target.
        default_domain, reachable_domains, related_domains: As in
            :class:`BaseTranslationModel`; exactly two domains.
        discriminator_steps (int): As in mmagic's CycleGAN: the generators
            and attention networks update every ``discriminator_steps``
            iterations, the discriminators every iteration. Defaults to 1.
        disc_init_steps (int): Iterations at the start that update only the
            discriminators. Defaults to 0.
        generator_input (str): 'foreground' feeds ``a * s`` to the generator
            (the paper), 'full' feeds ``s`` (one version of the authors'
            code). Defaults to 'foreground'.
        gan_loss, cycle_loss (dict, optional): Default to mmagic's LSGAN
            ``GANLoss`` and ``L1Loss`` with ``loss_weight=10``.
        id_loss (dict, optional): Identity loss ``|G_s(s) - s|`` (without
            attention); None (the paper) disables it.
        buffer_size (int): Fakes kept per direction, with their masks, for
            the discriminator updates. Defaults to 50.
        switch_epoch, switch_iter, threshold, freeze_attention,
        disc_norm_in_phase2: The phase schedule, see :class:`PhaseSchedule`
            (phase 2 from epoch ``switch_epoch`` or iteration ``switch_iter``;
            tau defaults to 0.1).
        binary_mask_from (int, optional): Not in the paper: from this
            iteration on, while the attention networks train, the training
            composites (and the generator inputs) use the binary mask
            ``[a > u]``, ``u ~ U(0, 1)`` per image, with a straight-through
            gradient (:func:`.phase_schedule.sample_binary_mask`), meant to
            push grey attention maps to 0 or 1 (in the pilot of
            docs/results.md on the colour-only set it made them worse
            instead). With ``cycle_trains_attention=False`` the cycle
            starts from the same binary composite, its mask detached.
            Test-time translation keeps the continuous mask. None (the
            default, the paper) never.
        sharpness (dict, optional): Not in the paper:
            ``dict(weight=w, begin=i0, end=i1)`` adds ``w *
            mean(4 a (1 - a))`` per attention map to the generator loss
            while the attention networks train, ramped in linearly from
            iteration ``i0`` to ``i1`` (:func:`.phase_schedule.
            sharpness_penalty`; logged as ``loss_sharp_<domain>``). None
            (the default, the paper) never.
        warmup (dict, optional): Not in the paper: ``dict(iters=n,
            mask=m)``: for the first ``n`` iterations the composites use
            the constant attention ``m`` (default 1, i.e. a CycleGAN on
            whole images) and the attention networks do not train, so the
            generators are useful before the masks are learnt. None (the
            default, the paper): no warm-up.
        area_floor (dict, optional): Not in the paper: ``dict(weight=w,
            floor=f)`` adds ``w *`` :func:`.phase_schedule.
            area_floor_penalty` per attention map (no image's mean
            attention below ``f``) to the generator loss while the attention
            trains; logged as ``loss_area_<domain>``. None (the default, the
            paper): never.
        domain_contrast (float): Not in the paper: while the attention
            trains, adds this weight times the mean of ``A_s`` on the other
            domain's real images (``A_s(t)``) to the generator loss, so
            each attention network marks what is particular to its domain
            rather than what both share (logged as ``loss_contrast_<s>``).
            0 (the default, the paper): never.
        area_cost (float): Not in the paper: while the attention trains,
            adds this weight times the mean attention of each map to the
            generator loss (a price per attended pixel; logged as
            ``loss_area_cost_<domain>``), see :class:`PhaseSchedule`. 0
            (the default, the paper): never.
        cycle_trains_attention (bool): Not in the paper when False: the
            cycle loss does not reach the attention networks (its cycle
            starts from a composite made with the attention detached, and
            the way back runs the other attention network without
            gradient); they learn from the adversarial loss (and the
            optional penalties) alone. Closing both masks makes the cycle
            loss exactly 0, which on real photographs drives them shut
            while the generators are still poor. True (the default, the
            paper): the cycle loss trains them too.
        hard_composite_gan (float): Not in the paper: after the warm-up,
            adds this weight times the generators' adversarial loss on a
            second composite, made with the hard mask ``[a > tau]`` of the
            detached attention (``loss_gan_hard_<target>``). It trains the
            generators only: their output must pass the discriminator at
            full strength wherever the attention is on, so they cannot
            make up for a grey mask by overshooting (a soft composite
            ``a G + (1 - a) s`` with ``a = 0.4`` looks translated when ``G``
            exaggerates), and the soft composite pays for grey masks again.
            0 (the default, the paper): never.
        size_divisor (int): The generator needs sizes divisible by this;
            other sizes are reflect-padded and cropped back. Defaults to 4.
        nonfinite (str): What a NaN/inf loss does: 'stop' raises an error
            naming the loss and iteration before any weight is touched (the
            last checkpoint stays the last good one); 'skip' warns and skips
            that update. Defaults to 'stop'.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: Optional[dict],
                 attention: dict,
                 data_preprocessor: dict,
                 domains: Optional[List[str]] = None,
                 default_domain: Optional[str] = None,
                 reachable_domains: Optional[List[str]] = None,
                 related_domains: Optional[List[str]] = None,
                 discriminator_steps: int = 1,
                 disc_init_steps: int = 0,
                 generator_input: str = 'foreground',
                 gan_loss: Optional[dict] = None,
                 cycle_loss: Optional[dict] = None,
                 id_loss: Optional[dict] = None,
                 buffer_size: int = 50,
                 switch_epoch: Optional[int] = None,
                 switch_iter: Optional[int] = None,
                 threshold: float = 0.1,
                 freeze_attention: bool = True,
                 disc_norm_in_phase2: bool = False,
                 binary_mask_from: Optional[int] = None,
                 sharpness: Optional[dict] = None,
                 warmup: Optional[dict] = None,
                 area_floor: Optional[dict] = None,
                 domain_contrast: float = 0.0,
                 area_cost: float = 0.0,
                 cycle_trains_attention: bool = True,
                 hard_composite_gan: float = 0.0,
                 size_divisor: int = 4,
                 nonfinite: str = 'stop') -> None:
        if domains is not None:
            domains = list(domains)
            default_domain = default_domain or domains[-1]
            reachable_domains = reachable_domains or domains
            related_domains = related_domains or domains
        if not reachable_domains or len(set(reachable_domains)) != 2:
            raise ConfigError(
                'UAGIT: model.domains (or reachable_domains) must name '
                f'exactly two domains, got {domains or reachable_domains}')
        if default_domain not in reachable_domains:
            raise ConfigError(
                f'UAGIT: model.default_domain {default_domain!r} is not one '
                f'of {reachable_domains}')
        if isinstance(data_preprocessor, dict) and \
                'data_keys' not in data_preprocessor:
            data_preprocessor = dict(
                data_preprocessor,
                data_keys=[f'img_{d}' for d in reachable_domains])
        for key, val, allowed in (
                ('nonfinite', nonfinite, ('stop', 'skip')),
                ('generator_input', generator_input, ('foreground', 'full'))):
            if val not in allowed:
                raise ConfigError(f'UAGIT: model.{key} must be one of '
                                  f'{allowed}, got {val!r}')
        if int(discriminator_steps) < 1 or int(disc_init_steps) < 0:
            raise ConfigError(
                'UAGIT: model.discriminator_steps must be >= 1 and '
                f'model.disc_init_steps >= 0, got {discriminator_steps} and '
                f'{disc_init_steps}')
        if not isinstance(cycle_trains_attention, bool):
            raise ConfigError('UAGIT: model.cycle_trains_attention must be '
                              f'True or False, got {cycle_trains_attention!r}')
        self.cycle_trains_attention = cycle_trains_attention
        if isinstance(hard_composite_gan, bool) or not isinstance(
                hard_composite_gan, (int, float)) or hard_composite_gan < 0:
            raise ConfigError('UAGIT: model.hard_composite_gan must be a '
                              f'weight >= 0, got {hard_composite_gan!r}')
        self.hard_composite_gan = float(hard_composite_gan)
        schedule = PhaseSchedule(switch_iter, switch_epoch, threshold,
                                 freeze_attention, disc_norm_in_phase2,
                                 binary_mask_from, sharpness, warmup,
                                 area_floor, domain_contrast, area_cost)
        super().__init__(generator, discriminator, default_domain,
                         reachable_domains, related_domains,
                         data_preprocessor, int(discriminator_steps),
                         int(disc_init_steps))
        self.attentions = nn.ModuleDict(
            {d: MODELS.build(attention)
             for d in self._reachable_domains})
        self.schedule = schedule
        self.generator_input = generator_input
        self.gan_loss = MODELS.build(gan_loss or dict(
            type='GANLoss', gan_type='lsgan'))
        self.cycle_loss = MODELS.build(cycle_loss or dict(
            type='L1Loss', loss_weight=10.0))
        self.id_loss = MODELS.build(id_loss) if id_loss else None
        self.image_pools = {
            d: MaskedImagePool(GANImageBuffer(buffer_size))
            for d in self._reachable_domains
        }
        self.size_divisor = size_divisor
        self.nonfinite = nonfinite
        self._attentions_checked = False

    def init_weights(self) -> None:
        """Initialise all networks from their ``init_cfg``; mmagic's
        ``BaseTranslationModel.init_weights`` knows only generators and
        discriminators."""
        super().init_weights()
        for net in self.get_module(self.attentions).values():
            net.init_weights()

    def current_phase(self) -> int:
        """1 (holistic discriminator) or 2 (attended regions only)."""
        return self.schedule.phase()

    # ------------------------------------------------------------------
    # translation
    def other_domain(self, domain: str) -> str:
        """The domain that is not ``domain``."""
        return self.get_other_domains(domain)[0]

    def _pad(self, x: Tensor, min_size: int = 1) -> Tensor:
        """Pad (bottom/right) to a multiple of ``size_divisor``, and at
        least ``min_size``: reflect where possible, else replicate."""
        h, w = x.shape[-2:]
        th = max(-(-h // self.size_divisor) * self.size_divisor, min_size)
        tw = max(-(-w // self.size_divisor) * self.size_divisor, min_size)
        if (th, tw) == (h, w):
            return x
        ph, pw = th - h, tw - w
        mode = 'reflect' if ph < h and pw < w else 'replicate'
        return F.pad(x, (0, pw, 0, ph), mode=mode)

    def _generate(self, domain: str, x: Tensor) -> Tensor:
        """Run ``generators[domain]`` on any size (pad, then crop back)."""
        h, w = x.shape[-2:]
        return self._get_target_generator(domain)(self._pad(x))[..., :h, :w]

    def translate(self, image: Tensor, target_domain: str,
                  mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Translate images (N, C, H, W) in [-1, 1] of the other domain
        into ``target_domain``; returns the composite (N, C, H, W) and the
        mask it used (N, 1, H, W) in [0, 1]: the source attention, or
        ``mask`` (N or 1, 1, H, W) in [0, 1] when given, which then replaces
        the attention network's output both in the generator's input and in
        the composition."""
        return self.translate_parts(image, target_domain, mask)[:2]

    def translate_parts(self, image: Tensor, target_domain: str,
                        mask: Optional[Tensor] = None
                        ) -> Tuple[Tensor, Tensor, Tensor]:
        """As :meth:`translate`, and the generator's output (N, C, H, W)
        that the composite blends in, so that a caller can compose at
        another size (``uagit_mm.apis.translate_tensors`` composes a
        large photo at its own resolution from a translation made at a
        smaller working size)."""
        source = self.other_domain(target_domain)
        h, w = image.shape[-2:]
        if mask is not None and (mask.dim() != 4 or mask.shape[1] != 1
                                 or mask.shape[-2:] != image.shape[-2:]):
            raise ValueError(f'translate: mask must be (N, 1, {h}, {w}) '
                             f'for images {tuple(image.shape)}, got '
                             f'{tuple(mask.shape)}')
        # tiny images are padded up to a size every network can take
        padded = self._pad(image, min_size=4 * self.size_divisor)
        if mask is not None:
            mask = self._pad(mask.to(image), min_size=4 * self.size_divisor)
        out, attention, generated, _ = self._attend_and_translate(
            padded, source, target_domain, attention=mask,
            with_generated=True)
        return (out[..., :h, :w], attention[..., :h, :w],
                generated[..., :h, :w])

    def attend(self, image: Tensor, target_domain: str) -> Tensor:
        """The attention (N, 1, H, W) in [0, 1] that :meth:`translate` would
        use for images (N, C, H, W) into ``target_domain``, without running
        the generator."""
        h, w = image.shape[-2:]
        padded = self._pad(image, min_size=4 * self.size_divisor)
        source = self.other_domain(target_domain)
        return self.get_module(self.attentions)[source](padded)[..., :h, :w]

    def _attend_and_translate(self, image: Tensor, source: str, target: str,
                              train_attention: bool = True,
                              attention: Optional[Tensor] = None,
                              binary_mask: bool = False,
                              with_generated: bool = False):
        """The attention ``A_source(image)`` (or the given ``attention``) and
        the composite with ``G_target``'s output (paper, eq. 1); the one step
        both translation and the training cycle use. ``binary_mask``
        composes with :func:`sample_binary_mask` of the attention (which is
        still what is returned). ``with_generated``: also return the
        generator's output and the mask the composite used."""
        if attention is None:
            with torch.set_grad_enabled(train_attention
                                        and torch.is_grad_enabled()):
                attention = self.get_module(self.attentions)[source](image)
        mask = sample_binary_mask(attention) if binary_mask else attention
        gen_in = mask * image \
            if self.generator_input == 'foreground' else image
        generated = self._generate(target, gen_in)
        out = compose(image, mask, generated)
        return (out, attention, generated, mask) if with_generated else \
            (out, attention)

    def translation(self, image: Tensor, target_domain=None, **kwargs):
        """mmagic's translation entry point: returns the composite only."""
        return self.translate(image, target_domain or self._default_domain)[0]

    def forward_test(self, img, target_domain=None, **kwargs):
        """Translate for testing (into the default domain when
        ``target_domain`` is None); adds the attention map."""
        target, attention = self.translate(
            img, target_domain or self._default_domain)
        return dict(source=img, target=target, attention=attention)

    # ------------------------------------------------------------------
    # validation / test
    def _predict(self, data: dict) -> SampleList:
        """Translate both ways; pack translations and attention maps."""
        data = self.data_preprocessor(data)
        inputs, data_samples = data['inputs'], data['data_samples']
        results = {}
        with torch.no_grad():
            for src in self._reachable_domains:
                tgt = self.other_domain(src)
                results[tgt] = self.translate(inputs[f'img_{src}'], tgt)
        samples = data_samples.split() if data_samples else []
        num = next(iter(results.values()))[0].shape[0]
        out = []
        for idx in range(num):
            sample = DataSample()
            if samples:
                sample.update(samples[idx])
            for tgt, (fake, attn) in results.items():
                src = self.other_domain(tgt)
                fake = self.data_preprocessor.destruct(
                    fake[idx], samples[idx] if samples else None,
                    f'img_{tgt}')
                sample.set_tensor_data({
                    f'fake_{tgt}': fake,
                    f'attention_{src}': attn[idx].cpu()
                })
            out.append(sample)
        return out

    def val_step(self, data: dict) -> SampleList:
        """Translations (``fake_<domain>``) and attention maps
        (``attention_<source domain>``, (1, H, W) in [0, 1])."""
        return self._predict(data)

    def test_step(self, data: dict) -> SampleList:
        """Same as :meth:`val_step`."""
        return self._predict(data)

    # ------------------------------------------------------------------
    # training
    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """Translate both ways and back, update the discriminators, then
        (every ``discriminator_steps`` iterations, after
        ``disc_init_steps``) the generators with the attention networks."""
        message_hub = MessageHub.get_current_instance()
        curr_iter = message_hub.get_info('iter', 0)
        data = self.data_preprocessor(data, True)
        state = self.schedule.state(message_hub)
        if state.changed:  # a new phase, or the first step (after a resume)
            for disc in self.get_module(self.discriminators).values():
                disc.set_norm_enabled(state.disc_norm)
        if state.train_attention and not self._attentions_checked:
            check_attentions_optimized(self.get_module(self.attentions),
                                       optim_wrapper)
            self._attentions_checked = True
        disc_wrapper = optim_wrapper['discriminators']
        gen_wrapper = optim_wrapper['generators']
        # a separate attention wrapper steps with the generators' one
        gen_wrappers = [optim_wrapper[k] for k in ('generators', 'attentions')
                        if k in optim_wrapper]

        with gen_wrapper.optim_context(self.generators):
            outputs = self.forward_cycle(data['inputs'],
                                         state.train_attention,
                                         state.binary_mask,
                                         state.fixed_mask)
            if state.contrast_weight:
                attentions = self.get_module(self.attentions)
                for src in self._reachable_domains:
                    # A_s on real images of the other domain
                    outputs[f'attn_on_other_{src}'] = attentions[src](
                        outputs[f'real_{self.other_domain(src)}'])

        with disc_wrapper.optim_context(self.discriminators):
            loss_d, log_vars = self._get_disc_loss(outputs, state)
        if losses_finite(log_vars, self.nonfinite, disc_wrapper):
            update([disc_wrapper], loss_d, [self.discriminators])

        # when, as in mmagic's CycleGAN; unlike it not also scaled by the
        # discriminators' accumulative_counts: each wrapper accumulates alone
        if ((curr_iter + 1) % self.discriminator_steps == 0
                and curr_iter >= self.disc_init_steps):
            set_requires_grad(self.discriminators, False)
            with gen_wrapper.optim_context(self.generators):
                loss_g, log_vars_g = self._get_gen_loss(outputs, state)
            set_requires_grad(self.discriminators, True)
            if losses_finite(log_vars_g, self.nonfinite, gen_wrapper):
                update(gen_wrappers, loss_g,
                       [self.generators, self.attentions])
            log_vars.update(log_vars_g)

        log_vars = {k: v.detach() for k, v in log_vars.items()}
        for d in self._reachable_domains:
            attn = outputs[f'attn_{d}'].detach()
            above = attn > self.schedule.threshold
            n_above = above.sum().clamp(min=1)
            log_vars[f'mask_mean_{d}'] = attn.mean()
            log_vars[f'mask_above_tau_{d}'] = above.float().mean()
            # sharpness: the mean attention inside the thresholded region
            # (1 for a binary mask) and the share of it that is grey
            log_vars[f'mask_inside_{d}'] = (attn * above).sum() / n_above
            log_vars[f'mask_grey_{d}'] = (
                above & (attn > 0.2) & (attn < 0.8)).sum() / n_above
        log_vars['phase'] = torch.tensor(float(state.phase))
        if self.schedule.warmup is not None:
            # 1 while the constant warm-up mask is used (the collapse hook
            # does not count those iterations)
            log_vars['warmup'] = torch.tensor(
                float(state.fixed_mask is not None))
        return log_vars

    def forward_cycle(self, inputs: Dict[str, Tensor],
                      train_attention: bool,
                      binary_mask: bool = False,
                      fixed_mask: Optional[float] = None
                      ) -> Dict[str, Tensor]:
        """Translate both ways and back; ``binary_mask``: compose with
        :func:`sample_binary_mask` of each attention map; ``fixed_mask``
        (the warm-up): use this constant attention instead of the attention
        networks'.

        Returns a dict with, per domain ``d`` and ``o`` the other domain:
        ``real_d``, ``attn_d`` (A_d(real_d), the continuous map), ``fake_o``
        (real_d translated), ``cycle_d`` (fake_o translated back through
        A_o); with ``hard_composite_gan``, after the warm-up, also
        ``hard_fake_o`` (real_d composed with ``[a > tau]`` of the detached
        attention).
        """
        out = {}
        for src in self._reachable_domains:
            tgt = self.other_domain(src)
            out[f'real_{src}'] = real = inputs[f'img_{src}']
            const = self._constant_mask(real, fixed_mask)
            fake, attn, generated, mask = self._attend_and_translate(
                real, src, tgt, train_attention, binary_mask=binary_mask,
                attention=const, with_generated=True)
            out[f'attn_{src}'] = attn
            out[f'fake_{tgt}'] = fake
            back_from, back_trains = fake, train_attention
            detach_cycle = not self.cycle_trains_attention
            if const is None and (detach_cycle or self.hard_composite_gan):
                # the generator's output with the mask detached (the same
                # output when the generator sees the full image)
                m = mask.detach()
                if self.generator_input != 'full':
                    generated = self._generate(tgt, m * real)
                if detach_cycle:
                    # the cycle from the same composite (with the same
                    # sampled binary mask, if any) but with the mask
                    # detached (the generator still learns from it)
                    back_from, back_trains = compose(real, m, generated), \
                        False
                if self.hard_composite_gan:
                    out[f'hard_fake_{tgt}'] = compose(
                        real, binarize_attention(attn.detach(),
                                                 self.schedule.threshold),
                        generated)
            # back through the other domain's attention network
            out[f'cycle_{src}'], _ = self._attend_and_translate(
                back_from, tgt, src, back_trains, binary_mask=binary_mask,
                attention=self._constant_mask(fake, fixed_mask))
        return out

    @staticmethod
    def _constant_mask(image: Tensor,
                       value: Optional[float]) -> Optional[Tensor]:
        """An attention map (N, 1, H, W) of ``value`` everywhere, or None."""
        if value is None:
            return None
        return image.new_full((image.shape[0], 1) + image.shape[-2:], value)

    def _get_disc_loss(self, outputs: Dict[str, Tensor], state: PhaseState
                       ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """LSGAN losses of both discriminators on pooled fakes (each with
        the mask it was made with); in phase 2 both real and fake images
        are masked with ``[a > tau]``."""
        discs = self.get_module(self.discriminators)
        losses = {}
        for tgt in self._reachable_domains:
            src = self.other_domain(tgt)
            fake, fake_attn = self.image_pools[tgt].query(
                outputs[f'fake_{tgt}'], outputs[f'attn_{src}'])
            pred_fake = discs[tgt](fake, state.disc_mask(fake_attn))
            pred_real = discs[tgt](outputs[f'real_{tgt}'],
                                   state.disc_mask(outputs[f'attn_{tgt}']))
            losses[f'loss_gan_d_{tgt}'] = 0.5 * (
                self.gan_loss(pred_fake, False, is_disc=True) +
                self.gan_loss(pred_real, True, is_disc=True))
        return sum(losses.values()), losses

    def _get_gen_loss(self, outputs: Dict[str, Tensor], state: PhaseState
                      ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Adversarial, cycle and (optional) identity losses of the
        generators and attention networks."""
        discs = self.get_module(self.discriminators)
        losses = {}
        for tgt in self._reachable_domains:
            src = self.other_domain(tgt)
            disc_mask = state.disc_mask(outputs[f'attn_{src}'])
            pred = discs[tgt](outputs[f'fake_{tgt}'], disc_mask)
            losses[f'loss_gan_g_{tgt}'] = self.gan_loss(
                pred, True, is_disc=False)
            if f'hard_fake_{tgt}' in outputs:
                pred = discs[tgt](outputs[f'hard_fake_{tgt}'], disc_mask)
                losses[f'loss_gan_hard_{tgt}'] = self.hard_composite_gan * \
                    self.gan_loss(pred, True, is_disc=False)
            losses[f'loss_cycle_{src}'] = self.cycle_loss(
                outputs[f'cycle_{src}'], outputs[f'real_{src}'])
            if self.id_loss is not None:
                real = outputs[f'real_{tgt}']
                losses[f'loss_id_{tgt}'] = self.id_loss(
                    self._generate(tgt, real), real)
            if state.sharpness_weight:
                losses[f'loss_sharp_{src}'] = state.sharpness_weight * \
                    sharpness_penalty(outputs[f'attn_{src}'].float())
            if state.contrast_weight:
                losses[f'loss_contrast_{src}'] = state.contrast_weight * \
                    outputs[f'attn_on_other_{src}'].float().mean()
            if state.area_floor:
                losses[f'loss_area_{src}'] = state.area_floor['weight'] * \
                    area_floor_penalty(outputs[f'attn_{src}'].float(),
                                       state.area_floor['floor'])
            if state.area_cost:
                losses[f'loss_area_cost_{src}'] = state.area_cost * \
                    outputs[f'attn_{src}'].float().mean()
        return sum(losses.values()), losses
