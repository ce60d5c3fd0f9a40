from types import SimpleNamespace
from unittest import TestCase, mock

import numpy as np
import torch
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401
from mmagic.registry import HOOKS, MODELS
from uagit_mm.engine import AttentionCollapseHook, AttentionVisualizationHook

init_default_scope('mmagic')


class TestAttentionCollapseHook(TestCase):

    def _feed(self, hook, means, start=0):
        runner = SimpleNamespace(iter=start)
        with mock.patch(
                'uagit_mm.engine.hooks.attention_collapse_hook.print_log'
        ) as log:
            for i, (a, b) in enumerate(means):
                runner.iter = start + i
                hook.after_train_iter(
                    runner, i, None, {
                        'mask_mean_a': torch.tensor(a),
                        'mask_mean_b': torch.tensor(b),
                        'loss_gan_g_a': torch.tensor(1.0)
                    })
        return [c.args[0] for c in log.call_args_list]

    def test_warns_once_naming_domain_and_knobs(self):
        hook = HOOKS.build(dict(type='AttentionCollapseHook', patience=5))
        msgs = self._feed(hook, [(0.005, 0.5)] * 12)
        self.assertEqual(len(msgs), 1)
        self.assertIn("domain 'a'", msgs[0])
        self.assertIn('all-zero', msgs[0])
        for knob in ('cycle_loss.loss_weight', 'threshold', 'switch_'):
            self.assertIn(knob, msgs[0])

    def test_all_one_and_recovery(self):
        hook = AttentionCollapseHook(patience=3)
        seq = [(0.5, 0.99)] * 3 + [(0.5, 0.5)] + [(0.5, 0.995)] * 3
        msgs = self._feed(hook, seq)
        self.assertEqual(len(msgs), 2)
        self.assertTrue(all("domain 'b'" in m and 'all-one' in m
                            for m in msgs))

    def test_healthy_or_interrupted_masks_do_not_warn(self):
        hook = AttentionCollapseHook(patience=4)
        seq = [(0.01, 0.3), (0.01, 0.3), (0.01, 0.3), (0.2, 0.3)] * 3
        self.assertEqual(self._feed(hook, seq), [])

    def _feed_sharpness(self, hook, steps):
        """steps: (phase, inside_a, grey_a, inside_b, grey_b) per
        iteration."""
        runner = SimpleNamespace(iter=0)
        with mock.patch(
                'uagit_mm.engine.hooks.attention_collapse_hook.print_log'
        ) as log:
            for i, (phase, in_a, grey_a, in_b, grey_b) in enumerate(steps):
                runner.iter = i
                hook.after_train_iter(
                    runner, i, None, {
                        'mask_mean_a': torch.tensor(0.2),
                        'mask_mean_b': torch.tensor(0.2),
                        'mask_inside_a': torch.tensor(in_a),
                        'mask_grey_a': torch.tensor(grey_a),
                        'mask_inside_b': torch.tensor(in_b),
                        'mask_grey_b': torch.tensor(grey_b),
                        'phase': torch.tensor(float(phase))
                    })
        return [c.args[0] for c in log.call_args_list]

    def test_grey_mask_at_the_switch_warns_naming_the_knobs(self):
        hook = AttentionCollapseHook(window=4)
        # 'a' grey (0.47 above tau, 90 % grey), 'b' sharp, until the switch
        steps = [(1, 0.1, 0.0, 0.1, 0.0)] * 5 + \
            [(1, 0.47, 0.9, 0.97, 0.05)] * 4 + [(2, 0.47, 0.9, 0.97, 0.05)] * 3
        msgs = self._feed_sharpness(hook, steps)
        self.assertEqual(len(msgs), 1, msgs)
        self.assertIn("domain 'a'", msgs[0])
        self.assertIn('iteration 10', msgs[0])  # the first phase-2 one
        self.assertIn('0.47', msgs[0])  # the window's mean, not earlier
        self.assertIn('90%', msgs[0])
        for knob in ('model.sharpness', 'model.binary_mask_from',
                     'model.switch_iter',
                     'model.threshold', 'model.freeze_attention'):
            self.assertIn(knob, msgs[0])

    def test_sharp_masks_or_no_switch_do_not_warn(self):
        sharp = [(1, 0.95, 0.05, 0.9, 0.1)] * 6 + [(2, 0.95, 0.05, 0.9, 0.1)]
        self.assertEqual(
            self._feed_sharpness(AttentionCollapseHook(window=4), sharp), [])
        # grey, but never switching (holistic ablation) or resumed in phase 2
        grey = [(1, 0.5, 0.9, 0.5, 0.9)] * 6
        self.assertEqual(
            self._feed_sharpness(AttentionCollapseHook(window=4), grey), [])
        self.assertEqual(
            self._feed_sharpness(AttentionCollapseHook(window=4),
                                 [(2, 0.5, 0.9, 0.5, 0.9)] * 3), [])
        # a grey share above max_grey alone is enough
        steps = [(1, 0.85, 0.5, 0.9, 0.1)] * 3 + [(2, 0.85, 0.5, 0.9, 0.1)]
        msgs = self._feed_sharpness(AttentionCollapseHook(window=4), steps)
        self.assertEqual(len(msgs), 1)
        self.assertIn("domain 'a'", msgs[0])

    def test_closed_mask_at_the_switch_is_called_all_zero_not_grey(self):
        # what real horse2zebra photographs did: the mask closed, so the
        # inside mean was 0 with 0 % grey pixels; it used to be reported as
        # 'still grey'
        runner = SimpleNamespace(iter=0)
        hook = AttentionCollapseHook(window=4, patience=1000)
        with mock.patch(
                'uagit_mm.engine.hooks.attention_collapse_hook.print_log'
        ) as log:
            for i in range(8):
                runner.iter = i
                hook.after_train_iter(
                    runner, i, None, {
                        'mask_mean_a': torch.tensor(0.001),
                        'mask_inside_a': torch.tensor(0.0),
                        'mask_grey_a': torch.tensor(0.0),
                        'mask_mean_b': torch.tensor(0.999),
                        'mask_inside_b': torch.tensor(0.999),
                        'mask_grey_b': torch.tensor(0.0),
                        'phase': torch.tensor(1.0 if i < 6 else 2.0)
                    })
        msgs = [c.args[0] for c in log.call_args_list]
        self.assertEqual(len(msgs), 2, msgs)
        a = [m for m in msgs if "domain 'a'" in m][0]
        b = [m for m in msgs if "domain 'b'" in m][0]
        for msg, state in ((a, 'all-zero'), (b, 'all-one')):
            self.assertIn(f'is {state} at the switch', msg)
            self.assertNotIn('grey', msg)
        self.assertIn('nothing will be translated', a)
        # the knobs that opened the masks on real photographs
        for knob in ('model.cycle_trains_attention=False', 'model.warmup',
                     'model.area_cost'):
            self.assertIn(knob, a)
        self.assertNotIn('model.warmup', b)

    def test_warmup_iterations_are_not_a_collapse(self):
        runner = SimpleNamespace(iter=0)
        hook = AttentionCollapseHook(patience=3)
        with mock.patch(
                'uagit_mm.engine.hooks.attention_collapse_hook.print_log'
        ) as log:
            for i in range(10):
                runner.iter = i
                hook.after_train_iter(runner, i, None, {
                    'mask_mean_a': torch.tensor(1.0),
                    'warmup': torch.tensor(1.0 if i < 7 else 0.0)
                })
        msgs = [c.args[0] for c in log.call_args_list]
        # only the three all-one iterations after the warm-up count
        self.assertEqual(len(msgs), 1)
        self.assertIn('iteration 10', msgs[0])

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            AttentionCollapseHook(patience=0)
        with self.assertRaises(ValueError):
            AttentionCollapseHook(low=0.9, high=0.1)
        with self.assertRaises(ValueError):
            AttentionCollapseHook(window=0)
        with self.assertRaises(ValueError):
            AttentionCollapseHook(max_grey=1.5)


