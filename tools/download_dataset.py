"""Get a CycleGAN dataset (horse2zebra, apple2orange) into the layout the
configs read, optionally resized and with reference masks.

    python tools/download_dataset.py horse2zebra                # download
    python tools/download_dataset.py horse2zebra --from-zip horse2zebra.zip
    python tools/download_dataset.py horse2zebra --from-zip h2z.zip \\
        --size 64 --masks-zip horse2zebra_masks.zip --out data/horse2zebra64

See ``uagit_mm.datasets.prepare`` for what each option does.
"""
import argparse
import sys

from uagit_mm.datasets.prepare import DATASETS, prepare_dataset
from uagit_mm.errors import UserError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Download (or take from a zip / folder) a CycleGAN '
        'dataset, check its layout and write it where the configs read it.')
    parser.add_argument('name', choices=sorted(DATASETS))
    src = parser.add_mutually_exclusive_group()
    src.add_argument('--from-zip', metavar='PATH',
                     help='the official zip, already downloaded')
    src.add_argument('--from-dir', metavar='PATH',
                     help='a folder with trainA, trainB, testA, testB')
    parser.add_argument('--out', metavar='DIR',
                        help='where to write it (default data/NAME, or '
                        'data/NAMEN with --size N)')
    parser.add_argument('--size', type=int, metavar='N',
                        help='resize every image to NxN (area filter) for '
                        'CPU-scale runs')
    parser.add_argument('--masks-zip', metavar='PATH',
                        help='reference masks (<split>_mask/<stem>.png) of '
                        'the training images')
    parser.add_argument('--num-val', type=int, default=100, metavar='K',
                        help='training images per domain held out into '
                        'valA/valB for validation (with --masks-zip: among '
                        'those with a mask, for the mask figures; default '
                        '100, 0: none)')
    parser.add_argument('--seed', type=int, default=0,
                        help='which images are held out (default 0)')
    parser.add_argument('--color-profiles', choices=['ignore', 'convert'],
                        default='ignore',
                        help='with --size: ignore embedded ICC profiles '
                        '(pixels as stored, as the official loaders and '
                        'published FID/KID read them; default) or convert '
                        'to sRGB')
    parser.add_argument('--force', action='store_true',
                        help='replace an existing output folder')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        out = prepare_dataset(
            args.name, out=args.out, from_zip=args.from_zip,
            from_dir=args.from_dir, size=args.size,
            masks_zip=args.masks_zip, num_val=args.num_val, seed=args.seed,
            force=args.force, color_profiles=args.color_profiles,
            log=print)
    except UserError as err:
        print(f'download_dataset: {err}', file=sys.stderr)
        return 2
    print(f'{args.name}: ready in {out} '
          f'(--cfg-options data_root={out})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
