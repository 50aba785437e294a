"""The argparse pieces every mmv3 tool shares (the OpenMMLab flags, spelled as upstream)."""
import os

from mmengine.config import DictAction


def add_cfg_options(parser) -> None:
    """``--cfg-options KEY=VALUE ...`` parsed by mmengine's :class:`~mmengine.config.DictAction`
    (each key is checked against the config when it is loaded: :func:`mmv3.apis.load_config`)."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
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
