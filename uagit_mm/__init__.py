"""uagit_mm: attention-guided unpaired image-to-image translation for mmagic.

Importing the package applies the compatibility fixes (before mmagic is
imported) and registers the models, datasets and hooks into mmagic's
registries.
"""
# isort: skip_file  (compat must run before mmagic is imported)
from .quiet import quiet_imports  # standard library only

# the deprecation and registry warnings of mmagic's dependencies, only
# while they are imported (uagit_mm.quiet)
with quiet_imports():
    from . import compat  # noqa: F401  (must come before any mmagic import)

    import mmagic.models  # noqa: E402,F401

    compat.apply_after_mmagic()

    from . import (datasets, engine, evaluation, models,  # noqa: E402,F401
                   visualization)
    from . import apis  # noqa: E402,F401  (after the registrations it uses)

__version__ = '0.1.0'
__all__ = [
    '__version__', 'apis', 'datasets', 'engine', 'evaluation', 'models',
    'visualization'
]
