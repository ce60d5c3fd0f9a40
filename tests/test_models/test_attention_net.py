from unittest import TestCase

import torch
from mmengine.registry import init_default_scope

import uagit_mm  # noqa: F401
from mmagic.registry import MODELS

init_default_scope('mmagic')


class TestAttentionNet(TestCase):

    def test_paper_size_and_range(self):
        net = MODELS.build(dict(type='AttentionNet'))
        net.init_weights()
        n_params = sum(p.numel() for p in net.parameters())
        # the paper's attention network has ~0.1-0.15 M parameters
        self.assertTrue(100_000 < n_params < 200_000, n_params)
        out = net(torch.randn(2, 3, 32, 32) * 50)  # extreme inputs
        self.assertEqual(out.shape, (2, 1, 32, 32))
        self.assertGreaterEqual(out.min().item(), 0.0)
        self.assertLessEqual(out.max().item(), 1.0)

    def test_any_size_keeps_input_size(self):
        net = MODELS.build(dict(type='AttentionNet', base_channels=4))
        for h, w in [(33, 47), (5, 7), (64, 64), (5, 5)]:
            self.assertEqual(net(torch.randn(1, 3, h, w)).shape, (1, 1, h, w))
        with self.assertRaisesRegex(ValueError, '5x5'):
            net(torch.randn(1, 3, 4, 9))

    def test_depth_is_configurable(self):
        net = MODELS.build(
            dict(type='AttentionNet', base_channels=4, num_down=3,
                 num_blocks=2))
        self.assertEqual(len(net.down), 3)
        self.assertEqual(len(net.up), 3)
        self.assertEqual(len(net.blocks), 2)
        self.assertEqual(net(torch.randn(1, 3, 20, 20)).shape, (1, 1, 20, 20))
        with self.assertRaises(ValueError):
            MODELS.build(dict(type='AttentionNet', num_down=0))

    def test_init_is_normal_002_zero_bias(self):
        net = MODELS.build(dict(type='AttentionNet'))
        net.init_weights()
        conv = net.up[0].conv
        self.assertAlmostEqual(conv.weight.std().item(), 0.02, delta=0.003)
        self.assertAlmostEqual(
            net.out_conv.weight.std().item(), 0.02, delta=0.01)
        self.assertEqual(net.out_conv.bias.abs().max().item(), 0.0)


class TestOutBias(TestCase):

    def test_attention_starts_near_sigmoid_of_the_bias(self):
        torch.manual_seed(0)
        x = torch.randn(2, 3, 32, 32)
        for bias, low, high in ((0.0, 0.45, 0.55), (3.0, 0.93, 0.97),
                                (-2.0, 0.09, 0.15)):
            net = MODELS.build(
                dict(type='AttentionNet', base_channels=4, out_bias=bias))
            net.init_weights()
            self.assertEqual(net.out_conv.bias.item(), bias)
            mean = net(x).mean().item()
            self.assertTrue(low < mean < high, (bias, mean))
