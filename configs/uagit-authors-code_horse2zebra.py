# uagit_horse2zebra.py with two details of the authors' public TensorFlow
# code that differ from the paper (docs: the method's notes): the generator
# gets the full image s instead of the attended foreground a * s, and the
# attention network's convs after each upsampling and its output conv are
# 1x1 (an argument mix-up in that code; the paper's intent is 3x3). That code
# produced the paper's numbers. Everything else as in the paper config.
_base_ = ['./uagit_horse2zebra.py']

model = dict(generator_input='full', attention=dict(up_kernel_size=1))
