r"""Generate the synthetic unpaired two-domain dataset with object masks.

Examples:
    python tools/make_synthetic_dataset.py data/synthetic64 --size 64 \
        --num-train 400 --num-test 50
    python tools/make_synthetic_dataset.py data/synthetichue64 --kind hue
"""
import argparse
import importlib.util
import os
import sys
import time
from types import ModuleType

_MODULE_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, 'uagit_mm',
    'datasets', 'synthetic.py')


def load_synthetic() -> ModuleType:
    """Loads ``uagit_mm/datasets/synthetic.py`` by file path.

    The package ``__init__`` is skipped. Falls back to the installed package
    when the tool runs outside a checkout.
    """
    path = os.path.normpath(_MODULE_PATH)
    if not os.path.isfile(path):
        # installed package, tool copied elsewhere
        import uagit_mm.datasets.synthetic as module
        return module
    spec = importlib.util.spec_from_file_location('_uagit_mm_synthetic', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None) -> argparse.Namespace:
    # the first paragraph of the module docstring, on one line
    parser = argparse.ArgumentParser(
        description=' '.join(__doc__.split('\n\n')[0].split()))
    parser.add_argument(
        'out_dir',
        help='destination folder (trainA, trainB, testA, testB, valA, valB '
        'and *_mask inside)')
    parser.add_argument(
        '--size',
        type=int,
        default=64,
        help='image side length in pixels (>= 32)')
    parser.add_argument(
        '--num-train', type=int, default=400, help='train images per domain')
    parser.add_argument(
        '--num-test', type=int, default=50, help='test images per domain')
    parser.add_argument(
        '--num-val',
        type=int,
        default=None,
        help='validation images per domain (valA, valB; default: as many as '
        '--num-test), drawn apart from train and test')
    parser.add_argument(
        '--seed', type=int, default=0, help='base random seed (>= 0)')
    parser.add_argument(
        '--kind',
        choices=('texture', 'hue'),
        default='texture',
        help="'texture': smooth vs striped objects (the default); 'hue': "
        'red-orange vs violet objects that differ only in colour, with '
        'distractors in other colours')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an existing, different out_dir')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    synthetic = load_synthetic()
    start = time.perf_counter()
    try:
        counts = synthetic.generate_dataset(
            args.out_dir,
            size=args.size,
            num_train=args.num_train,
            num_test=args.num_test,
            num_val=args.num_val,
            seed=args.seed,
            overwrite=args.overwrite,
            kind=args.kind)
    except (ValueError, FileExistsError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    images = sum(n for folder, n in counts.items()
                 if not folder.endswith('_mask'))
    masks = sum(n for folder, n in counts.items() if folder.endswith('_mask'))
    print(
        f'{os.path.abspath(args.out_dir)}: {images} images and {masks} '
        f'masks at {args.size}x{args.size}, kind {args.kind} '
        f'({", ".join(f"{k}={v}" for k, v in counts.items())}) '
        f'in {time.perf_counter() - start:.1f}s'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
