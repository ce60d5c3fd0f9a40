# Ablation "Ours-D" of the paper: the discriminators always see whole images
# and the attention networks train throughout (no phase 2).
_base_ = ['./uagit_horse2zebra.py']

model = dict(switch_epoch=None)
