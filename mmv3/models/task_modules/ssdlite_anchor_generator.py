"""TensorFlow's SSD anchor grid (``create_ssd_anchors``) as an mmdet prior generator."""
import math
from typing import List, Sequence, Tuple, Union

import torch
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from torch import Tensor
from torch.nn.modules.utils import _pair

from mmv3.registry import TASK_UTILS


@TASK_UTILS.register_module()
class SSDLiteAnchorGenerator(AnchorGenerator):
    """Anchors of the TensorFlow SSDLite models (MobileNetV2/V3 papers, Table 6).

    mmdet's ``SSDAnchorGenerator`` always puts ``2 + 2 * len(ratios)`` anchors
    on a level (at least 4), so it cannot express the reference layout, where
    the first (1/16) level has **3** anchors and the others 6. This generator
    reproduces TensorFlow's ``multiple_grid_anchor_generator.create_ssd_anchors``
    (``ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95
    aspect_ratios: 1, 2, 0.5, 3, 0.3333 }``, ``reduce_boxes_in_lowest_layer``
    and ``interpolated_scale_aspect_ratio: 1.0`` at their defaults):

    - level scales ``s_k = min_scale + (max_scale - min_scale) * k / (L - 1)``,
      ``k = 0 .. L-1``, and ``s_L = 1.0``;
    - level 0 (``reduce_boxes_in_lowest_layer``): boxes (scale, aspect) =
      ``(0.1, 1.0), (s_0, 2.0), (s_0, 0.5)``;
    - level k > 0: ``(s_k, a)`` for every aspect ratio ``a`` plus
      ``(sqrt(s_k * s_{k+1}), interpolated_scale_aspect_ratio)``;
    - a box of scale ``s`` and aspect ``a`` (= width / height) is
      ``s * sqrt(a) * W`` wide and ``s / sqrt(a) * H`` high, in pixels of the
      ``W x H`` network input; centres at ``(i + 0.5) * stride``.

    Args:
        strides (Sequence[float | tuple[float, float]]): Anchor stride of each
            level in pixels, ``(w, h)`` if a pair; TensorFlow's stride is
            ``input_size / feature_map_size`` (at 320: 16, 32, 64, 320/3, 160,
            320 for maps of 20, 10, 5, 3, 2, 1). The number of levels is
            ``len(strides)`` (at least 2).
        input_size (int | tuple[int, int]): Network input ``W`` or ``(W, H)``
            that scales are relative to. Defaults to 320.
        min_scale (float): Scale of the first level. Defaults to 0.2.
        max_scale (float): Scale of the last level. Defaults to 0.95.
        aspect_ratios (Sequence[float]): Width / height ratios of the boxes on
            levels after the first. Defaults to (1.0, 2.0, 0.5, 3.0, 0.3333).
        interpolated_scale_aspect_ratio (float): Aspect ratio of the extra box
            with scale ``sqrt(s_k * s_{k+1})``; 0 or less disables it.
            Defaults to 1.0.
        reduce_boxes_in_lowest_layer (bool): Use the 3-box layout on level 0.
            Defaults to True.
        use_box_type (bool): Wrap anchors in ``HorizontalBoxes``.
            Defaults to False.
    """

    def __init__(self,
                 strides: Sequence[Union[float, Tuple[float, float]]],
                 input_size: Union[int, Tuple[int, int]] = 320,
                 min_scale: float = 0.2,
                 max_scale: float = 0.95,
                 aspect_ratios: Sequence[float] = (1.0, 2.0, 0.5, 3.0, 0.3333),
                 interpolated_scale_aspect_ratio: float = 1.0,
                 reduce_boxes_in_lowest_layer: bool = True,
                 use_box_type: bool = False) -> None:
        if not isinstance(strides, (list, tuple)) or len(strides) < 2:
            raise ValueError(
                f'SSDLiteAnchorGenerator: `strides` must be a list of at least 2 '
                f'per-level strides in pixels (e.g. [16, 32, 64, 320 / 3, 160, 320] '
                f'for a 320 input), got {strides!r}.')
        if not 0 < min_scale <= max_scale:
            raise ValueError(
                f'SSDLiteAnchorGenerator: need 0 < min_scale <= max_scale, got '
                f'min_scale={min_scale}, max_scale={max_scale}.')
        if len(aspect_ratios) == 0 or any(a <= 0 for a in aspect_ratios):
            raise ValueError(
                f'SSDLiteAnchorGenerator: `aspect_ratios` must be a non-empty list of '
                f'positive width/height ratios, got {aspect_ratios!r}.')
        self.strides = [_pair(s) for s in strides]
        self.centers = [(s[0] / 2., s[1] / 2.) for s in self.strides]
        self.input_size = _pair(input_size)
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.aspect_ratios = tuple(float(a) for a in aspect_ratios)
        self.interpolated_scale_aspect_ratio = interpolated_scale_aspect_ratio
        self.reduce_boxes_in_lowest_layer = reduce_boxes_in_lowest_layer
        self.box_specs = self._box_specs()
        # attributes the AnchorGenerator API reads
        self.center_offset = 0.
        self.scale_major = False
        self.octave_base_scale = None
        self.scales_per_octave = None
        self.use_box_type = use_box_type
        self.base_anchors = self.gen_base_anchors()

    def _box_specs(self) -> List[List[Tuple[float, float]]]:
        """(scale, width/height aspect) of every box on every level."""
        num_layers = len(self.strides)
        scales = [
            self.min_scale + (self.max_scale - self.min_scale) * i / (num_layers - 1)
            for i in range(num_layers)
        ] + [1.0]
        specs = []
        for layer in range(num_layers):
            scale, scale_next = scales[layer], scales[layer + 1]
            if layer == 0 and self.reduce_boxes_in_lowest_layer:
                layer_specs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
            else:
                layer_specs = [(scale, a) for a in self.aspect_ratios]
                if self.interpolated_scale_aspect_ratio > 0:
                    layer_specs.append((math.sqrt(scale * scale_next),
                                        float(self.interpolated_scale_aspect_ratio)))
            specs.append(layer_specs)
        return specs

    def gen_base_anchors(self) -> List[Tensor]:
        """Anchors of one grid cell per level, centred at ``stride / 2``.

        Returns:
            list[Tensor]: One ``(num_boxes, 4)`` tensor (x1, y1, x2, y2) per level.
        """
        in_w, in_h = self.input_size
        anchors = []
        for (cx, cy), specs in zip(self.centers, self.box_specs):
            boxes = []
            for scale, aspect in specs:
                w = scale * math.sqrt(aspect) * in_w
                h = scale / math.sqrt(aspect) * in_h
                boxes.append([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h])
            anchors.append(torch.tensor(boxes, dtype=torch.float32))
        return anchors

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(strides={self.strides}, '
                f'input_size={self.input_size}, min_scale={self.min_scale}, '
                f'max_scale={self.max_scale}, aspect_ratios={self.aspect_ratios}, '
                f'interpolated_scale_aspect_ratio={self.interpolated_scale_aspect_ratio}, '
                f'reduce_boxes_in_lowest_layer={self.reduce_boxes_in_lowest_layer}, '
                f'num_base_priors={self.num_base_priors})')
