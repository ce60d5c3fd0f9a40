"""The two-phase schedule of Mejjati et al. (NeurIPS 2018), decided once per
training step.

Phase 1: the discriminators see whole images and the attention networks
train through the generator loss. Phase 2 (from ``switch_iter`` or
``switch_epoch`` on): the discriminators see only ``x * [a > tau]``, the
attention networks are frozen and (as in the authors' code) the
discriminators' norm layers are off. Like the authors' ``main.py``, one call
decides the whole phase: :meth:`PhaseSchedule.state`. It also decides the
two additions to the paper, both off by default: from ``binary_mask_from``
on, while the attention trains, the training composite uses a randomly
thresholded binary mask (:func:`sample_binary_mask`); and the weight of a
sharpness penalty on the attention (``sharpness``, see
:func:`sharpness_penalty`), ramped in while the attention trains.
"""
from dataclasses import dataclass
from typing import Optional

import torch
from mmengine import MessageHub, print_log

from uagit_mm.errors import ConfigError


def binarize_attention(attention: torch.Tensor,
                       threshold: float) -> torch.Tensor:
    """Binarise an attention map: 1 where ``attention > threshold``, else 0.

    Args:
        attention (Tensor): Attention in [0, 1], shape (N, 1, H, W).
        threshold (float): The threshold tau.

    Returns:
        Tensor: Binary mask with the dtype and shape of ``attention``; it
        carries no gradient.
    """
    return (attention.detach() > threshold).to(attention.dtype)


def sample_binary_mask(attention: torch.Tensor) -> torch.Tensor:
    """A binary mask ``[a > u]``, one ``u ~ U(0, 1)`` per image, with a
    straight-through gradient (forward the binary mask, backward as if it
    were ``attention``).

    Why (an addition to the paper, ``model.binary_mask_from``): with the
    soft composite ``a * G + (1 - a) * s`` the generator can make up for
    any ``a`` on the object by overshooting, so a mask that found the object
    but sits at 0.5 on it is as good as a binary one and nothing moves it
    (a penalty on ``a * (1 - a)`` is flat at exactly 0.5, though it does
    sharpen masks that sit above 0.5 on the object:
    :func:`sharpness_penalty`, the addition that worked). With a random
    threshold the object is either fully translated (with probability
    ``a``) or copied, never blended: the generator must
    produce the real target and, as ``E_u[a > u] = a``, the expected loss is
    linear in a region's ``a``, so the gradient pushes it to 0 or 1,
    whichever the losses prefer. One ``u`` per image keeps the sampled
    masks spatially coherent (no speckle for the discriminator to see).
    Measured (docs/results.md, "Sharp attention on both kinds of domain
    pair"): in a
    500-iteration pilot on the colour-only set it did not sharpen the masks
    but spread them and left the objects untranslated, so it stays off.

    Args:
        attention (Tensor): Attention in [0, 1], shape (N, 1, H, W).

    Returns:
        Tensor: Values in {0, 1}, shape and dtype of ``attention``; its
        gradient flows into ``attention`` unchanged.
    """
    u = torch.rand((attention.shape[0], 1, 1, 1), dtype=attention.dtype,
                   device=attention.device)
    hard = (attention.detach() > u).to(attention.dtype)
    return attention + (hard - attention).detach()


def sharpness_penalty(attention: torch.Tensor) -> torch.Tensor:
    """``mean(4 a (1 - a))``: 0 for a binary map, 1 for one at 0.5.

    Why (an addition to the paper, ``model.sharpness``): on a domain pair
    that differs in colour only, the attention finds the object but stays
    grey on it (0.6-0.7 at the phase switch in docs/results.md's table),
    because with the soft composite ``a * G + (1 - a) * s`` the generator
    makes up for ``a < 1`` by overshooting and no loss prefers ``a = 1``.
    The paper's premise is that the maps become binary; this term says so
    directly. Its
    gradient ``4 (1 - 2a)`` pushes values above 0.5 up and below 0.5 down,
    so it sharpens a map that already separates object from background and
    vanishes at 0.5 (it cannot decide where the object is; the ramp starts
    it once the attention has localised). Per pixel it is weak next to the
    image losses, which keep deciding where ``a`` is high.

    Args:
        attention (Tensor): Attention in [0, 1], shape (N, 1, H, W).

    Returns:
        Tensor: The scalar penalty (with gradient).
    """
    return (4.0 * attention * (1.0 - attention)).mean()


