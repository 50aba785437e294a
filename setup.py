"""mmv3: MobileNetV3 backbones, LR-ASPP and SSDLite for the OpenMMLab toolboxes."""
import os.path as osp
import re

from setuptools import find_packages, setup

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
    zip_safe=False,
)
