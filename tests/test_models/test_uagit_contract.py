"""UAGIT behaves like an mmagic translation model.

Modelled on the public behaviour mmagic's own tests check for
``BaseTranslationModel`` (build, ``get_module``, ``forward_test`` without a
target domain) and ``CycleGAN`` (forward in both modes, ``train_step`` log
keys, ``discriminator_steps`` / ``disc_init_steps``, buffer size 0,
``val_step`` / ``test_step`` with and without data samples), plus what
UAGIT adds: the phase schedule, the attention networks' optimizer, their
initialisation.
"""
import os.path as osp
from copy import deepcopy
from unittest import TestCase
from unittest.mock import MagicMock, patch

import test_uagit  # the tiny model beside this file
import torch
from mmengine import Config, MessageHub
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401
from mmagic.engine.optimizers import MultiOptimWrapperConstructor
from mmagic.models import BaseTranslationModel
from mmagic.models.editors.cyclegan import ResnetGenerator
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from uagit_mm.errors import ConfigError
from uagit_mm.models import (AttentionMaskedDiscriminator, AttentionNet,
                             PhaseSchedule)

init_default_scope('mmagic')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# the tiny model of test_uagit.py (8 channels, 1 block), attention at 8
TINY = dict(test_uagit.TINY,
            attention=dict(type='AttentionNet', base_channels=8,
                           num_blocks=1))

OURS = test_uagit.OPTIM  # the project's optimizer layout
ADAM = OURS['generators']['optimizer']

D_KEYS = {'loss_gan_d_a', 'loss_gan_d_b'}
G_KEYS = {'loss_gan_g_a', 'loss_gan_g_b', 'loss_cycle_a', 'loss_cycle_b'}
MASK_KEYS = {'mask_mean_a', 'mask_mean_b', 'mask_above_tau_a',
             'mask_above_tau_b', 'mask_inside_a', 'mask_inside_b',
             'mask_grey_a', 'mask_grey_b', 'phase'}


def build(**kwargs):
    return test_uagit.build(**dict(dict(attention=TINY['attention']),
                                   **kwargs))


def optimizers(model, cfg=None):
    return MultiOptimWrapperConstructor(deepcopy(cfg or OURS))(model)


def cyclegan_style_optimizers(model):
    """mmagic's CycleGAN test layout: generators and discriminators only."""
    return OptimWrapperDict(
        generators=OptimWrapper(
            torch.optim.Adam(model.generators.parameters(), lr=1e-3)),
        discriminators=OptimWrapper(
            torch.optim.Adam(model.discriminators.parameters(), lr=1e-3)))


def batch(size=32, samples=True):
    g = torch.Generator().manual_seed(0)
    data = dict(inputs={
        f'img_{d}': torch.randint(0, 256, (1, 3, size, size),
                                  generator=g).float()
        for d in 'ab'
    })
    if samples:
        data['data_samples'] = [DataSample()]
    return data


def set_iter(it, epoch=0):
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', it)
    hub.update_info('epoch', epoch)


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(b, p)
               for b, p in zip(before, module.parameters()))


class TestBuild(TestCase):

    def test_build_from_tiny_config(self):
        model = build()
        self.assertIsInstance(model, BaseTranslationModel)
        for d in 'ab':
            self.assertIsInstance(model.generators[d], ResnetGenerator)
            self.assertIsInstance(model.discriminators[d],
                                  AttentionMaskedDiscriminator)
            self.assertIsInstance(model.attentions[d], AttentionNet)
        self.assertEqual(model.discriminator_steps, 1)
        self.assertEqual(model.disc_init_steps, 0)

    def test_build_from_base_config_file(self):
        cfg = Config.fromfile(
            osp.join(ROOT, 'configs', '_base_', 'models', 'uagit.py'))
        cfg.model.domains = ['horse', 'zebra']
        model = MODELS.build(cfg.model)
        self.assertEqual(model._default_domain, 'zebra')
        self.assertNotIn('threshold', cfg.model.discriminator)
        schedule = model.schedule
        self.assertIsInstance(schedule, PhaseSchedule)
        self.assertEqual(
            (schedule.switch_iter, schedule.switch_epoch, schedule.threshold,
             schedule.freeze_attention, schedule.disc_norm_in_phase2),
            (None, 30, 0.1, True, False))

    def test_schedule_reflects_model_keys(self):
        model = build(switch_iter=None, switch_epoch=4, threshold=0.25,
                      freeze_attention=False, disc_norm_in_phase2=True)
        schedule = model.schedule
        self.assertEqual(
            (schedule.switch_iter, schedule.switch_epoch, schedule.threshold,
             schedule.freeze_attention, schedule.disc_norm_in_phase2),
            (None, 4, 0.25, False, True))

    def test_threshold_is_a_model_key(self):
        for bad in (-0.1, 1.5):
            with self.assertRaisesRegex(ConfigError, r'model\.threshold'):
                build(threshold=bad)
        disc = dict(TINY['discriminator'], threshold=0.1)
        with self.assertRaisesRegex(ConfigError, r'model\.threshold'):
            build(discriminator=disc)

    def test_discriminator_steps_validated(self):
        with self.assertRaisesRegex(ConfigError, 'discriminator_steps'):
            build(discriminator_steps=0)
        with self.assertRaisesRegex(ConfigError, 'disc_init_steps'):
            build(disc_init_steps=-1)

    def test_get_module(self):
        model = build()
        wrapper = MagicMock(spec=MMDistributedDataParallel)
        wrapper.module = MagicMock()
        self.assertIs(model.get_module(wrapper), wrapper.module)
        self.assertIs(model.get_module(model.attentions), model.attentions)

    def test_init_weights_initialises_attention_networks(self):
        model = MODELS.build(deepcopy(TINY))

        def conv_weights():
            convs = [m for m in model.attentions.modules()
                     if isinstance(m, torch.nn.Conv2d)]
            return (torch.cat([c.weight.detach().flatten() for c in convs]),
                    torch.cat([c.bias.detach().flatten() for c in convs
                               if c.bias is not None]))

        weights, biases = conv_weights()
        # before: PyTorch's / ConvModule's own init, far from normal(0.02)
        self.assertGreater(weights.std().item(), 0.04)
        self.assertGreater(biases.abs().max().item(), 0.0)
        model.init_weights()
        weights, biases = conv_weights()
        self.assertAlmostEqual(weights.std().item(), 0.02, delta=0.002)
        self.assertAlmostEqual(weights.mean().item(), 0.0, delta=0.002)
        self.assertEqual(biases.abs().max().item(), 0.0)


