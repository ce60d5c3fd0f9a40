"""The one place that looks through a model wrapper."""
from mmengine.model import is_model_wrapper


def unwrap_model(model):
    """The model inside a DDP/MMSeparateDistributedDataParallel wrapper
    (``runner.model`` in a distributed run), or ``model`` itself."""
    return model.module if is_model_wrapper(model) else model
