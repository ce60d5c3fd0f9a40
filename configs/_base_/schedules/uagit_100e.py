_base_ = ['../uagit_runtime.py']

# The paper's schedule: 100 epochs (an epoch = the larger training domain),
# Adam lr 1e-4 for 50 epochs, then linear decay to 0 over the last 50.
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=100)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=50,
        end=100,
        convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=True),
    checkpoint=dict(
        interval=5, by_epoch=True, max_keep_ckpts=5))
log_processor = dict(type='LogProcessor', by_epoch=True)

# Adam as in the paper. Every sub-optimizer has an explicit type so that
# `tools/train.py --amp`
# can switch it to AmpOptimWrapper. The attention networks share the
# generators' optimizer (they train through the same loss).
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generators=dict(
        type='OptimWrapper',
        modules=['generators', 'attentions'],
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
    discriminators=dict(
        type='OptimWrapper',
        modules='discriminators',
        optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))))
