r"""Summarise a test run: the attention metrics per direction as a table,
and one picture of test images (input | mask | translation).

Example (what tools/quickstart.sh runs after tools/test.py):
    python tools/quickstart_report.py work_dirs/quickstart/metrics.json \
        work_dirs/quickstart/<timestamp>/translations \
        --data data/synthetic64 --domains smooth striped \
        --out work_dirs/quickstart/quickstart.png

Reads only JSON and PNGs (numpy and Pillow, no model), so it starts at once.
"""
import argparse
import json
import os.path as osp
import sys
from glob import glob
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_TOOLS = osp.dirname(osp.abspath(__file__))
if osp.isfile(osp.join(_TOOLS, osp.pardir, 'uagit_mm', 'fileio.py')):
    sys.path.insert(0, osp.join(_TOOLS, osp.pardir))  # run from a checkout

# (metric key, column title, digits)
COLUMNS = (('mask_iou', 'mask IoU', 2), ('bg_change', 'background change', 3),
           ('translated', 'translated', 2))
GAP, LABEL_H = 6, 16


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('metrics', help="tools/test.py's --out-metrics file")
    parser.add_argument(
        'translations', help="tools/test.py's translations folder "
        '(<src>2<tgt>/<name>.png and <name>_mask.png)')
    parser.add_argument(
        '--data', required=True,
        help='the dataset root the test read (testA/, testB/)')
    parser.add_argument(
        '--domains', nargs=2, required=True, metavar=('A', 'B'),
        help="the config's domains: A's test images are in testA/")
    parser.add_argument('--out', required=True, help='the picture (PNG)')
    parser.add_argument(
        '--num', type=int, default=4, help='test images per direction')
    parser.add_argument(
        '--scale', type=int, default=2,
        help='pixels of the picture per image pixel (nearest neighbour)')
    return parser.parse_args(argv)


def metrics_table(metrics: Dict[str, float]) -> str:
    """The per-direction metrics of ``AttentionTranslationMetric`` (keys
    ``attn/<src>2<tgt>/<name>``) as an aligned text table.

    Raises:
        ValueError: No direction has all of the table's metrics.
    """
    directions = sorted({
        key.split('/')[1]
        for key in metrics if key.startswith('attn/') and key.count('/') == 2
        and key.split('/')[1] != 'mean'
    })
    directions = [
        d for d in directions
        if all(f'attn/{d}/{key}' in metrics for key, _, _ in COLUMNS)
    ]
    if not directions:
        raise ValueError('no attention metrics (attn/<src>2<tgt>/mask_iou, '
                         'bg_change, translated) in the metrics')
    first = max(len('direction'), *(len(d) for d in directions))
    lines = ['  '.join(['direction'.ljust(first)] +
                       [title for _, title, _ in COLUMNS] + ['test images'])]
    for d in directions:
        cells = [d.ljust(first)]
        for key, title, digits in COLUMNS:
            cells.append(f'{metrics[f"attn/{d}/{key}"]:.{digits}f}'.rjust(
                len(title)))
        count = metrics.get(f'attn/{d}/num_images')
        cells.append(('' if count is None else str(int(count))).rjust(
            len('test images')))
        lines.append('  '.join(cells))
    return '\n'.join(lines)


def _read_rgb(path: str) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert('RGB'))


def _source(data: str, folder: str, stem: str) -> str:
    exact = osp.join(data, folder, f'{stem}.png')
    if osp.isfile(exact):
        return exact
    found = sorted(glob(osp.join(data, folder, f'{stem}.*')))
    if not found:
        raise FileNotFoundError(
            f'no test image {stem}.* in {osp.join(data, folder)}')
    return found[0]


def direction_rows(translations: str, data: str,
                   domains: Sequence[str],
                   num: int) -> List[tuple]:
    """``(direction, [(input, mask, translation), ...])`` for each direction
    found, the first ``num`` test images by name, as RGB uint8 arrays."""
    a, b = domains
    rows = []
    for src, tgt, folder in ((a, b, 'testA'), (b, a, 'testB')):
        name = f'{src}2{tgt}'
        out_dir = osp.join(translations, name)
        stems = sorted(
            osp.splitext(osp.basename(p))[0]
            for p in glob(osp.join(out_dir, '*.png'))
            if not p.endswith('_mask.png'))[:num]
        if not stems:
            continue
        triplets = []
        for stem in stems:
            triplets.append(
                (_read_rgb(_source(data, folder, stem)),
                 _read_rgb(osp.join(out_dir, f'{stem}_mask.png')),
                 _read_rgb(osp.join(out_dir, f'{stem}.png'))))
        rows.append((name, triplets))
    if not rows:
        raise FileNotFoundError(
            f'no translations under {translations} for the directions '
            f'{a}2{b} and {b}2{a}')
    return rows


def grid(rows: List[tuple], scale: int = 2,
         caption: str = 'input | mask | translation') -> np.ndarray:
    """One picture: per direction a labelled band of input | mask |
    translation triplets (or any tuples, named by ``caption``), white
    between them; (H, W, 3) uint8."""
    def up(img):
        return img.repeat(scale, 0).repeat(scale, 1)

    bands = []
    for name, triplets in rows:
        pieces = []
        for k, triplet in enumerate(triplets):
            if k:
                pieces.append(None)  # wider gap between triplets
            for j, img in enumerate(triplet):
                if j:
                    pieces.append('gap')
                pieces.append(up(img))
        height = max(p.shape[0] for p in pieces if isinstance(p, np.ndarray))
        cols = []
        for p in pieces:
            width = GAP if isinstance(p, str) else (
                3 * GAP if p is None else 0)
            if width:
                cols.append(np.full((height, width, 3), 255, np.uint8))
            else:
                pad = np.full((height - p.shape[0], p.shape[1], 3), 255,
                              np.uint8)
                cols.append(np.concatenate([p, pad]))
        band = np.concatenate(cols, 1)
        label = Image.new('RGB', (band.shape[1], LABEL_H), 'white')
        src, tgt = name.split('2', 1)
        ImageDraw.Draw(label).text(
            (0, 2), f'{src} -> {tgt}: {caption}',
            fill='black', font=ImageFont.load_default())
        bands.append(np.concatenate([np.asarray(label), band]))
    width = max(b.shape[1] for b in bands)
    padded = []
    for k, band in enumerate(bands):
        if k:
            padded.append(np.full((2 * GAP, width, 3), 255, np.uint8))
        padded.append(
            np.concatenate([
                band,
                np.full((band.shape[0], width - band.shape[1], 3), 255,
                        np.uint8)
            ], 1))
    return np.concatenate(padded)


def main(argv=None) -> int:
    args = parse_args(argv)
    from uagit_mm.fileio import save_png
    try:
        with open(args.metrics) as f:
            metrics = json.load(f)
        table = metrics_table(metrics)
        rows = direction_rows(args.translations, args.data, args.domains,
                              args.num)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(table)
    print('(mask IoU: attention > 0.5 against the true object mask, 1 = '
          'exact;\n background change: mean |change| of the background '
          'pixels, 0-1;\n translated: share of the objects that took the '
          'other domain\'s look)')
    save_png(args.out, grid(rows, args.scale))
    print(f'\nPicture ({", ".join(name for name, _ in rows)}; each: input | '
          f'mask | translation): {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
