"""The argparse pieces every mmv3 tool shares (the OpenMMLab flags, spelled as upstream)."""
import os
import re

from mmengine.config import DictAction


_INNER_SPACE = re.compile(r'(?<=[^\s,\[\]()])\s+(?=[^\s,\[\]()])')
_MARK = '\x1f'  # stands for a protected run of spaces while DictAction parses


def _restore(value, spaces):
    if isinstance(value, str):
        for run in spaces:
            value = value.replace(_MARK, run, 1)
        return value
    if isinstance(value, (list, tuple)):
        out = [_restore(v, spaces) for v in value]
        return tuple(out) if isinstance(value, tuple) else out
    return value


class CfgOptionsAction(DictAction):
    """mmengine's :class:`~mmengine.config.DictAction` (``KEY=V``, ``KEY=V1,V2``, ``KEY=[(a,b),c]``,
    ints / floats / bools / ``None``) that keeps the whitespace *inside* a value:
    ``data_root=my data`` stays ``'my data'`` (upstream removes every space, giving ``'mydata'``).
    Spaces around the value and next to ``,``, brackets and parentheses are still dropped
    (``[1, 2]`` -> ``[1, 2]``). The spaces are protected before ``DictAction`` parses and put back after.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        protected, spaces = [], {}
        for kv in values or []:
            key, sep, val = kv.partition('=')
            runs = _INNER_SPACE.findall(val)
            spaces[key] = runs
            protected.append(key + sep + _INNER_SPACE.sub(_MARK, val))
        super().__call__(parser, namespace, protected if values is not None else None, option_string)
        options = getattr(namespace, self.dest)
        for key, runs in spaces.items():
            if runs and key in options:
                options[key] = _restore(options[key], runs)


def add_cfg_options(parser) -> None:
    """``--cfg-options KEY=VALUE ...`` parsed by :class:`CfgOptionsAction` (mmengine's ``DictAction``
    keeping spaces inside values; each key is checked against the config when it is loaded:
    :func:`mmv3.apis.load_config`)."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction, metavar='KEY=VALUE',
        help='override settings of the config, e.g. train_cfg.max_iters=100 '
        'model.backbone.widen_factor=0.5; every key must exist in the config')


def add_shape(parser, nargs=2, help_default='224 cls, 320 det, 1024 2048 seg') -> None:
    """``--shape H W`` (``nargs='+'``: also one number for a square input)."""
    parser.add_argument('--shape', type=int, nargs=nargs, metavar='N' if nargs == '+' else ('H', 'W'),
                        help=f'input size H W (default: {help_default})')


def add_launcher_args(parser) -> None:
    """``--launcher`` and ``--local-rank`` / ``--local_rank``, as every OpenMMLab train / test tool has them."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser, argv=None):
    """``parser.parse_args(argv)``, then ``LOCAL_RANK`` from ``--local-rank`` when the launcher did not set it."""
    args = parser.parse_args(argv)
    if hasattr(args, 'local_rank') and 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args
