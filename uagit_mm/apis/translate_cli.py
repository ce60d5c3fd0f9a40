"""Translate an image or a folder of images with a trained model.

    python tools/translate.py CONFIG CHECKPOINT INPUT --out-dir OUT
    (or, once installed: uagit-translate CONFIG CHECKPOINT INPUT ...)
        [--direction a2b|b2a] [--batch-size 4] [--device cpu]
        [--max-side 1024] [--max-pixels N] [--max-memory GIB]
        [--mask-threshold T] [--mask-dir DIR] [--invert-mask]
        [--mask-dilate N] [--side-by-side] [--overwrite] [--workers 2]
        [--cfg-options ...]

Writes OUT/<relative path>/<stem>.png (translation) and <stem>_mask.png
(the mask the composition used, 8-bit, 255 = translated); with
--side-by-side also <stem>_side.png (input | mask | translation). Inputs
whose outputs would share a name with another input's (a.jpg and a.png)
keep their suffix in the name: a_jpg.png, a_jpg_mask.png and a_png.png,
a_png_mask.png. An input is skipped only when all of its own outputs
exist (unless --overwrite). Photos come out upright (EXIF orientation);
embedded colour profiles are converted to sRGB or ignored as the config's
loading transform does (LoadPhotoFromFile's color_profiles).
Unreadable, broken or too large files (and unlistable folders) are
reported and skipped, the others translated; the exit code is 1 when any
failed. An image that would need more memory than there is (or than
--max-memory) at the working size is translated at the largest working
size that fits, judged before decoding and said in one line (the
untranslated pixels stay the photo's own, at full resolution); only one
that fits at no working size is refused. Outputs are written under a
temporary name and renamed, so no partial file is left.
"""
import argparse
import os
import os.path as osp
import sys
import time
from collections import defaultdict
from typing import Dict, List, Tuple

from mmengine.config import DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Translate images with a uagit_mm model')
    p.add_argument('config')
    p.add_argument('checkpoint', help='a checkpoint, or a file written by '
                   'tools/export.py (.onnx, TorchScript .pt)')
    p.add_argument('input', help='an image file or a folder (recursive)')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--direction', choices=['a2b', 'b2a'], default=None,
                   help="a = the config's first domain, b = the second "
                   '(default: into the default domain, b)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', choices=['fp32', 'bf16'], default='fp32',
                   help='bf16: the networks under bfloat16 autocast (1.6-1.8x '
                   'the images/s at 256x256 on CPUs with AVX512-BF16, '
                   'results 0.05-0.22/255 from fp32 on average on the '
                   'built-in test set, docs/results.md); checkpoints only')
    p.add_argument('--max-side', type=int, default=1024,
                   help='run the networks on larger images at this longer '
                   "side (default 1024, as the demo; 0: the image's own "
                   'size); their output and mask are scaled up and composed '
                   "with the full-size input, so what is not translated "
                   "keeps the input's pixels")
    p.add_argument('--max-pixels', type=int, default=None,
                   help='refuse larger images, judged from the file header '
                   'before decoding (default: 36,000,000, e.g. 6000x6000)')
    p.add_argument('--max-memory', type=float, default=None,
                   metavar='GIB', help='memory the process may use, in GiB '
                   '(default: what it uses plus what the system has, or '
                   'its container allows); an image that would need more is '
                   'translated at the largest working size that fits, '
                   'judged before decoding')
    m = p.add_argument_group(
        'mask control', 'compose with another mask than the attention '
        "network's: translation = m * G(x) + (1 - m) * x")
    m.add_argument('--mask-threshold', type=float, default=None,
                   metavar='T', help='binarise the mask: [m > T]')
    m.add_argument('--mask-dir', default=None, metavar='DIR',
                   help="the user's masks instead of the attention: "
                   'DIR/<same relative path>, any image suffix, any size '
                   '(resized to the image); white = translate')
    m.add_argument('--invert-mask', action='store_true',
                   help='translate the complement (the background) instead')
    m.add_argument('--mask-dilate', type=int, default=0, metavar='N',
                   help='grow the mask by N pixels (after the threshold)')
    p.add_argument('--side-by-side', action='store_true')
    p.add_argument('--overwrite', action='store_true',
                   help='replace existing outputs (default: skip inputs '
                   'whose outputs all exist)')
    p.add_argument('--workers', type=int, default=2,
                   help='threads that read and threads that write images, '
                   'beside the forward pass')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    args = p.parse_args(argv)
    for flag in ('batch_size', 'max_pixels', 'workers'):
        value = getattr(args, flag)
        if value is not None and value < 1:
            p.error(f'--{flag.replace("_", "-")} must be >= 1')
    if args.max_side < 0:
        p.error('--max-side must be >= 0 (0: full resolution)')
    args.max_side = args.max_side or None
    if args.max_memory is not None and not args.max_memory > 0:
        p.error('--max-memory must be > 0 (GiB)')
    if args.mask_dir is not None and not osp.isdir(args.mask_dir):
        p.error(f'--mask-dir {args.mask_dir} is not a folder')
    from .mask_control import MaskOptions
    try:
        args.mask_options = MaskOptions(args.mask_threshold,
                                        args.invert_mask, args.mask_dilate)
    except ValueError as err:
        p.error(str(err))
    return args


def output_names(rel: str, keep_suffix: bool = False) -> Dict[str, str]:
    """The outputs of input ``rel``, relative to the output folder:
    ``<stem>.png``, ``<stem>_mask.png``, ``<stem>_side.png``, or with
    ``keep_suffix`` ``<stem>_<suffix>.png`` ... (``a.jpg`` ->
    ``a_jpg.png``)."""
    stem, suffix = osp.splitext(rel)
    if keep_suffix and suffix:
        stem = f'{stem}_{suffix[1:]}'
    return {'image': stem + '.png', 'mask': stem + '_mask.png',
            'side': stem + '_side.png'}


