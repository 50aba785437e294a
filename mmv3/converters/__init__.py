"""Checkpoint converters: other frameworks' trained MobileNetV3 models -> mmv3 configs + weights.

One module per source; the CLIs in ``tools/model_converters/`` are thin wrappers.
"""
from .common import ConversionError, TrackedStateDict
from .keras import convert_keras
from .torchvision_dense import LRASPP_CONFIG, convert_lraspp, convert_ssdlite

__all__ = ['ConversionError', 'TrackedStateDict', 'LRASPP_CONFIG', 'convert_lraspp', 'convert_ssdlite', 'convert_keras']
