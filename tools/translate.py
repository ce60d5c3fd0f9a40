"""Translate an image or a folder of images with a trained model.

    python tools/translate.py CONFIG CHECKPOINT INPUT --out-dir OUT
        [--direction a2b|b2a] [--batch-size 4] [--device cpu]
        [--dtype fp32|bf16] [--max-side N] [--max-pixels N] [--max-memory GIB]
        [--mask-threshold T] [--mask-dir DIR] [--invert-mask]
        [--mask-dilate N] [--side-by-side] [--overwrite] [--workers 2]
        [--cfg-options ...]

The command lives in uagit_mm.apis.translate_cli (installed as the console
script ``uagit-translate``); see its help for details.
"""
import sys

from uagit_mm.apis.translate_cli import main

if __name__ == '__main__':
    sys.exit(main())
