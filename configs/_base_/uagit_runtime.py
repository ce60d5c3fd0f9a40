# Runtime shared by all uagit_mm configs: mmagic's GAN runtime (default_scope
# 'mmagic', MMSeparateDistributedDataParallel, MultiOptimWrapperConstructor)
# plus the plugin's registration and hooks.
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['uagit_mm'], allow_failed_imports=False)

custom_hooks = [
    # checkpoints loadable with torch.load(weights_only=True)
    dict(type='SafeCheckpointHook'),
    # tools/test.py writes every translation and attention mask
    dict(type='TranslationOutputHook'),
]

# No evaluation during training (FID/KID configs come with the evaluation
# tools); tools/test.py writes translations and attention masks.
val_dataloader = None
val_cfg = None
val_evaluator = None
test_cfg = dict(_delete_=True, type='TestLoop')
# mmengine's TestLoop needs mmengine's Evaluator (mmagic's has another
# process() signature, for its MultiTestLoop).
test_evaluator = dict(_delete_=True, type='mmengine.Evaluator', metrics=[])
