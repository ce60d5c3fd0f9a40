"""Make a release checkpoint: weights for inference only, named by hash.

    python tools/publish_model.py work_dirs/run/iter_2500.pth uagit_synth.pth
    -> uagit_synth-1a2b3c4d.pth   (first 8 hex digits of its sha256)

Keeps the generator and attention weights and small string metadata (the
config text, versions); drops the discriminators, optimizer state, schedulers
and the message hub. The result loads with torch.load(weights_only=True).
The input itself is loaded that way too; for an older checkpoint that needs
full unpickling, pass --trust-input once for a file you made yourself.
"""
import argparse
import hashlib
import io
import os.path as osp
import sys

import torch


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('in_file', help='training checkpoint')
    p.add_argument('out_file', help='output name; the hash is appended')
    p.add_argument('--keep-discriminators', action='store_true',
                   help='also keep the discriminator weights (for '
                   'fine-tuning)')
    p.add_argument('--trust-input', action='store_true',
                   help='allow full unpickling of IN (only for your own '
                   'files: unpickling can run code)')
    return p.parse_args(argv)


def publish(in_file: str, out_file: str, keep_discriminators: bool = False,
            trust_input: bool = False) -> str:
    """Write the slim checkpoint; return its final path."""
    from uagit_mm.checkpoint import load_from_local, trusted_loading
    if trust_input:
        with trusted_loading('--trust-input was given'):
            ckpt = load_from_local(in_file, map_location='cpu')
    else:
        ckpt = load_from_local(in_file, map_location='cpu')
    weights = ckpt.get('state_dict', ckpt)
    if not isinstance(weights, dict) or not weights:
        raise ValueError(f'{in_file} holds no state_dict')
    weights = {
        k: v.detach().clone()
        for k, v in weights.items() if isinstance(v, torch.Tensor) and (
            keep_discriminators or not k.startswith('discriminators.'))
    }
    meta = {}
    for key in ('cfg', 'mmengine_version', 'experiment_name', 'iter',
                'epoch'):
        value = ckpt.get('meta', {}).get(key)
        if isinstance(value, (str, int, float)):
            meta[key] = value
    import uagit_mm
    meta['uagit_mm_version'] = uagit_mm.__version__

    root, ext = osp.splitext(out_file)
    buf = io.BytesIO()
    torch.save({'state_dict': weights, 'meta': meta}, buf)
    data = buf.getvalue()
    final = f'{root}-{hashlib.sha256(data).hexdigest()[:8]}{ext or ".pth"}'
    from uagit_mm.fileio import atomic_backend
    atomic_backend().put(data, final)
    return final


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file,
                        args.keep_discriminators, args.trust_input)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'published {final}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
