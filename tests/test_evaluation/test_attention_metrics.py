from unittest import TestCase

import numpy as np
import torch

import uagit_mm  # noqa: F401
from mmagic.registry import METRICS
from mmagic.structures import DataSample
from uagit_mm.datasets.synthetic import render_sample
from uagit_mm.evaluation import AttentionTranslationMetric, image_stats


def square_mask(h=16, w=16):
    m = np.zeros((h, w), np.float32)
    m[4:12, 4:12] = 1
    return m


class TestImageStats(TestCase):

    def test_perfect_attention_untouched_background(self):
        src = np.random.RandomState(0).randint(0, 256, (3, 16, 16))
        gt = square_mask()
        fake = src.copy().astype(np.float32)
        fake[:, gt > 0] = 255 - fake[:, gt > 0]  # change only the object
        s = image_stats(src, fake, gt, attention=gt.copy())
        self.assertEqual(s['mask_iou'], 1.0)
        self.assertEqual(s['bg_change'], 0.0)
        expected_fg = np.abs(255 - 2 * src[:, gt > 0]).mean() / 255
        self.assertAlmostEqual(s['fg_change'], expected_fg, places=6)

    def test_known_iou_and_change(self):
        src = np.zeros((3, 16, 16))
        fake = np.full((3, 16, 16), 51.0)  # +0.2 everywhere
        gt = square_mask()  # 64 object pixels
        att = np.zeros((16, 16))
        att[4:12, 4:8] = 0.9   # 32 of them attended
        att[0, 0:32 // 2] = 0.6  # 16 false positives
        s = image_stats(src, fake, gt, attention=att)
        self.assertAlmostEqual(s['mask_iou'], 32 / (64 + 16), places=6)
        self.assertAlmostEqual(s['bg_change'], 0.2, places=6)
        self.assertAlmostEqual(s['fg_change'], 0.2, places=6)

    def test_attention_on_and_off_the_object(self):
        gt = square_mask()  # 64 object pixels of 256
        att = gt * 0.47  # finds the object, grey on it
        att[0, :16] = 0.2  # 16 background pixels
        s = image_stats(np.zeros((3, 16, 16)), np.zeros((3, 16, 16)), gt, att)
        self.assertAlmostEqual(s['attn_on_object'], 0.47, places=6)
        self.assertAlmostEqual(s['attn_off_object'], 16 * 0.2 / 192,
                               places=6)
        self.assertEqual(s['mask_iou'], 0.0)  # nothing above 0.5
        no_attn = image_stats(np.zeros((3, 16, 16)), np.zeros((3, 16, 16)),
                              gt)
        self.assertNotIn('attn_on_object', no_attn)
        self.assertNotIn('attn_off_object', no_attn)

    def test_threshold_is_half(self):
        gt = square_mask()
        att = gt * 0.5  # exactly 0.5 is not attended
        s = image_stats(np.zeros((3, 16, 16)), np.zeros((3, 16, 16)), gt, att)
        self.assertEqual(s['mask_iou'], 0.0)


def sample(src_img, fake_img, gt, attn=None, src='a', tgt='b'):
    s = DataSample()
    data = {f'img_{src}': torch.as_tensor(src_img).float(),
            f'fake_{tgt}': torch.as_tensor(fake_img).float(),
            f'gt_mask_{src}': torch.as_tensor(gt)[None].float()}
    if attn is not None:
        data[f'attention_{src}'] = torch.as_tensor(attn)[None].float()
    s.set_tensor_data(data)
    return s


class TestAttentionTranslationMetric(TestCase):

    def test_registered_and_averaged_per_direction(self):
        metric = METRICS.build(
            dict(type='AttentionTranslationMetric', domains=['a', 'b']))
        gt = square_mask()
        src = np.zeros((3, 16, 16))
        metric.process(None, [sample(src, src + 25.5, gt, gt),
                              sample(src, src, gt, np.zeros_like(gt))])
        out = metric.evaluate()
        self.assertAlmostEqual(out['attn/a2b/mask_iou'], 0.5)
        self.assertAlmostEqual(out['attn/a2b/bg_change'], 0.05, places=6)
        self.assertAlmostEqual(out['attn/a2b/attn_on_object'], 0.5)
        self.assertAlmostEqual(out['attn/a2b/attn_off_object'], 0.0)
        self.assertEqual(out['attn/a2b/num_images'], 2)
        self.assertNotIn('attn/b2a/mask_iou', out)

    def test_without_attention_no_iou(self):
        metric = AttentionTranslationMetric(domains=['a', 'b'])
        gt = square_mask()
        metric.process(None, [sample(np.zeros((3, 16, 16)),
                                     np.zeros((3, 16, 16)), gt)])
        out = metric.evaluate()
        self.assertEqual(out['attn/a2b/bg_change'], 0.0)
        self.assertNotIn('attn/a2b/mask_iou', out)

    def test_samples_without_masks_are_skipped(self):
        metric = AttentionTranslationMetric(domains=['a', 'b'])
        s = DataSample()
        s.set_tensor_data({'img_a': torch.zeros(3, 8, 8),
                           'fake_b': torch.zeros(3, 8, 8)})
        metric.process(None, [s])
        self.assertEqual(metric.evaluate(), {})

    def test_translation_score_on_generated_objects(self):
        rng = np.random.default_rng(0)
        metric = AttentionTranslationMetric(
            domains=['a', 'b'], appearance={'a': 'A', 'b': 'B'},
            channel_order='RGB')
        samples = []
        for _ in range(4):
            img_a, mask_a = render_sample(rng, 'A', 64)
            # a perfect "translation": black/white stripes on A's object
            stripes = (np.arange(64)[None, :, None] // 4 % 2) * 255
            fake = np.where(mask_a[..., None] > 0,
                            np.broadcast_to(stripes, img_a.shape),
                            img_a).astype(np.uint8)
            samples.append(sample(img_a.transpose(2, 0, 1),
                                  fake.transpose(2, 0, 1), mask_a / 255.0))
            # and an untranslated one
            samples.append(sample(img_a.transpose(2, 0, 1),
                                  img_a.transpose(2, 0, 1), mask_a / 255.0))
        metric.process(None, samples)
        self.assertAlmostEqual(metric.evaluate()['attn/a2b/translated'], 0.5)

    def test_hue_judge_on_the_colour_only_set(self):
        rng = np.random.default_rng(0)
        samples = []
        for _ in range(4):
            img_a, mask_a = render_sample(rng, 'A', 64, kind='hue')
            # a perfect "translation": the object in B's violet (hue 279);
            # the stripe statistic cannot tell it from an untranslated one
            violet = np.where(mask_a[..., None] > 0, np.array(
                [150, 60, 200]), img_a).astype(np.uint8)
            samples.append(sample(img_a.transpose(2, 0, 1),
                                  violet.transpose(2, 0, 1), mask_a / 255.0))
            samples.append(sample(img_a.transpose(2, 0, 1),
                                  img_a.transpose(2, 0, 1), mask_a / 255.0))
        results = {}
        for judge in ('hue', 'texture'):
            metric = AttentionTranslationMetric(
                domains=['a', 'b'], appearance={'a': 'A', 'b': 'B'},
                judge=judge, channel_order='RGB')
            metric.process(None, samples)
            results[judge] = metric.evaluate()['attn/a2b/translated']
        self.assertAlmostEqual(results['hue'], 0.5)
        self.assertAlmostEqual(results['texture'], 0.0)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, 'judge'):
            AttentionTranslationMetric(judge='stripes')
        with self.assertRaises(ValueError):
            AttentionTranslationMetric(channel_order='XYZ')
        with self.assertRaises(ValueError):
            AttentionTranslationMetric(appearance={'a': 'C'})
