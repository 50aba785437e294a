from .arch_tables import ARCHS, ArchSpec, Layer
from .base_mobilenet import (LayerPlan, MobileNet, build_layer, dilate, halve_last_stage, override_widths,
                             place_hswish, plan_layers, residual_groups, transform_rows)
from .mnasnet import MnasNet
from .mobilenet_v1 import MobileNetV1
from .mobilenet_v2 import MobileNetV2
from .mobilenet_v3 import MobileNetV3

__all__ = ['ARCHS', 'ArchSpec', 'Layer', 'LayerPlan', 'build_layer', 'MobileNet', 'dilate', 'halve_last_stage',
           'place_hswish', 'override_widths', 'plan_layers', 'residual_groups', 'transform_rows',
           'MnasNet', 'MobileNetV1', 'MobileNetV2', 'MobileNetV3']