class FakeDataset:

    def __init__(self, n=3, size=32):
        self.n, self.size = n, size

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        from mmagic.structures import DataSample
        g = torch.Generator().manual_seed(i + int(np.random.randint(1000)))
        return dict(
            inputs=dict(
                img_a=torch.randint(0, 256, (3, self.size, self.size),
                                    generator=g).float(),
                img_b=torch.randint(0, 256, (3, self.size, self.size),
                                    generator=g).float()),
            data_samples=DataSample())


class TestAttentionVisualizationHook(TestCase):

    def setUp(self):
        self.model = MODELS.build(
            dict(type='UAGIT', domains=['a', 'b'],
                 data_preprocessor=dict(type='DataPreprocessor'),
                 generator=dict(type='ResnetGenerator', in_channels=3,
                                out_channels=3, base_channels=8,
                                num_blocks=1),
                 discriminator=dict(type='AttentionMaskedDiscriminator',
                                    in_channels=3, base_channels=8),
                 attention=dict(type='AttentionNet', base_channels=4)))
        self.images = {}
        visualizer = SimpleNamespace(
            add_image=lambda name, image, step: self.images.setdefault(
                (name, step), image))
        self.runner = SimpleNamespace(
            model=self.model, visualizer=visualizer, iter=9,
            train_dataloader=SimpleNamespace(dataset=FakeDataset()),
            test_dataloader=SimpleNamespace(dataset=FakeDataset(n=2)))

    def test_grid_every_interval_with_four_panels(self):
        hook = HOOKS.build(dict(type='AttentionVisualizationHook',
                                interval=10, num_samples=2))
        self.runner.max_iters = 100
        self.model.train()
        hook.after_train_iter(self.runner, 9)   # iteration 10: draws
        self.runner.iter = 10
        hook.after_train_iter(self.runner, 10)  # iteration 11: no grid
        self.assertEqual(set(self.images), {('train_a2b', 10),
                                            ('train_b2a', 10)})
        grid = self.images[('train_a2b', 10)]
        # 2 samples x (input | attention | translated | reconstruction)
        self.assertEqual(grid.shape, (2 * 32, 4 * 32, 3))
        self.assertEqual(grid.dtype, np.uint8)
        # the attention panel is gray: equal channels
        att = grid[:, 32:64].astype(int)
        self.assertTrue((att[..., 0] == att[..., 1]).all())
        self.assertTrue(self.model.training)  # mode restored

    def test_fixed_samples_and_rng_untouched(self):
        hook = AttentionVisualizationHook(interval=1, num_samples=2)
        np.random.seed(123)
        expected_next = np.random.rand()
        np.random.seed(123)
        hook.draw(self.runner, self.runner.train_dataloader.dataset, 't', 1)
        self.assertEqual(np.random.rand(), expected_next)
        hook.draw(self.runner, self.runner.train_dataloader.dataset, 't', 2)
        self.assertTrue(np.array_equal(self.images[('t_a2b', 1)][:, :32],
                                       self.images[('t_a2b', 2)][:, :32]))

    def test_test_grid(self):
        hook = AttentionVisualizationHook(interval=5, num_samples=4)
        self.model.eval()
        hook.after_test(self.runner)
        self.assertEqual(self.images[('test_b2a', 9)].shape, (64, 128, 3))
        self.assertFalse(self.model.training)