class TestDomains(TestCase):

    def test_domain_queries(self):
        model = build()
        self.assertEqual(model._reachable_domains, ['a', 'b'])
        self.assertEqual(model._related_domains, ['a', 'b'])
        self.assertEqual(model._default_domain, 'b')  # the second domain
        self.assertEqual(model.get_other_domains('a'), ['b'])
        self.assertEqual(model.get_other_domains('b'), ['a'])
        self.assertTrue(model.is_domain_reachable('a'))
        self.assertFalse(model.is_domain_reachable('c'))

    def test_explicit_domains_like_mmagic(self):
        model = build(domains=None, default_domain='a',
                      reachable_domains=['a', 'b'],
                      related_domains=['a', 'b'])
        self.assertEqual(model._default_domain, 'a')
        with self.assertRaisesRegex(ConfigError, 'default_domain'):
            build(default_domain='c')


class TestForward(TestCase):

    def setUp(self):
        torch.manual_seed(0)
        self.model = build().eval()
        self.x = torch.rand(1, 3, 32, 32) * 2 - 1

    def test_forward_test_without_target_domain_uses_default(self):
        with torch.no_grad():
            expected = self.model.translate(self.x, 'b')[0]
            for out in (self.model(self.x, test_mode=True),
                        self.model.forward_test(self.x, None)):
                self.assertTrue(torch.equal(out['source'], self.x))
                self.assertTrue(torch.equal(out['target'], expected))
                self.assertEqual(out['attention'].shape, (1, 1, 32, 32))

    def test_forward_both_modes_with_target_domain(self):
        with torch.no_grad():
            for test_mode in (True, False):
                for target in 'ab':
                    out = self.model(self.x, test_mode=test_mode,
                                     target_domain=target)
                    self.assertTrue(torch.equal(out['source'], self.x))
                    self.assertTrue(torch.equal(
                        out['target'],
                        self.model.translate(self.x, target)[0]))

    def test_translation(self):
        with torch.no_grad():
            self.assertTrue(torch.equal(
                self.model.translation(self.x),
                self.model.translate(self.x, 'b')[0]))
            self.assertTrue(torch.equal(
                self.model.translation(self.x, target_domain='a'),
                self.model.translate(self.x, 'a')[0]))

    def test_odd_input_sizes(self):
        with torch.no_grad():
            for h, w in [(33, 47), (31, 17), (7, 5)]:
                x = torch.rand(1, 3, h, w)
                self.assertEqual(self.model.translation(x).shape,
                                 (1, 3, h, w))
                out = self.model(x, test_mode=True, target_domain='a')
                self.assertEqual(out['target'].shape, (1, 3, h, w))
                self.assertEqual(out['attention'].shape, (1, 1, h, w))


