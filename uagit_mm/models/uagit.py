"""Attention-guided unpaired image-to-image translation (AGGAN) for mmagic."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmagic.models.base_models import BaseTranslationModel
from mmagic.models.editors.cyclegan.cyclegan_modules import GANImageBuffer
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from mmagic.utils.typing import SampleList
from uagit_mm.errors import ConfigError
from .masked_pool import MaskedImagePool
from .two_phase_training import TwoPhaseTrainingMixin

Tensor = torch.Tensor


def compose(image: Tensor, attention: Tensor, translated: Tensor) -> Tensor:
    """``attention * translated + (1 - attention) * image`` (paper, eq. 1).

    Args:
        image (Tensor): Source images, (N, C, H, W).
        attention (Tensor): Attention in [0, 1], (N, 1, H, W).
        translated (Tensor): Generator output, (N, C, H, W).

    Returns:
        Tensor: The composite, (N, C, H, W).
    """
    return attention * translated + (1.0 - attention) * image


@MODELS.register_module()
class UAGIT(TwoPhaseTrainingMixin, BaseTranslationModel):
    """Unsupervised attention-guided image-to-image translation.

    Mejjati, Richardt, Tompkin, Cosker, Kim. "Unsupervised Attention-guided
    Image-to-Image Translation", NeurIPS 2018 (arXiv 1806.02311), often
    called AGGAN. Per domain ``d`` the model holds ``attentions[d]`` (applied
    to images *of* ``d``), ``generators[d]`` and ``discriminators[d]``
    (producing / judging images *of* ``d``, mmagic's convention). A source
    image ``s`` with attention ``a = A_s(s)`` translates to
    ``a * G_t(a * s) + (1 - a) * s``; the cycle goes back through the other
    domain's attention network applied to the translation.

    Training has two phases. Before the switch point the discriminators see
    whole images and the attention networks train through the generator
    loss. From the switch point on (unless the switch is disabled, the
    holistic-discriminator ablation "Ours-D") the discriminators see only
    ``x * [a > tau]``, the attention networks are frozen and, optionally,
    the discriminators' norm layers are off.

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
        generator_input (str): 'foreground' feeds ``a * s`` to the generator
            (the paper), 'full' feeds ``s`` (one version of the authors'
            code). Defaults to 'foreground'.
        gan_loss (dict, optional): Adversarial loss. Defaults to mmagic
            ``GANLoss`` with ``gan_type='lsgan'``.
        cycle_loss (dict, optional): Cycle loss. Defaults to mmagic
            ``L1Loss`` with ``loss_weight=10``.
        id_loss (dict, optional): Identity loss ``|G_s(s) - s|`` (without
            attention); None (the paper) disables it.
        buffer_size (int): Fakes kept per direction, with their masks, for
            the discriminator updates. Defaults to 50.
        switch_epoch (int, optional): Epoch (0-based) from which phase 2
            runs. The paper's value is 30 of 100.
        switch_iter (int, optional): The same in iterations. At most one of
            ``switch_epoch``/``switch_iter`` may be set; with neither the
            discriminators stay holistic ("Ours-D").
        freeze_attention (bool): Stop training the attention networks in
            phase 2. Defaults to True.
        disc_norm_in_phase2 (bool): Keep the discriminators' norm layers
            in phase 2. Defaults to False (the authors' code).
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
                 generator_input: str = 'foreground',
                 gan_loss: Optional[dict] = None,
                 cycle_loss: Optional[dict] = None,
                 id_loss: Optional[dict] = None,
                 buffer_size: int = 50,
                 switch_epoch: Optional[int] = None,
                 switch_iter: Optional[int] = None,
                 freeze_attention: bool = True,
                 disc_norm_in_phase2: bool = False,
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
        if nonfinite not in ('stop', 'skip'):
            raise ConfigError("UAGIT: model.nonfinite must be 'stop' or "
                              f"'skip', got {nonfinite!r}")
        if generator_input not in ('foreground', 'full'):
            raise ConfigError("UAGIT: model.generator_input must be "
                              f"'foreground' or 'full', got "
                              f'{generator_input!r}')
        if switch_epoch is not None and switch_iter is not None:
            raise ConfigError('UAGIT: set at most one of model.switch_epoch '
                              'and model.switch_iter')
        for key, val in (('switch_epoch', switch_epoch), ('switch_iter',
                                                          switch_iter)):
            if val is not None and int(val) < 0:
                raise ConfigError(
                    f'UAGIT: model.{key} must be >= 0, got {val}')
        super().__init__(generator, discriminator, default_domain,
                         reachable_domains, related_domains,
                         data_preprocessor)
        self.attentions = nn.ModuleDict(
            {d: MODELS.build(attention)
             for d in self._reachable_domains})
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
        self.switch_epoch = switch_epoch
        self.switch_iter = switch_iter
        self.freeze_attention = freeze_attention
        self.disc_norm_in_phase2 = disc_norm_in_phase2
        self.size_divisor = size_divisor
        self.nonfinite = nonfinite
        self._last_phase: Optional[int] = None

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

    def translate(self, image: Tensor,
                  target_domain: str) -> Tuple[Tensor, Tensor]:
        """Translate images of the other domain into ``target_domain``.

        Args:
            image (Tensor): Source images in [-1, 1], (N, C, H, W).
            target_domain (str): Domain to translate into.

        Returns:
            tuple[Tensor, Tensor]: The composite (N, C, H, W) and the
            source attention (N, 1, H, W) in [0, 1].
        """
        source = self.other_domain(target_domain)
        h, w = image.shape[-2:]
        # tiny images are padded up to a size every network can take
        padded = self._pad(image, min_size=4 * self.size_divisor)
        out, attention = self._attend_and_translate(padded, source,
                                                    target_domain)
        return out[..., :h, :w], attention[..., :h, :w]

    def _attend_and_translate(self, image: Tensor, source: str, target: str,
                              train_attention: bool = True
                              ) -> Tuple[Tensor, Tensor]:
        """``A_source(image)``, then the composite with ``G_target``'s
        output (paper, eq. 1); the one step both translation and the
        training cycle use.

        Returns:
            tuple[Tensor, Tensor]: The composite and the attention.
        """
        with torch.set_grad_enabled(train_attention
                                    and torch.is_grad_enabled()):
            attention = self.get_module(self.attentions)[source](image)
        gen_in = attention * image \
            if self.generator_input == 'foreground' else image
        return compose(image, attention, self._generate(target,
                                                        gen_in)), attention

    def translation(self, image: Tensor, target_domain=None, **kwargs):
        """mmagic's translation entry point: returns the composite only."""
        return self.translate(image, target_domain or self._default_domain)[0]

    def forward_test(self, img, target_domain, **kwargs):
        """Translate for testing; adds the attention map to the results."""
        target, attention = self.translate(img, target_domain)
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

    def init_weights(self) -> None:
        """Initialise generators, discriminators and attention networks."""
        super().init_weights()
        for net in self.get_module(self.attentions).values():
            net.init_weights()
