"""Translate an image or a folder of images with a trained model.

    python tools/translate.py CONFIG CHECKPOINT INPUT --out-dir OUT
    (or, once installed: uagit-translate CONFIG CHECKPOINT INPUT ...)
        [--direction a2b|b2a] [--batch-size 4] [--device cpu]
        [--max-side N] [--max-pixels N] [--side-by-side] [--overwrite]
        [--cfg-options ...]

Writes OUT/<relative path>/<stem>.png (translation) and <stem>_mask.png
(attention, 8-bit, 255 = attended); with --side-by-side also
<stem>_side.png (input | attention | translation). Unreadable, broken or
too large files (and unlistable folders) are reported and skipped, the
others translated; the exit code is 1 when any failed. Outputs are written
under a temporary name and renamed, so no partial file is left.
"""
import argparse
import os.path as osp
import sys
from collections import defaultdict

import numpy as np
from mmengine.config import DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Translate images with a uagit_mm model')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('input', help='an image file or a folder (recursive)')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--direction', choices=['a2b', 'b2a'], default=None,
                   help="a = the config's first domain, b = the second "
                   '(default: into the default domain, b)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--device', default='cpu')
    p.add_argument('--max-side', type=int, default=None,
                   help='translate larger images at this longer side, then '
                   'resize the result back to the input size')
    p.add_argument('--max-pixels', type=int, default=None,
                   help='refuse larger images, judged from the file header '
                   'before decoding (default: 36,000,000, e.g. 6000x6000)')
    p.add_argument('--side-by-side', action='store_true')
    p.add_argument('--overwrite', action='store_true',
                   help='replace existing outputs (default: skip them)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error('--batch-size must be >= 1')
    if args.max_side is not None and args.max_side < 1:
        p.error('--max-side must be >= 1')
    if args.max_pixels is not None and args.max_pixels < 1:
        p.error('--max-pixels must be >= 1')
    return args


def output_paths(out_dir: str, rel: str, side_by_side: bool) -> dict:
    stem = osp.splitext(rel)[0]
    paths = {
        'image': osp.join(out_dir, stem + '.png'),
        'mask': osp.join(out_dir, stem + '_mask.png')
    }
    if side_by_side:
        paths['side'] = osp.join(out_dir, stem + '_side.png')
    return paths


def main(argv=None) -> int:
    """The command; a ``UserError`` (e.g. a refused checkpoint) ends it with
    its message and status 2, as in the other tools."""
    from uagit_mm.errors import run_tool
    return run_tool(_main, argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    from tqdm import tqdm

    from ..fileio import save_png
    from . import (ImageReadError, find_images, init_model, read_rgb,
                   resolve_direction, translate_arrays)
    from .image_io import DEFAULT_MAX_PIXELS

    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    from PIL import Image
    if Image.MAX_IMAGE_PIXELS and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels  # ours is the limit that counts
    failed = []  # one message per file (or folder) that was not translated
    try:
        files = find_images(args.input, errors=failed)
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    target = resolve_direction(model, args.direction)
    source = model.other_domain(target)

    skipped, done = 0, 0
    todo = []
    for path, rel in files:
        outs = output_paths(args.out_dir, rel, args.side_by_side)
        if not args.overwrite and any(osp.exists(p) for p in outs.values()):
            skipped += 1
            continue
        todo.append((path, rel, outs))

    # read lazily in chunks, batching images of equal size
    bar = tqdm(total=len(todo), unit='img', disable=len(todo) < 2,
               desc=f'{source}->{target}')
    chunk = max(args.batch_size * 4, 16)
    for start in range(0, len(todo), chunk):
        groups = defaultdict(list)
        for path, rel, outs in todo[start:start + chunk]:
            try:
                img = read_rgb(path, max_pixels=max_pixels)
            except ImageReadError as err:
                failed.append(str(err))
                bar.update(1)
                continue
            groups[img.shape[:2]].append((img, path, outs))
        for items in groups.values():
            for b in range(0, len(items), args.batch_size):
                batch = items[b:b + args.batch_size]
                try:
                    results = translate_arrays(
                        model, [it[0] for it in batch], target,
                        max_side=args.max_side)
                except (RuntimeError, ValueError, MemoryError) as err:
                    # e.g. out of memory: report these, go on with the rest
                    reason = str(err).splitlines()[0] if str(err) else \
                        type(err).__name__
                    failed.extend(f'{it[1]}: {reason}' for it in batch)
                    if 'cuda' in str(args.device):
                        import torch
                        torch.cuda.empty_cache()
                    bar.update(len(batch))
                    continue
                for (img, path, outs), (fake, mask) in zip(batch, results):
                    save_png(outs['image'], fake)
                    save_png(outs['mask'], mask)
                    if 'side' in outs:
                        gray = np.repeat(mask[..., None], 3, axis=2)
                        save_png(outs['side'],
                                 np.concatenate([img, gray, fake], 1))
                    done += 1
                bar.update(len(batch))
    bar.close()
    print(f'{source} -> {target}: translated {done}, skipped {skipped} '
          f'existing (use --overwrite), failed {len(failed)}; outputs in '
          f'{args.out_dir}')
    for msg in failed:
        print(f'failed: {msg}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
