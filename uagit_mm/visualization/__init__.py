from .vis_backend import AtomicVisBackend

__all__ = ['AtomicVisBackend']