def area_floor_penalty(attention: torch.Tensor,
                       floor: float) -> torch.Tensor:
    """``mean_n relu(floor - mean_hw a_n) ** 2``: 0 while every image's mean
    attention is at least ``floor``.

    Why (an addition to the paper, ``model.area_floor``): on real
    horse2zebra photographs the attention closes to 0 everywhere within the
    first 1,000 iterations. With ``a = 0`` the composite is the input, so
    the cycle loss is exactly 0, and an untrained generator's output costs
    more cycle loss than it gains against the discriminator: "translate
    nothing" is a local optimum that the sigmoid's saturation then keeps.
    The floor only says a mask may not be (nearly) empty; where the
    attention goes stays for the image losses to decide. Per image, so one
    large mask cannot pay for an empty one.

    Args:
        attention (Tensor): Attention in [0, 1], shape (N, 1, H, W).
        floor (float): The smallest mean attention that costs nothing.

    Returns:
        Tensor: The scalar penalty (with gradient).
    """
    per_image = attention.flatten(1).mean(1)
    return torch.relu(floor - per_image).pow(2).mean()


@dataclass(frozen=True)
class PhaseState:
    """What one training step does.

    Attributes:
        phase (int): 1 (holistic discriminator) or 2 (attended regions).
        mask_threshold (float, optional): tau in phase 2, where the
            discriminators see ``x * [a > tau]``; None in phase 1 (whole
            images).
        train_attention (bool): Whether the attention networks train.
        disc_norm (bool): Whether the discriminators' norm layers are on.
        changed (bool): The phase differs from the previous step's, or this
            is the schedule's first step (also the first after a resume):
            the discriminators' norm must be set.
        binary_mask (bool): The training composite uses
            :func:`sample_binary_mask` instead of the soft attention.
        sharpness_weight (float): Weight of :func:`sharpness_penalty` in
            the generator loss this step (0: not added).
        fixed_mask (float, optional): During the warm-up, the constant
            attention every composite uses (the attention networks are not
            run); None afterwards.
        area_floor (dict, optional): ``dict(weight, floor)`` of
            :func:`area_floor_penalty` this step, or None.
        contrast_weight (float): Weight of the attention on the other
            domain's real images in the generator loss this step (0: not
            computed).
        area_cost (float): Weight of the mean attention (on the domain's
            own images) in the generator loss this step (0: not added).
    """
    phase: int
    mask_threshold: Optional[float]
    train_attention: bool
    disc_norm: bool
    changed: bool
    binary_mask: bool = False
    sharpness_weight: float = 0.0
    fixed_mask: Optional[float] = None
    area_floor: Optional[dict] = None
    contrast_weight: float = 0.0
    area_cost: float = 0.0

    def disc_mask(self,
                  attention: torch.Tensor) -> Optional[torch.Tensor]:
        """The binary mask a discriminator applies to its input, (N, 1, H,
        W), or None (whole image) in phase 1."""
        if self.mask_threshold is None:
            return None
        return binarize_attention(attention, self.mask_threshold)


