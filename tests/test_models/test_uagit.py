from copy import deepcopy
from unittest import TestCase, mock

import torch
from mmengine import MessageHub
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401
from mmagic.engine.optimizers import MultiOptimWrapperConstructor
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from uagit_mm.errors import ConfigError
from uagit_mm.models import compose
from uagit_mm.models.phase_schedule import PhaseSchedule, sharpness_penalty

TINY = dict(
    type='UAGIT',
    domains=['a', 'b'],
    data_preprocessor=dict(type='DataPreprocessor'),
    generator=dict(type='ResnetGenerator', in_channels=3, out_channels=3,
                   base_channels=8, num_blocks=1,
                   init_cfg=dict(type='normal', gain=0.02)),
    discriminator=dict(type='AttentionMaskedDiscriminator', in_channels=3,
                       base_channels=8, num_conv=2),
    threshold=0.1,
    attention=dict(type='AttentionNet', base_channels=4),
    switch_iter=2)

OPTIM = dict(
    generators=dict(type='OptimWrapper', modules=['generators', 'attentions'],
                    optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.999))),
    discriminators=dict(type='OptimWrapper', modules='discriminators',
                        optimizer=dict(type='Adam', lr=1e-3,
                                       betas=(0.5, 0.999))))

LOG_KEYS = {
    'loss_gan_d_a', 'loss_gan_d_b', 'loss_gan_g_a', 'loss_gan_g_b',
    'loss_cycle_a', 'loss_cycle_b', 'mask_mean_a', 'mask_mean_b',
    'mask_above_tau_a', 'mask_above_tau_b', 'mask_inside_a', 'mask_inside_b',
    'mask_grey_a', 'mask_grey_b', 'phase'
}

init_default_scope('mmagic')


def build(**kwargs):
    cfg = deepcopy(TINY)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(n=1, size=32):
    g = torch.Generator().manual_seed(0)
    return dict(
        inputs=dict(
            img_a=torch.randint(0, 256, (n, 3, size, size), generator=g
                                ).float(),
            img_b=torch.randint(0, 256, (n, 3, size, size), generator=g
                                ).float()),
        data_samples=[DataSample() for _ in range(n)])


def set_iter(it, epoch=0):
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', it)
    hub.update_info('epoch', epoch)


class ConstAttention(torch.nn.Module):

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full_like(x[:, :1], self.value)


