"""The argparse pieces every mmv3 tool shares (the OpenMMLab flags, spelled as upstream)."""
import argparse
import copy
import os


def parse_scalar(val: str):
    """``'3'`` -> 3, ``'0.5'`` -> 0.5, ``'true'`` / ``'False'`` -> bool, ``'None'`` -> None, else the string
    (the same rules as mmengine's ``DictAction``)."""
    for cast in (int, float):
        try:
            return cast(val)
        except ValueError:
            pass
    if val.lower() in ('true', 'false'):
        return val.lower() == 'true'
    return None if val == 'None' else val


def parse_value(val: str):
    """One ``--cfg-options`` value: a scalar, ``V1,V2`` / ``[V1,V2]`` (list), ``(V1,V2)`` (tuple), nested.

    mmengine's ``DictAction`` syntax, except that whitespace *inside* a value is kept:
    ``data_root=my data`` stays ``'my data'`` (``DictAction`` removes every space, giving ``'mydata'``);
    spaces around the value and around list elements are dropped (``[1, 2]`` -> ``[1, 2]``).
    """

    def next_comma(string):
        if string.count('(') != string.count(')') or string.count('[') != string.count(']'):
            raise ValueError(f'Imbalanced brackets exist in {string}')
        for idx, char in enumerate(string):
            pre = string[:idx]
            if char == ',' and pre.count('(') == pre.count(')') and pre.count('[') == pre.count(']'):
                return idx
        return len(string)

    val = val.strip().strip('\'"').strip()
    is_tuple = False
    if val.startswith('(') and val.endswith(')'):
        is_tuple, val = True, val[1:-1]
    elif val.startswith('[') and val.endswith(']'):
        val = val[1:-1]
    elif ',' not in val:
        return parse_scalar(val)
    values = []
    while val.strip():
        idx = next_comma(val)
        values.append(parse_value(val[:idx]))
        val = val[idx + 1:]
    return tuple(values) if is_tuple else values


class CfgOptionsAction(argparse.Action):
    """``--cfg-options KEY=VALUE ...`` -> ``{KEY: value}`` (values by :func:`parse_value`), merged over
    earlier occurrences, as mmengine's ``DictAction`` does."""

    def __call__(self, parser, namespace, values, option_string=None):
        options = copy.copy(getattr(namespace, self.dest, None) or {})
        for kv in values or ():
            key, val = kv.split('=', maxsplit=1)
            options[key] = parse_value(val)
        setattr(namespace, self.dest, options)


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
