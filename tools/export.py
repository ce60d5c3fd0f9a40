"""Export a trained model for deployment: one file per direction.

    python tools/export.py CONFIG CHECKPOINT --out-dir DIR
        [--format onnx torchscript] [--direction a2b b2a] [--cfg-options ...]

Writes DIR/<source>2<target>.onnx (run by onnxruntime) and/or .pt
(TorchScript), each holding the attention network, the generator and the
composition, with the padding to the generator's size divisor inside: input
an RGB image (N, 3, H, W) in [0, 1] of any size (plus ``mask`` and
``mask_weight``), outputs ``translation`` and ``mask_used``. Every file is
checked against PyTorch at three sizes (one odd) before it is put in place;
the exit code is 1 if any differs by more than --tolerance. Run an exported
file with tools/translate.py CONFIG DIR/<name>.onnx INPUT --out-dir OUT.
ONNX needs the optional packages: pip install -e .[deploy]
"""
import argparse
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Export a uagit_mm model')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--format', nargs='+', default=['onnx'],
                   choices=['onnx', 'torchscript'])
    p.add_argument('--direction', nargs='+', default=['a2b', 'b2a'],
                   choices=['a2b', 'b2a'],
                   help="a = the config's first domain, b = the second")
    p.add_argument('--tolerance', type=float, default=1e-3,
                   help='largest allowed difference to PyTorch, in the '
                   "model's normalised units ([-1, 1])")
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    return p.parse_args(argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    from uagit_mm.quiet import quiet_tool
    quiet_tool()  # mmagic's dependencies' import warnings, mmcv's conv bias
    from uagit_mm.apis import init_model, resolve_direction
    from uagit_mm.apis.export import ParityError, export_model

    model = init_model(args.config, args.checkpoint, device='cpu',
                       cfg_options=args.cfg_options)
    targets = list(dict.fromkeys(
        resolve_direction(model, d) for d in args.direction))
    try:
        written = export_model(model, args.out_dir, args.format, targets,
                               tolerance=args.tolerance)
    except ParityError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'exported {len(written)} file(s) to {args.out_dir}')
    return 0


def main(argv=None) -> int:
    from uagit_mm.errors import run_tool
    return run_tool(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
