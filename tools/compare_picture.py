r"""One picture of test photographs translated by our model beside another
model: input | our mask | our translation | the other's translation.

    python tools/compare_picture.py data/horse2zebra64 \
        work_dirs/compare/uagit/<timestamp>/translations \
        work_dirs/compare/cyclegan/<timestamp>/translations \
        --domains horse zebra --out docs/horse2zebra64.png

The folders are tools/test.py's (``<src>2<tgt>/<name>.png``, our
``<name>_mask.png``); the images are the first ``--num`` of testA / testB
by name. Reads only PNGs, so it starts at once.
"""
import argparse
import os.path as osp
import sys
from glob import glob

_TOOLS = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, _TOOLS)
if osp.isfile(osp.join(_TOOLS, osp.pardir, 'uagit_mm', 'fileio.py')):
    sys.path.insert(0, osp.join(_TOOLS, osp.pardir))  # run from a checkout

from quickstart_report import _read_rgb, _source, grid  # noqa: E402


def rows(data: str, ours: str, other: str, domains, num: int) -> list:
    a, b = domains
    out = []
    for src, tgt, folder in ((a, b, 'testA'), (b, a, 'testB')):
        name = f'{src}2{tgt}'
        stems = sorted(
            osp.splitext(osp.basename(p))[0]
            for p in glob(osp.join(data, folder, '*')))[:num]
        quads = []
        for stem in stems:
            paths = (osp.join(ours, name, f'{stem}_mask.png'),
                     osp.join(ours, name, f'{stem}.png'),
                     osp.join(other, name, f'{stem}.png'))
            for path in paths:
                if not osp.isfile(path):
                    raise FileNotFoundError(f'{path} not found (is it '
                                            "tools/test.py's output?)")
            quads.append((_read_rgb(_source(data, folder, stem)),
                          *(_read_rgb(p) for p in paths)))
        out.append((name, quads))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument('data', help='dataset root (testA/, testB/)')
    parser.add_argument('ours', help='our translations folder')
    parser.add_argument('other', help="the other model's translations")
    parser.add_argument('--domains', nargs=2, required=True,
                        metavar=('A', 'B'))
    parser.add_argument('--other-name', default='CycleGAN')
    parser.add_argument('--num', type=int, default=4)
    parser.add_argument('--scale', type=int, default=2)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    from uagit_mm.fileio import save_png
    try:
        picture = grid(rows(args.data, args.ours, args.other, args.domains,
                            args.num), args.scale,
                       f'input | mask | ours | {args.other_name}')
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    save_png(args.out, picture)
    print(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
