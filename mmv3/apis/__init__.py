"""mmv3.apis: the one way from a config to a model, shared by every tool in ``tools/``.

- :mod:`.config`: :func:`load_config` (missing file / syntax / ``custom_imports`` as one line,
  ``--cfg-options`` checked against the config and merged), :func:`setup_scope`, :func:`task_of`,
  :func:`prepare_config` (train / test: config, options, scope, work_dir).
- :mod:`.model`: :func:`build_model`, :func:`load_weights` (safe loading + "does this checkpoint
  fit this model"), the pre-Runner checks, :class:`TaskWrapper` / :func:`build_from_config`.
- :mod:`.runner`: :func:`prepare_train_config` / :func:`prepare_test_config` (every check before
  a Runner exists) and :func:`build_runner`.
- :mod:`.checks`: dataset folders and registered ``type`` names, before anything is written.
- :mod:`.args`: the shared argparse flags (``--cfg-options``, ``--shape``, ``--launcher``).
- :mod:`.errors`: :class:`ToolError` and :func:`run_cli`, the one error path (one line, exit 2).
- :mod:`.dist`: ``--launcher pytorch`` on CPU-only machines; workers that die with torchrun.
- :mod:`.workdir`: one live training per work dir (a ``flock``'ed lock file).

``mmv3.engine`` holds only what runs inside the Runner (hooks, safe checkpoint I/O).
"""
from .args import add_cfg_options, add_launcher_args, add_shape, parse_tool_args
from .checks import check_dataset_files, check_dataset_roots, check_numeric_values, check_registered_types
from .config import (TASK_BY_SCOPE, TOOLBOXES, all_configs, check_cfg_options, default_input_shape, load_config,
                     parse_cfg_options, prepare_config, setup_scope, task_of)
from .dist import exit_with_launcher, setup_cpu_distributed
from .errors import ToolError, explain_exception, run_cli
from .runner import build_runner, prepare_test_config, prepare_train_config, train
from .workdir import lock_work_dir, release_work_dir
from .model import (TaskWrapper, build_from_config, build_model, build_model_for_checks, check_checkpoint_for_model,
                    check_pretrained, find_resume_checkpoint, load_weights, preprocess_params)

__all__ = [
    'add_cfg_options', 'add_launcher_args', 'add_shape', 'parse_tool_args', 'check_dataset_roots',
    'check_dataset_files', 'check_numeric_values',
    'check_registered_types', 'TASK_BY_SCOPE', 'TOOLBOXES', 'all_configs', 'check_cfg_options',
    'default_input_shape', 'load_config', 'parse_cfg_options', 'prepare_config', 'setup_scope', 'task_of',
    'setup_cpu_distributed', 'ToolError', 'explain_exception', 'run_cli', 'TaskWrapper', 'build_from_config',
    'build_model', 'build_model_for_checks', 'check_checkpoint_for_model', 'check_pretrained',
    'find_resume_checkpoint', 'load_weights', 'preprocess_params', 'build_runner', 'prepare_test_config',
    'prepare_train_config', 'train', 'lock_work_dir', 'release_work_dir', 'exit_with_launcher'
]
