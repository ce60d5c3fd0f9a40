# The quick-start run (README command 1): the CPU config cut to 300 iterations
# (under 2 minutes on 2 cores), phase 2 from iteration 180. Long enough to see
# both phases and masks start to form; the 2,500-iteration config is the one
# to judge by.
_base_ = ['./uagit_cpu_1xb1-2500iters_synthetic64.py']

max_iters = 300
model = dict(switch_iter=180)
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(_base_.param_scheduler[0], begin=max_iters // 2, end=max_iters)
]
default_hooks = dict(checkpoint=dict(interval=150))
