"""mmv3: MobileNetV3 backbones, LR-ASPP and SSDLite for the OpenMMLab toolboxes."""
import os
import os.path as osp
import re
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    with open(osp.join(HERE, 'mmv3', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname):
    """Requirement lines of ``requirements/<fname>``, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, 'requirements', fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(line[3:].strip())
            else:
                reqs.append(line)
    return reqs


# What OpenMMLab's `mim` reads from an installed package: <package>/.mim/{configs,tools,model-index.yml}
# (`mim search` parses model-index.yml, `mim train/test` run .mim/tools/{train,test}.py and look configs up
# under .mim/configs). As with mmsegmentation's / mmpretrain's add_mim_extension(): symlinks into the checkout
# for an editable install (mmv3/.mim/ is git-ignored), copies for a wheel (made in the build directory here,
# so a wheel build leaves the checkout alone).
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def _copy(src, dst):
    if osp.isdir(src):
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'), dirs_exist_ok=True)
    else:
        shutil.copyfile(src, dst)


def add_mim_symlinks():
    """``pip install -e .`` (PEP 660 ``editable_wheel``, or legacy ``develop``): mmv3/.mim/* -> the checkout's."""
    if 'develop' not in sys.argv and 'editable_wheel' not in sys.argv:
        return
    mim_path = osp.join(HERE, 'mmv3', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src, tar = osp.join(HERE, name), osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.islink(tar) or osp.isfile(tar):
            os.remove(tar)
        elif osp.isdir(tar):
            shutil.rmtree(tar)
        try:
            os.symlink(osp.relpath(src, mim_path), tar)
        except OSError:  # no symlinks (e.g. Windows without the privilege): copies, refreshed at each install
            _copy(src, tar)


class BuildPyWithMim(build_py):
    """``build_py`` that also puts copies of configs/, tools/ and model-index.yml into the wheel's mmv3/.mim/."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return  # editable installs read the checkout through add_mim_symlinks()
        mim_path = osp.join(self.build_lib, 'mmv3', '.mim')
        for name in MIM_FILES:
            src = osp.join(HERE, name)
            if not osp.exists(src):
                continue
            tar = osp.join(mim_path, name)
            if osp.isdir(tar):
                shutil.rmtree(tar)
            os.makedirs(mim_path, exist_ok=True)
            _copy(src, tar)


add_mim_symlinks()
setup(
    name='mmv3',
    version=get_version(),
    description='Searching for MobileNetV3: backbones, LR-ASPP and SSDLite as OpenMMLab modules',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.8',
    # torch and mmcv (with ops) are installed by tools/install.sh, because mmcv must be
    # compiled against the installed torch; they are not pulled in automatically here.
    install_requires=parse_requirements('runtime.txt') + [
        r for r in parse_requirements('mminstall.txt') if not r.startswith('mmcv')],
    extras_require={
        'tests': parse_requirements('tests.txt'),
        'optional': parse_requirements('optional.txt'),
    },
    license='Apache License 2.0',
    cmdclass={'build_py': BuildPyWithMim},
    zip_safe=False,
)
