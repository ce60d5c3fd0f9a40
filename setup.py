"""Install uagit_mm (the requirements are installed by tools/install.sh)."""
import os.path as osp
import re
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def version():
    with open(osp.join(HERE, 'uagit_mm', '__init__.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def requirements(name):
    path = osp.join(HERE, 'requirements', name)
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


setup(
    name='uagit_mm',
    version=version(),
    description='Attention-guided unpaired image-to-image translation '
    '(Mejjati et al., NeurIPS 2018) as an mmagic plugin',
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['uagit_mm', 'uagit_mm.*']),
    python_requires='>=3.9',
    # mmagic is installed without its own dependency list, and mmcv may be
    # mmcv-lite or a full build, so neither is declared here; the pinned
    # stack lives in requirements/ and tools/install.sh installs it.
    install_requires=requirements('runtime.txt'),
    extras_require={
        'tests': requirements('tests.txt'),
        'deploy': requirements('deploy.txt'),  # ONNX export and runtime
        'demo': requirements('demo.txt')  # the web demo (Gradio)
    },
    entry_points={
        'console_scripts':
        ['uagit-translate=uagit_mm.apis.translate_cli:main',
         'uagit-demo=uagit_mm.apis.demo:main']
    },
    license='Apache-2.0',
    zip_safe=False)
