"""torchvision's SSD default boxes (``DefaultBoxGenerator``) as an mmdet prior generator."""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from torch import Tensor
from torch.nn.modules.utils import _pair

from mmv3.registry import TASK_UTILS


@TASK_UTILS.register_module()
class SSDDefaultBoxGenerator(AnchorGenerator):
    """The SSD paper's default boxes as torchvision lays them out (``DefaultBoxGenerator``).

    torchvision's ``ssdlite320_mobilenet_v3_large`` uses
    ``DefaultBoxGenerator([[2, 3]] * 6, min_ratio=0.2, max_ratio=0.95)``; its trained box
    regressions only fit anchors made exactly this way, which neither mmdet's
    ``SSDAnchorGenerator`` (other scales, centres and box order) nor
    :class:`~mmv3.models.task_modules.SSDLiteAnchorGenerator` (TensorFlow's layout: 3 boxes on
    the first map, another order, no clipping) reproduces. Layout, for ``L`` levels:

    - scales ``s_k = min_ratio + (max_ratio - min_ratio) * k / (L - 1)``, ``s_L = 1`` (or
      ``scales`` as given, ``L + 1`` values);
    - boxes of level ``k``, relative to the input size, in this order: ``(s_k, s_k)``,
      ``(s'_k, s'_k)`` with ``s'_k = sqrt(s_k * s_{k+1})``, then for every ratio ``r`` in
      ``aspect_ratios[k]``: ``(s_k sqrt(r), s_k / sqrt(r))`` and ``(s_k / sqrt(r), s_k sqrt(r))``
      (``2 + 2 * len(aspect_ratios[k])`` boxes; 6 for ``[2, 3]``);
    - with ``clip=True`` the relative widths and heights are clamped to ``[0, 1]`` (the
      ``sqrt(3)`` box of the last maps is wider than the image), centres are not clipped;
    - centres ``((i + 0.5) / f_w, (j + 0.5) / f_h)`` on an ``f_h x f_w`` map (or
      ``(i + 0.5) * step / W`` with ``steps``), so the grid always spans the image;
    - corners ``(c - wh / 2) * (W, H)`` and ``(c + wh / 2) * (W, H)`` in pixels of the
      ``W x H`` network input, computed with torchvision's float32 operations in its order,
      so the anchors are bitwise torchvision's; location-major, box-minor order (mmdet's).

    torchvision scales by the size of the batched input tensor; its SSD resizes every image
    to a fixed size, so here that size is the argument ``input_size``. All anchors are valid
    (torchvision has no valid-flag notion; :meth:`valid_flags` is all True).

    Args:
        aspect_ratios (Sequence[Sequence[float]]): Extra aspect ratios per level
            (``[[2, 3]] * 6`` for torchvision's SSDLite); the number of levels is its length.
        input_size (int | tuple[int, int]): Network input ``W`` or ``(W, H)`` in pixels.
            Defaults to 320.
        min_ratio (float): Scale of the first level. Defaults to 0.15 (torchvision's default;
            SSDLite uses 0.2).
        max_ratio (float): Scale of the last level. Defaults to 0.9 (SSDLite: 0.95).
        scales (Sequence[float], optional): ``L + 1`` explicit scales instead of
            ``min_ratio`` / ``max_ratio``.
        steps (Sequence[int], optional): Per-level step in pixels (SSD300's tiling); default:
            centres from the feature map size.
        clip (bool): Clamp relative box widths / heights to ``[0, 1]``. Defaults to True.
        use_box_type (bool): Wrap anchors in ``HorizontalBoxes``. Defaults to False.
    """

    def __init__(self,
                 aspect_ratios: Sequence[Sequence[float]],
                 input_size: Union[int, Tuple[int, int]] = 320,
                 min_ratio: float = 0.15,
                 max_ratio: float = 0.9,
                 scales: Optional[Sequence[float]] = None,
                 steps: Optional[Sequence[int]] = None,
                 clip: bool = True,
                 use_box_type: bool = False) -> None:
        if (not isinstance(aspect_ratios, (list, tuple)) or not aspect_ratios
                or not all(isinstance(r, (list, tuple)) for r in aspect_ratios)):
            raise ValueError(f'SSDDefaultBoxGenerator: aspect_ratios must list the extra ratios of every level, '
                             f'e.g. [[2, 3]] * 6, got {aspect_ratios!r}')
        num_levels = len(aspect_ratios)
        if steps is not None and len(steps) != num_levels:
            raise ValueError(f'SSDDefaultBoxGenerator: steps has {len(steps)} entries for {num_levels} levels')
        if scales is None:
            if not 0 < min_ratio <= max_ratio:
                raise ValueError(f'SSDDefaultBoxGenerator: need 0 < min_ratio <= max_ratio, got {min_ratio}, '
                                 f'{max_ratio}')
            if num_levels > 1:
                scales = [min_ratio + (max_ratio - min_ratio) * k / (num_levels - 1.0)
                          for k in range(num_levels)] + [1.0]
            else:
                scales = [min_ratio, max_ratio]
        elif len(scales) != num_levels + 1:
            raise ValueError(f'SSDDefaultBoxGenerator: scales needs {num_levels + 1} values (one per level and '
                             f'the next), got {len(scales)}')
        self.aspect_ratios = [list(r) for r in aspect_ratios]
        self.input_size = _pair(input_size)
        self.scales = list(scales)
        self.steps = None if steps is None else list(steps)
        self.clip = clip
        self.wh_pairs = self._wh_pairs()
        # attributes of the AnchorGenerator API (strides: the nominal pixel step of each level)
        in_w, in_h = self.input_size
        self.strides = [_pair(s) for s in self.steps] if self.steps else [None] * num_levels
        self.center_offset = 0.5
        self.scale_major = False
        self.octave_base_scale = None
        self.scales_per_octave = None
        self.use_box_type = use_box_type
        self.base_anchors = [torch.cat([-0.5 * wh, 0.5 * wh], 1) * wh.new_tensor([in_w, in_h, in_w, in_h])
                             for wh in self.wh_pairs]

    @property
    def num_levels(self) -> int:
        return len(self.aspect_ratios)

    def _wh_pairs(self) -> List[Tensor]:
        """Relative (w, h) of the boxes of each level, float32 and clamped as torchvision's."""
        pairs = []
        for k, ratios in enumerate(self.aspect_ratios):
            s_k, s_prime = self.scales[k], math.sqrt(self.scales[k] * self.scales[k + 1])
            wh = [[s_k, s_k], [s_prime, s_prime]]
            for r in ratios:
                w, h = s_k * math.sqrt(r), s_k / math.sqrt(r)
                wh += [[w, h], [h, w]]
            wh = torch.as_tensor(wh, dtype=torch.float32)
            pairs.append(wh.clamp(min=0, max=1) if self.clip else wh)
        return pairs

    def single_level_grid_priors(self, featmap_size: Tuple[int, int], level_idx: int,
                                 dtype: torch.dtype = torch.float32, device='cuda') -> Tensor:
        """Anchors ``(H * W * A, 4)`` (x1, y1, x2, y2) of one level, exactly torchvision's."""
        f_h, f_w = int(featmap_size[0]), int(featmap_size[1])
        in_w, in_h = self.input_size
        if self.steps is not None:
            x_f, y_f = in_w / self.steps[level_idx], in_h / self.steps[level_idx]
        else:
            x_f, y_f = f_w, f_h
        shifts_x = ((torch.arange(0, f_w) + 0.5) / x_f).to(dtype=dtype)
        shifts_y = ((torch.arange(0, f_h) + 0.5) / y_f).to(dtype=dtype)
        shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing='ij')
        shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
        wh = self.wh_pairs[level_idx].to(dtype)
        centres = torch.stack((shift_x, shift_y) * len(wh), dim=-1).reshape(-1, 2)
        wh = wh.repeat(f_h * f_w, 1)
        size = torch.tensor([in_w, in_h])
        anchors = torch.cat([(centres - 0.5 * wh) * size, (centres + 0.5 * wh) * size], -1).to(device)
        if self.use_box_type:
            from mmdet.structures.bbox import HorizontalBoxes
            anchors = HorizontalBoxes(anchors)
        return anchors

    def sparse_priors(self, *args, **kwargs):
        raise NotImplementedError('SSDDefaultBoxGenerator: sparse priors are not used by SSD heads')

    def valid_flags(self, featmap_sizes: List[Tuple[int, int]], pad_shape: Tuple, device='cuda') -> List[Tensor]:
        """All anchors are valid (torchvision matches every default box)."""
        return [torch.ones(int(h) * int(w) * n, dtype=torch.bool, device=device)
                for (h, w), n in zip(featmap_sizes, self.num_base_priors)]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(aspect_ratios={self.aspect_ratios}, input_size={self.input_size}, '
                f'scales={self.scales}, steps={self.steps}, clip={self.clip}, '
                f'num_base_priors={self.num_base_priors})')