def plan_outputs(rels: List[str]) -> Dict[str, Dict[str, str]]:
    """Output names for all inputs, each used by one input only.

    Inputs keep the short names of :func:`output_names` unless one of their
    names is also another input's; those keep their suffix. That can make
    new clashes with short names (``a_jpg.png`` the input), so this repeats
    until there are none; names with suffixes never clash with each other
    (a suffix holds no ``_``, so ``<stem>_<suffix>`` gives back both).
    """
    keep = set()
    while True:
        names = {r: output_names(r, r in keep) for r in rels}
        users = defaultdict(set)
        for rel, outs in names.items():
            for name in outs.values():
                users[name].add(rel)
        clash = {r for rs in users.values() if len(rs) > 1 for r in rs}
        if not clash - keep:
            return names
        keep |= clash


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def main(argv=None) -> int:
    """The command; a ``UserError`` (e.g. a refused checkpoint) ends it with
    its message and status 2, as in the other tools."""
    from uagit_mm.errors import run_tool
    return run_tool(_main, argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    from ..quiet import quiet_tool
    quiet_tool()  # the host's warnings when the model is built
    from tqdm import tqdm

    from . import find_images, resolve_direction
    from .exported import load_translator
    from .image_io import DEFAULT_MAX_PIXELS, config_color_profiles
    from .memory import GiB, MemoryPlanner
    from .pipeline import translate_files

    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    from PIL import Image
    if Image.MAX_IMAGE_PIXELS and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels  # ours is the limit that counts
    if osp.isdir(args.input) and \
            osp.realpath(args.input) == osp.realpath(args.out_dir):
        print(f'error: --out-dir {args.out_dir} is the input folder; '
              'choose another (a folder inside it is fine)',
              file=sys.stderr)
        return 2
    failed = []  # one message per file (or folder) that was not translated
    try:
        files = find_images(args.input, errors=failed)
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if osp.isdir(args.input) and _inside(args.out_dir, args.input):
        # never our own outputs of an earlier run
        files = [(p, r) for p, r in files if not _inside(p, args.out_dir)]
    jobs, skipped, kept = _plan_jobs(files, args, failed)
    # a checkpoint, or a file of tools/export.py (ONNX, TorchScript)
    model = load_translator(args.config, args.checkpoint, device=args.device,
                            cfg_options=args.cfg_options)
    from torch.nn import Module
    if args.dtype != 'fp32' and not isinstance(model, Module):
        print(f'error: --dtype {args.dtype} needs a checkpoint; '
              f'{args.checkpoint} is an exported file (run it in fp32)',
              file=sys.stderr)
        return 2
    target = resolve_direction(model, args.direction)
    source = model.other_domain(target)
    budget = None if args.max_memory is None else int(args.max_memory * GiB)
    planner = MemoryPlanner(model, target, budget, args.max_side)

    bar = tqdm(total=len(jobs), unit='img', disable=len(jobs) < 2,
               desc=f'{source}->{target}')

    def on_error(err: BaseException) -> None:
        if 'cuda' in str(args.device):
            import torch
            torch.cuda.empty_cache()

    start = time.perf_counter()
    outcome = translate_files(
        model, jobs, target, batch_size=args.batch_size,
        max_side=args.max_side, max_pixels=max_pixels,
        mask_options=args.mask_options, dtype=args.dtype, planner=planner,
        workers=args.workers, on_progress=bar.update, on_error=on_error,
        # read as the config reads its training images
        color_profiles=config_color_profiles(getattr(model, 'cfg', None)))
    seconds = time.perf_counter() - start
    bar.close()
    failed += outcome.failed
    for note in outcome.notes:
        print(f'note: {note}')
    rate = f' ({outcome.done / seconds:.2f} images/s)' \
        if outcome.done and seconds > 0 else ''
    print(f'{source} -> {target}: translated {outcome.done} in '
          f'{seconds:.1f} s{rate}, skipped {skipped} existing (use '
          f'--overwrite), failed {len(failed)}; outputs in {args.out_dir}')
    if kept:
        print(f'{kept} inputs share a name with another input; their '
              'outputs keep the suffix (a.jpg -> a_jpg.png)')
    for msg in failed:
        print(f'failed: {msg}', file=sys.stderr)
    return 1 if failed else 0


def _plan_jobs(files: List[Tuple[str, str]], args,
               failed: List[str]) -> Tuple[list, int, int]:
    """The jobs to run, the number of inputs skipped (all their outputs
    exist) and of inputs whose outputs keep their suffix; inputs without a
    mask in --mask-dir go to ``failed``."""
    from .mask_control import find_mask
    from .pipeline import Job

    names = plan_outputs([rel for _, rel in files])
    jobs, skipped = [], 0
    for path, rel in files:
        outs = {k: osp.join(args.out_dir, v) for k, v in names[rel].items()
                if k != 'side' or args.side_by_side}
        if not args.overwrite and all(osp.exists(p) for p in outs.values()):
            skipped += 1
            continue
        mask = None
        if args.mask_dir is not None:
            mask = find_mask(args.mask_dir, rel)
            if mask is None:
                failed.append(f'{path}: no mask {osp.splitext(rel)[0]}.* in '
                              f'--mask-dir {args.mask_dir}')
                continue
        jobs.append(Job(path, outs, mask))
    kept = sum(names[rel] != output_names(rel) for _, rel in files)
    return jobs, skipped, kept


if __name__ == '__main__':
    sys.exit(main())
