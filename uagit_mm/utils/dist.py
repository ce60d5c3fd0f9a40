"""Ending a distributed run cleanly.

mmengine initialises the process group and never destroys it. With gloo,
a rank that reaches the end of the script first closes its sockets while a
slower rank still has the group open; gloo's background thread on the
slower rank then meets a closed connection and the process aborts with
"terminate called without an active exception" (SIGABRT), and
``torch.distributed.run`` reports the whole run as failed although
training had finished and saved. Waiting for every rank and destroying the
group, as PyTorch's distributed documentation asks of a program, makes the
shutdown orderly for gloo and NCCL alike.
"""
import torch.distributed as dist


def close_distributed() -> None:
    """Barrier, then destroy the default process group; nothing when the
    run is not distributed."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        dist.barrier()
    finally:
        dist.destroy_process_group()
