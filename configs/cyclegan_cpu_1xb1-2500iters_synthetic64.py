# mmagic's CycleGAN under the same conditions as
# uagit_cpu_1xb1-2500iters_synthetic64.py, for tools/compare.py: same data,
# generator (ngf 32, 3 blocks), discriminator (base 32), LSGAN, cycle weight
# 10, no identity loss, optimizer and schedule. Only the attention is
# missing.
_base_ = ['./uagit_cpu_1xb1-2500iters_synthetic64.py']

model = dict(
    _delete_=True,
    type='CycleGAN',
    data_preprocessor=dict(
        type='DataPreprocessor', data_keys=['img_smooth', 'img_striped']),
    generator=dict(
        type='ResnetGenerator',
        in_channels=3,
        out_channels=3,
        base_channels=32,
        norm_cfg=dict(type='IN'),
        use_dropout=False,
        num_blocks=3,
        padding_mode='reflect',
        init_cfg=dict(type='normal', gain=0.02)),
    discriminator=dict(
        type='PatchDiscriminator',
        in_channels=3,
        base_channels=32,
        num_conv=3,
        norm_cfg=dict(type='IN'),
        init_cfg=dict(type='normal', gain=0.02)),
    loss_config=dict(cycle_loss_weight=10.0, id_loss_weight=0.0),
    default_domain='striped',
    reachable_domains=['smooth', 'striped'],
    related_domains=['smooth', 'striped'])

optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    generators=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))),
    discriminators=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))))

# the attention hooks have nothing to show for a model without attention
custom_hooks = [
    dict(type='TranslationOutputHook'),
    dict(type='RunCheckHook'),
]
# no attention, so no mask IoU to keep the best checkpoint by (the inherited
# save_best='attn/mean/mask_iou' stopped the run at its first validation)
default_hooks = dict(checkpoint=dict(save_best=None))
