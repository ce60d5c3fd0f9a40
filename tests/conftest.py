"""Apply uagit_mm's compatibility fixes before any test module imports
mmagic (on this stack mmagic cannot be imported without them)."""
import uagit_mm  # noqa: F401
