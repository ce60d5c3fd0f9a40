# Runtime shared by all uagit_mm configs: mmagic's GAN runtime (default_scope
# 'mmagic', MMSeparateDistributedDataParallel, MultiOptimWrapperConstructor)
# plus the plugin's registration and hooks.
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['uagit_mm'], allow_failed_imports=False)

# mmengine's Runner that loads checkpoints with weights_only=True and resumes
# from the newest intact checkpoint (uagit_mm/engine/runner.py); the scope
# prefix lets mmengine's RUNNERS.build find it in mmagic's registry
runner_type = 'mmagic.UAGITRunner'

# mmengine's CheckpointHook writing atomically, loadable with
# torch.load(weights_only=True), with every process's random generators and
# image pools, so that --resume continues as if the run had not stopped
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))

custom_hooks = [
    # tools/test.py writes every translation and attention mask
    dict(type='TranslationOutputHook'),
    # input | attention | translated | reconstruction grids, both directions
    dict(type='AttentionVisualizationHook', interval=1000, num_samples=4),
    # a warning when a mask stays near all-zero or all-one
    dict(type='AttentionCollapseHook', patience=500, low=0.02, high=0.98),
    # stops before training/testing when dataset and model name different
    # domains or the phase switch lies past the end of training
    dict(type='RunCheckHook'),
]

# Grids and scalars go to <log_dir>/vis_data (mmagic's VisBackend, with PNGs
# written atomically and write errors raised: uagit_mm/visualization); also to
# TensorBoard when it is installed.
vis_backends = [dict(type='AtomicVisBackend')]
try:
    import tensorboard  # noqa: F401
    vis_backends.append(dict(type='TensorboardVisBackend'))
except ImportError:
    pass
visualizer = dict(type='Visualizer', vis_backends=vis_backends)

# No evaluation during training (FID/KID configs come with the evaluation
# tools); tools/test.py writes translations and attention masks.
val_dataloader = None
val_cfg = None
val_evaluator = None
test_cfg = dict(_delete_=True, type='TestLoop')
# mmengine's TestLoop needs mmengine's Evaluator (mmagic's has another
# process() signature, for its MultiTestLoop).
test_evaluator = dict(_delete_=True, type='mmengine.Evaluator', metrics=[])
