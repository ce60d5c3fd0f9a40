"""How well can the config's attention network find the animals at all?

A bound for the mask figures of docs/results.md ("Real photographs"): the
attention network of a config, trained *with supervision* (binary
cross-entropy against the reference masks of the training images, which the
method never sees), then scored like the model is (``mask_iou`` at 0.5,
mean attention on / off the animal, ``uagit_mm.evaluation.image_stats``)
on the held-out ``valA`` / ``valB`` images. If the network cannot reach the
issue's targets with the answer in hand, at this size and in this many
iterations, the unsupervised method cannot either; if it can, what is
missing is the training signal, not the network.

    python tools/dev/attention_ceiling.py \
        configs/uagit_cpu_1xb1-3000iters_horse2zebra64.py \
        [--data-root data/horse2zebra64] [--iters 3000] [--seed 0]

Batch 1, Adam with the config's generator lr and betas, horizontal flips as
in the training pipeline; one network per domain, as in the model. Prints a
markdown table, one row per evaluation.
"""
import argparse
import glob
import logging
import os.path as osp
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmagic.registry import MODELS  # noqa: E402
from uagit_mm.apis.image_io import decode_rgb  # noqa: E402
from uagit_mm.apis.mask_control import read_mask  # noqa: E402
from uagit_mm.evaluation.attention_metrics import image_stats  # noqa: E402
from uagit_mm.utils import load_config  # noqa: E402


def load_split(root: str, split: str):
    """Images (N, 3, H, W) in [-1, 1] and masks (N, 1, H, W) in {0, 1} of
    one split, only the images that have a mask (``<split>_mask/``)."""
    mask_dir = osp.join(root, f'{split}_mask')
    if not osp.isdir(mask_dir):
        raise SystemExit(f'attention_ceiling: no reference masks in '
                         f'{mask_dir} (tools/download_dataset.py '
                         '--masks-zip writes them)')
    imgs, masks = [], []
    for path in sorted(glob.glob(osp.join(root, split, '*'))):
        stem = osp.splitext(osp.basename(path))[0]
        mpath = osp.join(mask_dir, stem + '.png')
        if not osp.exists(mpath):
            continue
        with open(path, 'rb') as f:
            img = decode_rgb(f.read(), path)
        # the project's mask reader (gray value, at the image's size)
        mask = read_mask(mpath, img.shape[:2]) > 0.5
        imgs.append(img)
        masks.append(mask)
    if not imgs:
        raise SystemExit(f'attention_ceiling: no image of {root}/{split} '
                         'has a reference mask')
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    m = torch.from_numpy(np.stack(masks)).unsqueeze(1).float()
    return x / 127.5 - 1, m


class quiet_init:
    """Without mmengine's per-parameter initialisation report."""

    def __enter__(self):
        self.logger = MMLogger.get_current_instance()
        self.level = self.logger.level
        self.logger.setLevel(logging.WARNING)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def evaluate(net, x, m):
    """Mean of ``image_stats``'s attention figures over the images."""
    net.eval()
    rows = []
    with torch.no_grad():
        for i in range(0, len(x), 16):
            attn = net(x[i:i + 16]).numpy()
            for a, gt in zip(attn, m[i:i + 16].numpy()):
                src = np.zeros((3, ) + a.shape[-2:], np.float32)
                rows.append(image_stats(src, src, gt, a))
    net.train()
    keys = ('mask_iou', 'attn_on_object', 'attn_off_object')
    return {k: float(np.nanmean([r[k] for r in rows])) for k in keys}


def main(argv=None):
    """Train and score; returns the rows printed, as dicts."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('--data-root', default=None,
                   help="default: the config's data_root")
    p.add_argument('--iters', type=int, default=3000)
    p.add_argument('--eval-every', type=int, default=500)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    init_default_scope('mmagic')
    cfg = load_config(args.config)
    root = args.data_root or cfg.data_root
    domains = cfg.model.domains
    gen_optim = cfg.optim_wrapper.generators.optimizer
    lr = gen_optim.get('lr', 2e-4)
    betas = gen_optim.get('betas', (0.5, 0.999))
    table = []
    print('| domain | iteration | mask_iou | attn on | attn off | min |')
    print('|---|---|---|---|---|---|')
    for domain, side in zip(domains, 'AB'):
        torch.manual_seed(args.seed)
        rng = np.random.default_rng(args.seed)
        train_x, train_m = load_split(root, f'train{side}')
        val_x, val_m = load_split(root, f'val{side}')
        net = MODELS.build(cfg.model.attention)
        with quiet_init():
            net.init_weights()
        optim = torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
        start = time.time()
        for it in range(1, args.iters + 1):
            i = int(rng.integers(len(train_x)))
            x, m = train_x[i:i + 1], train_m[i:i + 1]
            if rng.random() < 0.5:
                x, m = x.flip(-1), m.flip(-1)
            a = net(x).clamp(1e-6, 1 - 1e-6)
            loss = F.binary_cross_entropy(a, m)
            optim.zero_grad()
            loss.backward()
            optim.step()
            if it % args.eval_every == 0 or it == args.iters:
                s = evaluate(net, val_x, val_m)
                table.append(dict(s, domain=domain, iteration=it))
                print(f"| {domain} ({len(train_x)} train, {len(val_x)} val) "
                      f"| {it} | {s['mask_iou']:.3f} | "
                      f"{s['attn_on_object']:.3f} | "
                      f"{s['attn_off_object']:.3f} | "
                      f'{(time.time() - start) / 60:.1f} |', flush=True)
    return table


if __name__ == '__main__':
    main()
