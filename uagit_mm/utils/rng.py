"""The process's random number generators as plain tensors and builtins.

A checkpoint that carries these loads with ``torch.load(weights_only=True)``
(no numpy arrays, no tuples of custom types), so a resumed run can draw the
same random numbers as the run that was interrupted.
"""
import random
from typing import Dict

import numpy as np
import torch


def get_rng_state() -> Dict:
    """The states of Python's ``random``, numpy's global generator, torch's
    CPU generator and (when CUDA is in use) the current CUDA device's."""
    version, keys, gauss = random.getstate()
    kind, np_keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(
            version=int(version),
            keys=torch.tensor(keys, dtype=torch.int64),
            gauss=gauss),
        numpy=dict(
            kind=str(kind),
            keys=torch.from_numpy(np_keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Dict) -> None:
    """Restore what :func:`get_rng_state` returned."""
    py = state['python']
    random.setstate((py['version'], tuple(int(k) for k in py['keys']),
                     py['gauss']))
    npy = state['numpy']
    np.random.set_state(
        (npy['kind'], npy['keys'].numpy().astype(np.uint32), npy['pos'],
         npy['has_gauss'], npy['cached']))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())
