"""mmv3: the models of *Searching for MobileNetV3* as OpenMMLab modules.

``custom_imports=dict(imports=['mmv3'])`` in any mmdet / mmseg / mmpretrain config registers
mmv3's modules under the ``mmv3.`` scope (e.g. ``type='mmv3.MobileNetV3'``).
"""
from .version import __version__
from . import datasets, engine, models  # noqa: F401,E402  (registers the modules)

__all__ = ['__version__']