class TestTrainStep(TestCase):

    def setUp(self):
        torch.manual_seed(0)

    def test_log_keys_in_each_phase(self):
        model = build(switch_iter=1)
        optim = optimizers(model)
        for it, phase in ((0, 1), (1, 2)):
            set_iter(it)
            log = model.train_step(batch(), optim)
            self.assertEqual(set(log), D_KEYS | G_KEYS | MASK_KEYS)
            self.assertEqual(log['phase'].item(), phase)
            for key, value in log.items():
                self.assertEqual(value.dim(), 0, key)
                self.assertFalse(value.requires_grad, key)
                self.assertTrue(torch.isfinite(value), key)

    def test_buffer_size_zero(self):
        model = build(buffer_size=0)
        set_iter(0)
        log = model.train_step(batch(), optimizers(model))
        self.assertEqual(set(log), D_KEYS | G_KEYS | MASK_KEYS)

    def _run(self, model, iters):
        """Per iteration: whether D, G and A changed, and the log keys."""
        optim = optimizers(model)
        seen = []
        for it in range(iters):
            before = [snapshot(m) for m in (model.discriminators,
                                            model.generators,
                                            model.attentions)]
            set_iter(it)
            log = model.train_step(batch(), optim)
            seen.append(([changed(b, m) for b, m in zip(before, (
                model.discriminators, model.generators,
                model.attentions))], set(log)))
        return seen

    def test_discriminator_steps(self):
        model = build(switch_iter=None, discriminator_steps=2)
        for it, ((d, g, a), keys) in enumerate(self._run(model, 4)):
            self.assertTrue(d, f'iter {it}: D updated every step')
            self.assertEqual(g, it % 2 == 1, f'iter {it}')
            self.assertEqual(a, it % 2 == 1, f'iter {it}')
            expected = D_KEYS | MASK_KEYS | (G_KEYS if it % 2 else set())
            self.assertEqual(keys, expected, f'iter {it}')

    def test_disc_init_steps(self):
        model = build(switch_iter=None, disc_init_steps=3)
        for it, ((d, g, a), keys) in enumerate(self._run(model, 5)):
            self.assertTrue(d, f'iter {it}')
            self.assertEqual(g, it >= 3, f'iter {it}')
            self.assertEqual(a, it >= 3, f'iter {it}')
            expected = D_KEYS | MASK_KEYS | (G_KEYS if it >= 3 else set())
            self.assertEqual(keys, expected, f'iter {it}')

    def test_disc_norm_set_only_when_phase_changes(self):
        model = build(switch_iter=2)
        optim = optimizers(model)
        calls = []
        with patch.object(AttentionMaskedDiscriminator, 'set_norm_enabled',
                          lambda self, on: calls.append(on)):
            for it in range(4):
                set_iter(it)
                model.train_step(batch(), optim)
        # first step (phase 1, norm on), then the switch (phase 2, off);
        # once per discriminator each time
        self.assertEqual(calls, [True, True, False, False])

    def test_first_step_after_resume_in_phase_two_turns_norm_off(self):
        model = build(switch_iter=2)  # a fresh model, resumed at iter 5
        set_iter(5)
        model.train_step(batch(), optimizers(model))
        for disc in model.discriminators.values():
            self.assertFalse(disc.norm_enabled)


class TestAttentionOptimizer(TestCase):
    """The attention networks are never left silently untrained."""

    def setUp(self):
        torch.manual_seed(0)

    def test_cyclegan_style_wrappers_are_refused(self):
        model = build()
        optim = cyclegan_style_optimizers(model)
        before = [snapshot(m) for m in (model.discriminators,
                                        model.generators, model.attentions)]
        set_iter(0)
        with self.assertRaisesRegex(
                ConfigError,
                r"optim_wrapper\.generators\.modules=\['generators', "
                r"'attentions'\].*optim_wrapper\.attentions"):
            model.train_step(batch(), optim)
        # refused before any update
        for b, m in zip(before, (model.discriminators, model.generators,
                                 model.attentions)):
            self.assertFalse(changed(b, m))

    def test_constructor_without_attentions_is_refused(self):
        model = build()
        cfg = deepcopy(OURS)
        cfg['generators']['modules'] = 'generators'
        set_iter(0)
        with self.assertRaisesRegex(ConfigError, 'attention'):
            model.train_step(batch(), optimizers(model, cfg))

    def test_covered_attentions_train(self):
        separate = dict(deepcopy(OURS), attentions=dict(
            type='OptimWrapper', modules='attentions', optimizer=ADAM))
        separate['generators']['modules'] = 'generators'
        for cfg in (OURS, separate):
            model = build()
            before = snapshot(model.attentions)
            set_iter(0)
            model.train_step(batch(), optimizers(model, cfg))
            self.assertTrue(changed(before, model.attentions), cfg.keys())

    def test_never_trained_attention_needs_no_optimizer(self):
        # phase 2 with frozen attention from the first step
        model = build(switch_iter=0)
        set_iter(0)
        log = model.train_step(batch(), cyclegan_style_optimizers(model))
        self.assertEqual(set(log), D_KEYS | G_KEYS | MASK_KEYS)


class TestValTest(TestCase):

    def test_outputs_with_and_without_data_samples(self):
        model = build()
        for samples in (True, False):
            for step in (model.val_step, model.test_step):
                out = step(batch(samples=samples))
                self.assertEqual(len(out), 1)
                self.assertEqual(out[0].fake_a.shape, (3, 32, 32))
                self.assertEqual(out[0].fake_b.shape, (3, 32, 32))
                self.assertEqual(out[0].attention_a.shape, (1, 32, 32))
                self.assertEqual(out[0].attention_b.shape, (1, 32, 32))
