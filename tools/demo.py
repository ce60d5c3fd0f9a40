"""Serve the local web demo: translate images in the browser and see the
attention mask.

    python tools/demo.py CONFIG CHECKPOINT [--port 7860] [--host 127.0.0.1]
        [--device cpu] [--max-side 1024] [--max-pixels N] [--examples DIR]
        [--cfg-options ...]

Needs the optional extra: pip install -e ".[demo]". The page and its
callback live in uagit_mm.apis.demo (installed as the console script
``uagit-demo``); see its help for details.
"""
import sys

from uagit_mm.apis.demo import main

if __name__ == '__main__':
    sys.exit(main())