class HalfAttention(torch.nn.Module):

    def forward(self, x):
        out = torch.full_like(x[:, :1], 0.9)
        out[..., :x.shape[-1] // 2] = 0.05
        return out


def gen_losses_before_and_after_switch(model, switch=3):
    """``(iteration, outputs, losses)`` of the generator loss at iteration
    0 (attention training) and at the switch (attention frozen), with both
    attention networks replaced by :class:`HalfAttention`."""
    for d in ('a', 'b'):
        model.attentions[d] = HalfAttention()  # mean 0.475
    inputs = model.data_preprocessor(batch(), True)['inputs']
    for it in (0, switch):
        set_iter(it)
        state = model.schedule.state()
        out = model.forward_cycle(inputs, state.train_attention)
        yield it, out, model._get_gen_loss(out, state)[1]


class TestComposition(TestCase):

    def test_mask_zero_copies_input_exactly(self):
        model = build()
        model.attentions['a'] = ConstAttention(0.0)
        x = torch.rand(2, 3, 32, 32) * 2 - 1
        out, attn = model.translate(x, 'b')
        self.assertTrue(torch.equal(out, x))
        self.assertTrue(torch.equal(attn, torch.zeros(2, 1, 32, 32)))

    def test_mask_one_gives_generator_output(self):
        model = build()
        model.attentions['a'] = ConstAttention(1.0)
        x = torch.rand(1, 3, 32, 32) * 2 - 1
        out, _ = model.translate(x, 'b')
        self.assertTrue(torch.equal(out, model.generators['b'](x)))

    def test_partial_mask_mixes_per_pixel(self):
        model = build()
        x = torch.rand(1, 3, 32, 32) * 2 - 1
        out, attn = model.translate(x, 'b')
        self.assertGreaterEqual(attn.min().item(), 0.0)
        self.assertLessEqual(attn.max().item(), 1.0)
        gen = model.generators['b'](attn * x)
        self.assertTrue(torch.allclose(out, attn * gen + (1 - attn) * x))

    def test_generator_input_switch(self):
        seen = []
        for mode in ('foreground', 'full'):
            model = build(generator_input=mode)
            handle = model.generators['b'].register_forward_pre_hook(
                lambda m, inp: seen.append(inp[0].clone()))
            x = torch.rand(1, 3, 32, 32) * 2 - 1
            _, attn = model.translate(x, 'b')
            handle.remove()
            expected = attn * x if mode == 'foreground' else x
            self.assertTrue(torch.allclose(seen[-1], expected), mode)
        with self.assertRaisesRegex(ValueError, 'generator_input'):
            build(generator_input='masked')

    def test_odd_sizes_keep_shape(self):
        model = build()
        for h, w in [(33, 47), (5, 7), (30, 30), (1, 1), (2, 9)]:
            out, attn = model.translate(torch.rand(2, 3, h, w), 'a')
            self.assertEqual(out.shape, (2, 3, h, w))
            self.assertEqual(attn.shape, (2, 1, h, w))

    def test_config_errors(self):
        with self.assertRaisesRegex(ValueError, 'switch'):
            build(switch_epoch=3, switch_iter=2)
        with self.assertRaisesRegex(ValueError, 'domains'):
            build(domains=['a'])
        with self.assertRaisesRegex(ValueError, 'switch_iter'):
            build(switch_iter=-1)
        with self.assertRaisesRegex(ConfigError, r'model\.threshold.*1\.5'):
            build(threshold=1.5)


class TestSchedule(TestCase):

    def setUp(self):
        torch.manual_seed(0)
        self.model = build()
        self.optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(self.model)

    def _step(self, it):
        set_iter(it)
        return self.model.train_step(batch(), self.optim)

    def _capture_disc_inputs(self, domain):
        seen = []
        disc = self.model.discriminators[domain]
        handle = disc.model.register_forward_pre_hook(
            lambda m, inp: seen.append(inp[0].detach().clone()))
        return seen, handle

    def _grad_calls(self, module):
        calls = []
        handles = [
            p.register_hook(lambda g: calls.append(g.abs().sum().item()))
            for p in module.parameters()
        ]
        return calls, handles

    def test_phase1_attention_trains_and_disc_sees_whole_images(self):
        calls, handles = self._grad_calls(self.model.attentions)
        before = [p.clone() for p in self.model.attentions.parameters()]
        seen, handle = self._capture_disc_inputs('b')
        log = self._step(0)
        handle.remove()
        for h in handles:
            h.remove()
        self.assertEqual(set(log), LOG_KEYS)
        self.assertEqual(log['phase'].item(), 1.0)
        self.assertGreater(len(calls), 0)
        self.assertGreater(sum(calls), 0)
        self.assertTrue(any(not torch.equal(b, p) for b, p in zip(
            before, self.model.attentions.parameters())))
        real_b = self.model.data_preprocessor(batch(), True)['inputs']['img_b']
        # one of the discriminator's inputs is the whole real image
        self.assertTrue(any(torch.equal(s, real_b) for s in seen))
        self.assertTrue(self.model.discriminators['b'].norm_enabled)

    def test_phase2_frozen_attention_and_masked_disc(self):
        self._step(0)
        self._step(1)
        calls, handles = self._grad_calls(self.model.attentions)
        att_before = [p.clone() for p in self.model.attentions.parameters()]
        gen_before = [p.clone() for p in self.model.generators.parameters()]
        seen, handle = self._capture_disc_inputs('b')
        log = self._step(2)
        handle.remove()
        for h in handles:
            h.remove()
        self.assertEqual(set(log), LOG_KEYS)
        self.assertEqual(log['phase'].item(), 2.0)
        self.assertEqual(calls, [])
        for b, p in zip(att_before, self.model.attentions.parameters()):
            self.assertTrue(torch.equal(b, p))
            self.assertIsNone(p.grad)
        self.assertTrue(any(not torch.equal(b, p) for b, p in zip(
            gen_before, self.model.generators.parameters())))
        self.assertFalse(self.model.discriminators['b'].norm_enabled)

    def test_phase2_disc_sees_thresholded_attended_regions(self):
        self._step(0)
        # attention 0.05 (< tau) on the left half, 0.9 on the right half
        for d in ('a', 'b'):
            self.model.attentions[d] = HalfAttention()
        seen, handle = self._capture_disc_inputs('b')
        self._step(2)
        handle.remove()
        real_b = self.model.data_preprocessor(batch(), True)['inputs']['img_b']
        masked = real_b.clone()
        masked[..., :16] = 0
        self.assertTrue(any(torch.equal(s, masked) for s in seen))
        self.assertFalse(any(torch.equal(s, real_b) for s in seen))
        # every input D saw in phase 2 is blank where attention <= tau
        for s in seen:
            self.assertEqual(s[..., :16].abs().max().item(), 0.0)

    def test_switch_by_epoch_and_holistic_ablation(self):
        model = build(switch_iter=None, switch_epoch=3)
        set_iter(100, epoch=2)
        self.assertEqual(model.current_phase(), 1)
        set_iter(101, epoch=3)
        self.assertEqual(model.current_phase(), 2)
        holistic = build(switch_iter=None)
        set_iter(10**6, epoch=10**3)
        self.assertEqual(holistic.current_phase(), 1)
        optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(holistic)
        before = [p.clone() for p in holistic.attentions.parameters()]
        holistic.train_step(batch(), optim)
        self.assertTrue(any(not torch.equal(b, p) for b, p in zip(
            before, holistic.attentions.parameters())))

    def test_batch_of_two_and_identity_loss(self):
        model = build(id_loss=dict(type='L1Loss', loss_weight=0.5))
        optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(model)
        for it in range(3):
            set_iter(it)
            log = model.train_step(batch(n=2), optim)
        self.assertEqual(set(log), LOG_KEYS | {'loss_id_a', 'loss_id_b'})
        self.assertTrue(all(torch.isfinite(v) for v in log.values()))


class TestBinaryMask(TestCase):
    """model.binary_mask_from: random binary masks in the training
    composite (not in the paper; off by default)."""

    def _inputs(self, model):
        return model.data_preprocessor(batch(), True)['inputs']

    def test_training_composite_uses_a_randomly_thresholded_mask(self):
        model = build(binary_mask_from=0)
        for d in ('a', 'b'):
            model.attentions[d] = HalfAttention()  # 0.05 left, 0.9 right
        inputs = self._inputs(model)
        real = inputs['img_a']
        for seed in range(6):
            torch.manual_seed(seed)
            out = model.forward_cycle(inputs, True, binary_mask=True)
            torch.manual_seed(seed)
            u = torch.rand(1, 1, 1, 1)  # the first draw: real_a's threshold
            mask = (out['attn_a'] > u).float()
            gen = model.generators['b'](mask * real)
            self.assertTrue(torch.allclose(out['fake_b'],
                                           compose(real, mask, gen)))
            # every pixel is either the generator's or the input's: no blend
            is_gen = torch.isclose(out['fake_b'], gen)
            is_src = torch.isclose(out['fake_b'], real)
            self.assertTrue(bool((is_gen | is_src).all()))
            # attn_<d> stays the continuous map (logs, pool, phase 2)
            self.assertTrue(torch.equal(out['attn_a'],
                                        HalfAttention()(real)))
        # off: the paper's soft composite
        out = model.forward_cycle(inputs, True, binary_mask=False)
        attn = out['attn_a']
        self.assertTrue(torch.allclose(
            out['fake_b'],
            compose(real, attn, model.generators['b'](attn * real))))

    def test_train_step_follows_the_schedule_and_changes_the_loss(self):
        logs = {}
        for knob in (None, 0):
            torch.manual_seed(0)
            model = build(binary_mask_from=knob, switch_iter=2)
            optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(model)
            calls, handles = [], [
                p.register_hook(lambda g: calls.append(g.abs().sum().item()))
                for p in model.attentions.parameters()
            ]
            seen = []
            original = model.forward_cycle
            with mock.patch.object(
                    model, 'forward_cycle',
                    side_effect=lambda *a: seen.append(a[2]) or original(*a)):
                for it in range(3):
                    set_iter(it)
                    torch.manual_seed(10 + it)
                    log = model.train_step(batch(), optim)
                    logs.setdefault(knob, []).append(log)
            for h in handles:
                h.remove()
            # on until the switch freezes the attention, never when off
            self.assertEqual(seen, [knob is not None] * 2 + [False])
            # the straight-through gradient reaches the attention networks
            self.assertGreater(sum(calls), 0)
        on, off = logs[0][0], logs[None][0]
        self.assertEqual(set(on), set(off))
        self.assertNotEqual(on['loss_cycle_a'].item(),
                            off['loss_cycle_a'].item())

    def test_test_time_keeps_the_continuous_mask(self):
        model = build(binary_mask_from=0)
        set_iter(0)
        x = torch.rand(2, 3, 32, 32) * 2 - 1
        out, attn = model.translate(x, 'b')
        gen = model.generators['b'](attn * x)
        self.assertTrue(torch.allclose(out, attn * gen + (1 - attn) * x))

    def test_bad_value(self):
        with self.assertRaisesRegex(ConfigError, r'model\.binary_mask_from'):
            build(binary_mask_from=-5)


class TestSharpness(TestCase):
    """model.sharpness: a ramped penalty 4 a (1 - a) on the attention (not
    in the paper; off by default)."""

    def test_penalty_values_and_gradient_direction(self):
        a = torch.tensor([0.0, 0.3, 0.5, 0.7, 1.0], requires_grad=True)
        self.assertAlmostEqual(
            sharpness_penalty(torch.tensor([0.0, 1.0])).item(), 0.0)
        self.assertAlmostEqual(
            sharpness_penalty(torch.tensor([0.5])).item(), 1.0)
        sharpness_penalty(a).backward()
        # descent raises values above 0.5, lowers those below, leaves 0.5
        self.assertGreater(a.grad[1].item(), 0)
        self.assertEqual(a.grad[2].item(), 0)
        self.assertLess(a.grad[3].item(), 0)

    def test_ramp_and_freeze(self):
        sched = PhaseSchedule(switch_iter=30,
                              sharpness=dict(weight=2.0, begin=10, end=20))
        hub = MessageHub.get_current_instance()
        weights = []
        for it in (0, 9, 10, 15, 20, 25, 30):
            hub.update_info('iter', it)
            weights.append(sched.state(hub).sharpness_weight)
        # 0 before begin, linear to the weight at end, 0 once frozen
        self.assertEqual(weights, [0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 0.0])

    def test_generator_loss_gains_the_weighted_penalty(self):
        torch.manual_seed(0)
        model = build(sharpness=dict(weight=3.0, begin=0), switch_iter=5)
        for d in ('a', 'b'):
            model.attentions[d] = HalfAttention()  # 0.05 left, 0.9 right
        set_iter(1)
        state = model.schedule.state()
        inputs = model.data_preprocessor(batch(), True)['inputs']
        out = model.forward_cycle(inputs, True)
        total, losses = model._get_gen_loss(out, state)
        for d in ('a', 'b'):
            attn = out[f'attn_{d}']
            self.assertAlmostEqual(
                losses[f'loss_sharp_{d}'].item(),
                3.0 * (4 * attn * (1 - attn)).mean().item(), places=5)
        off = build(switch_iter=5)
        off.load_state_dict(model.state_dict(), strict=False)
        _, plain = off._get_gen_loss(out, off.schedule.state())
        self.assertNotIn('loss_sharp_a', plain)
        self.assertAlmostEqual(
            total.item(),
            sum(v.item() for v in plain.values()) +
            losses['loss_sharp_a'].item() + losses['loss_sharp_b'].item(),
            places=4)

    def test_bad_values(self):
        for bad in (dict(begin=3), dict(weight=-1.0),
                    dict(weight=1.0, begin=5, end=2), 0.5):
            with self.assertRaisesRegex(ConfigError, r'model\.sharpness'):
                build(sharpness=bad)


class TestPredict(TestCase):

    def test_outputs_translations_and_masks(self):
        model = build()
        for mode in ('eval', 'train'):
            getattr(model, mode)()
            samples = model.test_step(batch(n=2, size=36))
            self.assertEqual(model.training, mode == 'train')
            self.assertEqual(len(samples), 2)
            for s in samples:
                self.assertEqual(s.fake_a.shape, (3, 36, 36))
                self.assertEqual(s.fake_b.shape, (3, 36, 36))
                self.assertEqual(s.attention_a.shape, (1, 36, 36))
                self.assertGreaterEqual(s.attention_b.min().item(), 0.0)
                self.assertLessEqual(s.attention_b.max().item(), 1.0)
                # destructed back to pixel range
                self.assertGreaterEqual(s.fake_b.min().item(), -1e-3)
                self.assertGreater(s.fake_b.max().item(), 1.5)
        val = model.val_step(batch(n=2, size=36))
        self.assertTrue(torch.equal(val[0].fake_b, samples[0].fake_b))

    def test_translation_api_returns_composite(self):
        model = build()
        x = torch.rand(1, 3, 32, 32) * 2 - 1
        out = model.translation(x, target_domain='a')
        self.assertTrue(torch.equal(out, model.translate(x, 'a')[0]))
        res = model.forward_test(x, target_domain='b')
        self.assertEqual(set(res), {'source', 'target', 'attention'})


class TestNonFinite(TestCase):

    def _poisoned(self, mode):
        model = build(nonfinite=mode)
        optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(model)
        # a NaN weight in one generator makes its losses NaN
        with torch.no_grad():
            model.generators['b'].model[0].conv.weight[0, 0, 0, 0] = \
                float('nan')
        return model, optim

    def test_stop_names_loss_and_iteration_before_updating(self):
        model, optim = self._poisoned('stop')
        disc_before = [p.clone() for p in model.discriminators.parameters()]
        set_iter(41)
        with self.assertRaisesRegex(FloatingPointError,
                                    r'iteration 42: loss_gan_d_b'):
            model.train_step(batch(), optim)
        for b, p in zip(disc_before, model.discriminators.parameters()):
            self.assertTrue(torch.equal(b, p))

    def test_skip_leaves_weights_alone(self):
        model, optim = self._poisoned('skip')
        att_before = [p.clone() for p in model.attentions.parameters()]
        set_iter(0)
        log = model.train_step(batch(), optim)
        self.assertFalse(torch.isfinite(log['loss_gan_d_b']))
        for b, p in zip(att_before, model.attentions.parameters()):
            self.assertTrue(torch.equal(b, p))
        with self.assertRaisesRegex(ValueError, 'nonfinite'):
            build(nonfinite='ignore')


class TestGradientAccumulation(TestCase):
    """``accumulative_counts`` of the optimizer wrappers is honoured: the
    weights change every second step only."""

    def test_two_step_accumulation(self):
        torch.manual_seed(0)
        model = build()
        optim_cfg = deepcopy(OPTIM)
        for wrapper in optim_cfg.values():
            wrapper['accumulative_counts'] = 2
        optim = MultiOptimWrapperConstructor(optim_cfg)(model)

        def snapshot():
            return [p.detach().clone() for p in model.parameters()]

        def changed(before):
            return any(not torch.equal(b, p)
                       for b, p in zip(before, model.parameters()))

        for it in range(4):
            before = snapshot()
            set_iter(it)
            model.train_step(batch(), optim)
            self.assertEqual(changed(before), it % 2 == 1, f'step {it}')


class TestWarmup(TestCase):
    """model.warmup: a constant mask and untrained attention networks for
    the first iterations (not in the paper; off by default)."""

    def test_constant_mask_then_the_attention(self):
        torch.manual_seed(0)
        model = build(warmup=dict(iters=2), switch_iter=4)
        optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(model)
        before = [p.clone() for p in model.attentions.parameters()]
        calls = []
        handle = model.attentions['a'].register_forward_hook(
            lambda *args: calls.append(1))
        for it in (0, 1):
            set_iter(it)
            log = model.train_step(batch(), optim)
            self.assertEqual(log['mask_mean_a'].item(), 1.0)
            self.assertEqual(log['warmup'].item(), 1.0)
        self.assertEqual(calls, [])  # the attention networks did not run
        for p, q in zip(before, model.attentions.parameters()):
            self.assertTrue(torch.equal(p, q))
        set_iter(2)
        log = model.train_step(batch(), optim)
        handle.remove()
        self.assertEqual(log['warmup'].item(), 0.0)
        self.assertGreater(len(calls), 0)
        self.assertLess(log['mask_mean_a'].item(), 0.99)
        self.assertTrue(any(not torch.equal(p, q) for p, q in zip(
            before, model.attentions.parameters())))

    def test_warmup_composite_with_mask_one_is_the_generator_output(self):
        model = build(warmup=dict(iters=5, mask=1.0), switch_iter=6)
        set_iter(0)
        state = model.schedule.state()
        inputs = model.data_preprocessor(batch(), True)['inputs']
        out = model.forward_cycle(inputs, state.train_attention,
                                  state.binary_mask, state.fixed_mask)
        with torch.no_grad():
            self.assertTrue(torch.allclose(
                out['fake_b'], model.generators['b'](inputs['img_a'])))

    def test_the_log_says_when_the_attention_starts_training(self):
        model = build(warmup=dict(iters=2), switch_iter=4)
        with mock.patch('uagit_mm.models.phase_schedule.print_log') as log:
            for it in range(4):
                set_iter(it)
                model.schedule.state()
        msgs = [c.args[0] for c in log.call_args_list]
        self.assertEqual(len(msgs), 3, msgs)
        self.assertIn('until the warm-up ends at iteration 2', msgs[1])
        self.assertIn('warm-up over at iteration 2', msgs[2])
        self.assertIn('attention networks training', msgs[2])

    def test_off_by_default_and_bad_values(self):
        self.assertNotIn('warmup', LOG_KEYS)
        model = build()
        self.assertIsNone(model.schedule.warmup)
        self.assertIsNone(build(warmup=dict(iters=0)).schedule.warmup)
        for bad in (dict(iters=-1), dict(iters=3, mask=0.0),
                    dict(iters=3, mask=1.5), dict(mask=1.0), 3):
            with self.assertRaisesRegex(ConfigError, r'model\.warmup'):
                build(warmup=bad)


class TestAreaFloor(TestCase):
    """model.area_floor: no image's mean attention below a floor while the
    attention trains (not in the paper; off by default)."""

    def test_penalty_values_and_gradient(self):
        from uagit_mm.models.phase_schedule import area_floor_penalty
        a = torch.zeros(2, 1, 4, 4)
        a[0] = 0.05  # mean 0.05: below the floor
        a[1] = 0.5   # above it: free
        a.requires_grad_(True)
        pen = area_floor_penalty(a, 0.2)
        self.assertAlmostEqual(pen.item(), (0.15**2 + 0) / 2, places=6)
        pen.backward()
        self.assertTrue((a.grad[0] < 0).all())  # descent opens image 0
        self.assertTrue((a.grad[1] == 0).all())

    def test_generator_loss_gains_it_while_the_attention_trains(self):
        torch.manual_seed(0)
        model = build(area_floor=dict(weight=4.0, floor=0.6), switch_iter=3)
        for it, out, losses in gen_losses_before_and_after_switch(model):
            want = it == 0
            self.assertEqual('loss_area_a' in losses, want)
            if want:
                mean = out['attn_a'].mean().item()
                self.assertAlmostEqual(losses['loss_area_a'].item(),
                                       4.0 * (0.6 - mean)**2, places=5)

    def test_bad_values(self):
        for bad in (dict(weight=1.0), dict(weight=-1.0, floor=0.2),
                    dict(weight=1.0, floor=1.0), 0.2):
            with self.assertRaisesRegex(ConfigError, r'model\.area_floor'):
                build(area_floor=bad)


class TestSettingsThatCannotTakeEffect(TestCase):

    def test_starts_at_or_after_the_switch_are_refused(self):
        for key, value in (('sharpness', dict(weight=1.0, begin=5)),
                           ('binary_mask_from', 5),
                           ('warmup', dict(iters=6))):
            with self.assertRaisesRegex(ConfigError, 'never take effect'):
                build(switch_iter=5, **{key: value})
        # fine before the switch, or when the attention is never frozen
        build(switch_iter=5, sharpness=dict(weight=1.0, begin=4))
        build(switch_iter=5, freeze_attention=False, binary_mask_from=7)


class TestDomainContrast(TestCase):
    """model.domain_contrast: the attention of a domain on the other
    domain's real images is penalised while the attention trains (not in
    the paper; off by default)."""

    def test_loss_is_the_weighted_attention_on_the_other_domain(self):
        torch.manual_seed(0)
        model = build(domain_contrast=2.0, switch_iter=3)
        optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(model)
        seen = []
        handle = model.attentions['a'].register_forward_hook(
            lambda m, inp, out: seen.append((inp[0].detach().clone(),
                                             out.detach().clone())))
        data = batch()
        set_iter(0)
        log = model.train_step(data, optim)
        handle.remove()
        real_b = model.data_preprocessor(data, True)['inputs']['img_b']
        on_b = [out for inp, out in seen if torch.equal(inp, real_b)]
        self.assertEqual(len(on_b), 1)  # A_a ran once on the real b image
        self.assertAlmostEqual(log['loss_contrast_a'].item(),
                               2.0 * on_b[0].mean().item(), places=5)
        self.assertIn('loss_contrast_b', log)
        # its gradient lowers A_a's output on b images
        model.zero_grad()
        loss = model.attentions['a'](real_b).mean()
        loss.backward()
        self.assertTrue(any(p.grad is not None and p.grad.abs().sum() > 0
                            for p in model.attentions['a'].parameters()))
        # not once the attention is frozen, nor by default
        set_iter(3)
        self.assertNotIn('loss_contrast_a', model.train_step(data, optim))
        self.assertEqual(build().schedule.domain_contrast, 0.0)
        with self.assertRaisesRegex(ConfigError, r'model\.domain_contrast'):
            build(domain_contrast=-1.0)


class TestAreaCost(TestCase):
    """model.area_cost: a price per attended pixel, the weighted mean of
    each attention map, while the attention trains (not in the paper; off
    by default)."""

    def test_loss_is_the_weighted_mean_attention(self):
        torch.manual_seed(0)
        model = build(area_cost=0.5, switch_iter=3)
        for it, out, losses in gen_losses_before_and_after_switch(model):
            want = it == 0
            for d in ('a', 'b'):
                self.assertEqual(f'loss_area_cost_{d}' in losses, want)
            if want:
                self.assertAlmostEqual(losses['loss_area_cost_a'].item(),
                                       0.5 * out['attn_a'].mean().item(),
                                       places=6)

    def test_its_gradient_closes_the_mask(self):
        torch.manual_seed(0)
        model = build(area_cost=1.0, switch_iter=3)
        inputs = model.data_preprocessor(batch(), True)['inputs']
        set_iter(0)
        state = model.schedule.state()
        out = model.forward_cycle(inputs, state.train_attention)
        _, losses = model._get_gen_loss(out, state)
        model.zero_grad()
        losses['loss_area_cost_a'].backward()
        grads = [p.grad for p in model.attentions['a'].parameters()
                 if p.grad is not None and p.grad.abs().sum() > 0]
        self.assertTrue(grads)
        # a small step along the gradient lowers the mean attention
        before = model.attentions['a'](inputs['img_a']).mean().item()
        with torch.no_grad():
            for p in model.attentions['a'].parameters():
                if p.grad is not None:
                    p -= 0.1 * p.grad
        after = model.attentions['a'](inputs['img_a']).mean().item()
        self.assertLess(after, before)

    def test_default_and_bad_values(self):
        self.assertEqual(build().schedule.area_cost, 0.0)
        set_iter(0)
        self.assertEqual(build().schedule.state().area_cost, 0.0)
        for bad in (-0.1, 'x', None):
            with self.assertRaisesRegex(ConfigError, r'model\.area_cost'):
                build(area_cost=bad)


class TestCycleTrainsAttention(TestCase):
    """model.cycle_trains_attention=False: the cycle loss gives the
    attention networks no gradient, the adversarial loss still does, and
    the generators learn from both (not in the paper; on by default)."""

    @staticmethod
    def grads(model, loss_key, binary_mask=False):
        set_iter(0)
        data = model.data_preprocessor(batch(), True)
        torch.manual_seed(1)  # the binary masks' thresholds
        out = model.forward_cycle(data['inputs'], train_attention=True,
                                  binary_mask=binary_mask)
        state = model.schedule.state(MessageHub.get_current_instance())
        _, losses = model._get_gen_loss(out, state)
        model.zero_grad()
        sum(v for k, v in losses.items() if k.startswith(loss_key)
            ).backward()

        def total(module):
            return sum(p.grad.abs().sum().item() for p in
                       module.parameters() if p.grad is not None)
        return total(model.attentions), total(model.generators)

    def test_cycle_gradient_stops_at_the_attention(self):
        # also with model.binary_mask_from's sampled binary composites: the
        # cycle starts from the same composite, its mask detached
        for generator_input, binary in (('foreground', False),
                                        ('full', False),
                                        ('foreground', True)):
            with self.subTest(generator_input=generator_input,
                              binary=binary):
                torch.manual_seed(0)
                paper = build(generator_input=generator_input)
                torch.manual_seed(0)
                model = build(generator_input=generator_input,
                              cycle_trains_attention=False,
                              binary_mask_from=0 if binary else None)
                attn, gen = self.grads(paper, 'loss_cycle', binary)
                self.assertGreater(attn, 0)
                self.assertGreater(gen, 0)
                attn, gen = self.grads(model, 'loss_cycle', binary)
                self.assertEqual(attn, 0.0)
                self.assertGreater(gen, 0)
                attn, gen = self.grads(model, 'loss_gan_g', binary)
                self.assertGreater(attn, 0)
                # the translations themselves are the paper's
                set_iter(0)
                data = paper.data_preprocessor(batch(), True)
                with torch.no_grad():
                    torch.manual_seed(2)
                    a = paper.forward_cycle(data['inputs'], True, binary)
                    torch.manual_seed(2)
                    b = model.forward_cycle(data['inputs'], True, binary)
                for key in a:
                    torch.testing.assert_close(a[key], b[key])

    def test_default_and_bad_values(self):
        self.assertTrue(build().cycle_trains_attention)
        with self.assertRaisesRegex(ConfigError,
                                    r'model\.cycle_trains_attention'):
            build(cycle_trains_attention='no')


class TestHardCompositeGan(TestCase):
    """model.hard_composite_gan: after the warm-up, the generators also
    face the discriminator with a composite made with the hard mask
    ``[a > tau]`` of the detached attention (not in the paper; off by
    default)."""

    def test_the_hard_composite_is_the_generator_output_where_attended(self):
        torch.manual_seed(0)
        model = build(hard_composite_gan=2.0, switch_iter=3)
        for it, out, losses in gen_losses_before_and_after_switch(model):
            real, w = out['real_a'], out['real_a'].shape[-1]
            # HalfAttention: 0.05 (below tau) left, 0.9 right
            generated = model._generate('b', out['attn_a'] * real)
            hard = out['hard_fake_b']
            torch.testing.assert_close(hard[..., :w // 2],
                                       real[..., :w // 2])
            torch.testing.assert_close(hard[..., w // 2:],
                                       generated[..., w // 2:])
            # the soft composite is not the generator's output there
            self.assertFalse(torch.allclose(out['fake_b'][..., w // 2:],
                                            generated[..., w // 2:]))
            state = model.schedule.state()
            pred = model.discriminators['b'](
                hard, state.disc_mask(out['attn_a']))
            self.assertAlmostEqual(
                losses['loss_gan_hard_b'].item(),
                2.0 * model.gan_loss(pred, True, is_disc=False).item(),
                places=5, msg=f'iteration {it}')
            self.assertIn('loss_gan_hard_a', losses)

    def test_it_trains_the_generators_not_the_attention(self):
        for generator_input in ('foreground', 'full'):
            with self.subTest(generator_input=generator_input):
                torch.manual_seed(0)
                model = build(hard_composite_gan=1.0,
                              generator_input=generator_input)
                attn, gen = TestCycleTrainsAttention.grads(
                    model, 'loss_gan_hard')
                self.assertEqual(attn, 0.0)
                self.assertGreater(gen, 0)

    def test_off_by_default_and_during_the_warm_up(self):
        set_iter(0)
        data = batch()
        torch.manual_seed(0)
        plain = build()
        torch.manual_seed(0)
        model = build(hard_composite_gan=1.0, warmup=dict(iters=1))
        optim = MultiOptimWrapperConstructor(deepcopy(OPTIM))(model)
        self.assertNotIn('loss_gan_hard_b', model.train_step(data, optim))
        set_iter(1)
        self.assertIn('loss_gan_hard_b', model.train_step(data, optim))
        # on: the same translations, plus the extra composites
        torch.manual_seed(0)
        model = build(hard_composite_gan=1.0)
        inputs = plain.data_preprocessor(data, True)['inputs']
        with torch.no_grad():
            a = plain.forward_cycle(inputs, True)
            b = model.forward_cycle(inputs, True)
        self.assertEqual(set(b) - set(a), {'hard_fake_a', 'hard_fake_b'})
        for key in a:
            torch.testing.assert_close(a[key], b[key])
        self.assertEqual(plain.hard_composite_gan, 0.0)

    def test_bad_values(self):
        for bad in (-1.0, 'x', None, True):
            with self.assertRaisesRegex(ConfigError,
                                        r'model\.hard_composite_gan'):
                build(hard_composite_gan=bad)
