# mmagic's CycleGAN under the same conditions as
# uagit_cpu_1xb1-3000iters_horse2zebra64.py, for tools/compare.py --set
# horse2zebra: same data, schedule and evaluation, and the networks, losses
# and optimizer of cyclegan_cpu_1xb1-2500iters_synthetic64.py (ngf 32, 3
# blocks, base-32 discriminator, LSGAN, cycle weight 10, no identity loss).
# Only the attention is missing.
from mmengine.config import Config  # noqa: E402

_base_ = ['./uagit_cpu_1xb1-3000iters_horse2zebra64.py']

_cyclegan = Config.fromfile(
    '{{ fileDirname }}/cyclegan_cpu_1xb1-2500iters_synthetic64.py')
model = dict(
    _cyclegan.model.to_dict(),
    _delete_=True,
    data_preprocessor=dict(
        type='DataPreprocessor', data_keys=['img_horse', 'img_zebra']),
    default_domain='zebra',
    reachable_domains=['horse', 'zebra'],
    related_domains=['horse', 'zebra'])
optim_wrapper = dict(_cyclegan.optim_wrapper.to_dict(), _delete_=True)
# the attention hooks have nothing to show for a model without attention
custom_hooks = _cyclegan.custom_hooks
# no attention, so no mask IoU to keep the best checkpoint by
default_hooks = dict(checkpoint=dict(save_best=None))
del _cyclegan, Config
