from .config import enable_amp, load_config, set_data_root

__all__ = ['enable_amp', 'load_config', 'set_data_root']