class PhaseSchedule:
    """When phase 2 starts and what it changes.

    Args:
        switch_iter (int, optional): Iteration (0-based) from which phase 2
            runs. At most one of ``switch_iter``/``switch_epoch`` may be
            set; with neither the discriminators stay holistic (the
            paper's "Ours-D" ablation).
        switch_epoch (int, optional): The same in epochs; the paper's value
            is 30 of 100.
        threshold (float): tau, in [0, 1]. Defaults to 0.1 (the paper).
        freeze_attention (bool): Stop training the attention networks in
            phase 2. Defaults to True.
        disc_norm_in_phase2 (bool): Keep the discriminators' norm layers in
            phase 2. Defaults to False (the authors' code).
        binary_mask_from (int, optional): Iteration (0-based) from which,
            while the attention networks train, the training composite
            uses :func:`sample_binary_mask`. None (the paper) never.
        sharpness (dict, optional): ``dict(weight=w, begin=i0, end=i1)``:
            while the attention networks train, add ``weight *``
            :func:`sharpness_penalty` per attention map to the generator
            loss, ramped linearly from 0 at iteration ``begin`` to ``weight``
            at ``end`` (``end`` defaults to ``begin``: a step). None or
            weight 0 (the paper): never.
        warmup (dict, optional): ``dict(iters=n, mask=m)``: for the first
            ``n`` iterations every composite uses the constant attention
            ``m`` (default 1: the generators train as a CycleGAN on whole
            images) and the attention networks neither run nor train; they
            start training at iteration ``n``. None (the paper): no
            warm-up.
        area_floor (dict, optional): ``dict(weight=w, floor=f)``: while the
            attention networks train, add ``w *``
            :func:`area_floor_penalty` ``(a, f)`` per attention map to the
            generator loss. None (the paper): never.
        domain_contrast (float): While the attention networks train, add
            this weight times the mean attention of ``A_s`` on the *other*
            domain's real images to the generator loss: an attention
            network should mark what is particular to its own domain, and
            what both domains' photographs share (sky, grass) is then not
            it. 0 (the paper): never.
        area_cost (float): While the attention networks train, add this
            weight times the mean attention of each attention map (on its
            own domain's images) to the generator loss: a constant price
            per attended pixel, so a region is attended only where
            translating it gains more against the discriminator. Meant for
            ``cycle_trains_attention=False``, where nothing else pulls the
            mask shut. 0 (the paper): never.
    """

    def __init__(self,
                 switch_iter: Optional[int] = None,
                 switch_epoch: Optional[int] = None,
                 threshold: float = 0.1,
                 freeze_attention: bool = True,
                 disc_norm_in_phase2: bool = False,
                 binary_mask_from: Optional[int] = None,
                 sharpness: Optional[dict] = None,
                 warmup: Optional[dict] = None,
                 area_floor: Optional[dict] = None,
                 domain_contrast: float = 0.0,
                 area_cost: float = 0.0) -> None:
        if switch_epoch is not None and switch_iter is not None:
            raise ConfigError('UAGIT: set at most one of model.switch_epoch '
                              'and model.switch_iter')
        for key, val in (('switch_epoch', switch_epoch),
                         ('switch_iter', switch_iter),
                         ('binary_mask_from', binary_mask_from)):
            if val is not None and int(val) < 0:
                raise ConfigError(
                    f'UAGIT: model.{key} must be >= 0, got {val}')
        if not 0.0 <= float(threshold) <= 1.0:
            raise ConfigError(
                "UAGIT: model.threshold (the paper's tau) must lie in "
                f'[0, 1], got {threshold}')
        self.switch_iter = switch_iter
        self.switch_epoch = switch_epoch
        self.threshold = float(threshold)
        self.freeze_attention = freeze_attention
        self.disc_norm_in_phase2 = disc_norm_in_phase2
        self.binary_mask_from = binary_mask_from
        self.sharpness = self._check_sharpness(sharpness)
        self.warmup = self._check_warmup(warmup)
        self.area_floor = self._check_area_floor(area_floor)
        self.domain_contrast = self._check_weight('domain_contrast',
                                                  domain_contrast)
        self.area_cost = self._check_weight('area_cost', area_cost)
        self._check_order()
        self._last_phase: Optional[int] = None
        self._last_warming: Optional[bool] = None

    @staticmethod
    def _check_warmup(warmup: Optional[dict]) -> Optional[dict]:
        if warmup is None:
            return None
        if not isinstance(warmup, dict) or set(warmup) - {'iters', 'mask'} \
                or 'iters' not in warmup:
            raise ConfigError('UAGIT: model.warmup must be None or '
                              f'dict(iters=n, mask=m), got {warmup!r}')
        iters, mask = int(warmup['iters']), float(warmup.get('mask', 1.0))
        if iters < 0 or not 0.0 < mask <= 1.0:
            raise ConfigError('UAGIT: model.warmup needs iters >= 0 and 0 < '
                              f'mask <= 1, got {warmup!r}')
        return dict(iters=iters, mask=mask) if iters else None

    @staticmethod
    def _check_weight(key: str, value) -> float:
        if not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f'UAGIT: model.{key} must be a weight >= 0, '
                              f'got {value!r}')
        return float(value)

    @staticmethod
    def _check_area_floor(area_floor: Optional[dict]) -> Optional[dict]:
        if area_floor is None:
            return None
        if not isinstance(area_floor, dict) or \
                set(area_floor) != {'weight', 'floor'}:
            raise ConfigError('UAGIT: model.area_floor must be None or '
                              f'dict(weight=w, floor=f), got {area_floor!r}')
        weight, floor = float(area_floor['weight']), float(
            area_floor['floor'])
        if weight < 0 or not 0.0 <= floor < 1.0:
            raise ConfigError('UAGIT: model.area_floor needs weight >= 0 and '
                              f'0 <= floor < 1, got {area_floor!r}')
        return dict(weight=weight, floor=floor) if weight and floor else None

    def _check_order(self) -> None:
        """Refuse settings that could never take effect: anything that acts
        while the attention trains but starts only once it is frozen."""
        if self.switch_iter is None or not self.freeze_attention:
            return
        starts = []
        if self.sharpness is not None:
            starts.append(('model.sharpness.begin', self.sharpness['begin']))
        if self.binary_mask_from is not None:
            starts.append(('model.binary_mask_from', self.binary_mask_from))
        if self.warmup is not None:
            starts.append(('model.warmup.iters', self.warmup['iters']))
        for key, start in starts:
            if int(start) >= int(self.switch_iter):
                raise ConfigError(
                    f'UAGIT: {key} = {start} is not before the phase switch '
                    f'(model.switch_iter = {self.switch_iter}), where the '
                    'attention networks are frozen: it would never take '
                    'effect. Start it earlier or move the switch.')

    @staticmethod
    def _check_sharpness(sharpness: Optional[dict]) -> Optional[dict]:
        if sharpness is None:
            return None
        if not isinstance(sharpness, dict) or \
                set(sharpness) - {'weight', 'begin', 'end'} or \
                'weight' not in sharpness:
            raise ConfigError(
                'UAGIT: model.sharpness must be None or dict(weight=w, '
                f'begin=i0, end=i1), got {sharpness!r}')
        weight = float(sharpness['weight'])
        begin = int(sharpness.get('begin', 0))
        end = int(sharpness.get('end', begin))
        if weight < 0 or begin < 0 or end < begin:
            raise ConfigError(
                'UAGIT: model.sharpness needs weight >= 0 and 0 <= begin <= '
                f'end, got {sharpness!r}')
        return dict(weight=weight, begin=begin, end=end) if weight else None

    def sharpness_weight(self, curr_iter: int) -> float:
        """The weight of :func:`sharpness_penalty` at ``curr_iter`` (before
        the attention freeze is taken into account)."""
        if self.sharpness is None or curr_iter < self.sharpness['begin']:
            return 0.0
        begin, end = self.sharpness['begin'], self.sharpness['end']
        ramp = 1.0 if end == begin else min(
            1.0, (curr_iter - begin) / (end - begin))
        return self.sharpness['weight'] * ramp

    def phase(self, message_hub: Optional[MessageHub] = None) -> int:
        """1 or 2, from the iteration/epoch in ``message_hub`` (the current
        instance by default)."""
        hub = message_hub or MessageHub.get_current_instance()
        if self.switch_iter is not None:
            return 2 if hub.get_info('iter', 0) >= self.switch_iter else 1
        if self.switch_epoch is not None:
            return 2 if hub.get_info('epoch', 0) >= self.switch_epoch else 1
        return 1

    def state(self, message_hub: Optional[MessageHub] = None) -> PhaseState:
        """Decide the current step; call once per training step (it logs a
        line and sets ``changed`` when the phase changes)."""
        hub = message_hub or MessageHub.get_current_instance()
        phase = self.phase(hub)
        curr_iter = hub.get_info('iter', 0)
        warming = self.warmup is not None and \
            curr_iter < self.warmup['iters'] and phase == 1
        train_attention = not (phase == 2 and self.freeze_attention) \
            and not warming
        state = PhaseState(
            phase=phase,
            mask_threshold=self.threshold if phase == 2 else None,
            train_attention=train_attention,
            disc_norm=phase == 1 or self.disc_norm_in_phase2,
            changed=phase != self._last_phase,
            binary_mask=train_attention and self.binary_mask_from is not None
            and hub.get_info('iter', 0) >= self.binary_mask_from,
            sharpness_weight=self.sharpness_weight(curr_iter)
            if train_attention else 0.0,
            fixed_mask=self.warmup['mask'] if warming else None,
            area_floor=self.area_floor if train_attention else None,
            contrast_weight=self.domain_contrast if train_attention else 0.0,
            area_cost=self.area_cost if train_attention else 0.0)
        if warming != self._last_warming:
            if warming:
                print_log(
                    f"UAGIT warm-up: constant attention {self.warmup['mask']}"
                    f" until iteration {self.warmup['iters']}; attention "
                    'networks not trained', logger='current')
            elif self._last_warming:
                print_log(
                    f'UAGIT warm-up over at iteration {curr_iter}: attention '
                    f"networks {'training' if train_attention else 'frozen'}",
                    logger='current')
            self._last_warming = warming
        if state.changed:
            seen = 'whole images' if phase == 1 else \
                f'attended regions only (tau {self.threshold})'
            print_log(
                f'UAGIT phase {phase}: discriminators see {seen}, norm '
                f"{'on' if state.disc_norm else 'off'}; attention networks "
                f"{'training' if state.train_attention else 'frozen'}" +
                (f" until the warm-up ends at iteration {self.warmup['iters']}"
                 if warming else '') +
                (f'; random binary masks in the training composite from '
                 f'iteration {self.binary_mask_from}'
                 if state.train_attention and self.binary_mask_from
                 is not None else '') +
                (f'; sharpness penalty {self.sharpness}'
                 if state.train_attention and self.sharpness else ''),
                logger='current')
            self._last_phase = phase
        return state
