from .config import enable_amp, load_config, native_bf16, set_data_root
from .dist import close_distributed
from .model import unwrap_model
from .rng import get_rng_state, set_rng_state

__all__ = [
    'close_distributed', 'enable_amp', 'get_rng_state', 'load_config',
    'native_bf16', 'set_data_root', 'set_rng_state', 'unwrap_model'
]
