"""The one error path of every mmv3 tool.

A refused command raises :class:`ToolError` (or :class:`~mmv3.engine.CheckpointError`, a dataset
check's :class:`~mmv3.datasets.checks.DatasetNotReadyError`) whose message is one line;
:func:`run_cli` prints it as ``<prog>: error: <message>`` and exits with status 2 (3 for a
non-finite loss, 130 for Ctrl-C). ``MMV3_DEBUG=1`` re-raises with the traceback instead.
"""
import os
import re
import sys
import traceback
from typing import Optional


class ToolError(Exception):
    """A refused command; ``str(e)`` is the one-line explanation.

    Args:
        message (str): What is wrong and how to fix it, on one line.
        exit_code (int): Exit status :func:`run_cli` uses. Default: 2.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


_REGISTRY_MISS = re.compile(r"([\w.]+) is not in the ([\w:]+) registry")


def _known_error_types():
    from mmv3.datasets.checks import DatasetNotReadyError
    from mmv3.engine import CheckpointError, NonFiniteLossError
    return (ToolError, CheckpointError, NonFiniteLossError, DatasetNotReadyError)


def _type_hint(name: str, registry: str) -> str:
    """`` (did you mean 'X'?)`` for a registry miss reported as ``'<scope>::<registry name>'``."""
    try:
        from mmengine import registry as R
        from .checks import close_type_names
        scope, _, kind = registry.rpartition('::')
        roots = [r for r in vars(R).values() if isinstance(r, R.Registry) and r.name == kind and r.parent is None]
        if not roots:
            return ''
        with roots[0].switch_scope_and_registry(scope or None) as reg:
            close = close_type_names(name, reg)
    except Exception:  # a hint only: never hide the real error
        return ''
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ''


def explain_exception(exc: BaseException) -> Optional[str]:
    """One-line explanation of a known failure raised while building/running, else None.

    Follows ``__cause__`` / ``__context__``, so a known error wrapped by mmengine's builders
    (``KeyError: ... is not in the model registry``, a ``ToolError`` raised inside a hook) is found.
    """
    known = _known_error_types()
    seen = set()
    e: Optional[BaseException] = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, known):
            return str(e)
        m = _REGISTRY_MISS.search(str(e))
        if isinstance(e, KeyError) and m:
            name, registry = m.groups()
            hint = _type_hint(name, registry)
            return (f"unknown type '{name}'{hint}: it is not in the {registry} registry (nor in a "
                    f"child registry such as mmv3's). Check the spelling, or import the module "
                    f"that registers it with custom_imports=dict(imports=['...']) in the config "
                    f"(mmv3 modules: type='mmv3.{name.split('.')[-1]}' with imports=['mmv3'])")
        e = e.__cause__ or e.__context__
    return None


def _interrupted(exc: BaseException) -> bool:
    """A KeyboardInterrupt, also when mmengine wrapped it (its config formatter turns any
    exception into ``SyntaxError: Failed to format the config file`` + the whole config)."""
    seen, e = set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return True
        e = e.__cause__ or e.__context__
    return False


def run_cli(main, prog: str, argv=None) -> None:
    """Run ``main()`` (or ``main(argv)``); print known refusals as one line and exit non-zero.

    Args:
        main (callable): The tool's ``main``.
        prog (str): Program name for the message, e.g. ``'train.py'``.
        argv (list, optional): Passed to ``main`` when given.
    """
    from mmv3.engine import NonFiniteLossError
    try:
        ret = main() if argv is None else main(argv)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: B902
        msg = explain_exception(e)
        if msg is None and _interrupted(e) and not os.environ.get('MMV3_DEBUG'):
            print(f'{prog}: interrupted', file=sys.stderr, flush=True)
            sys.exit(130)
        if msg is None or os.environ.get('MMV3_DEBUG'):
            raise
        code = 3 if isinstance(e, NonFiniteLossError) else getattr(e, 'exit_code', 2)
        if os.environ.get('MMV3_TRACEBACK'):
            traceback.print_exc()
        label = '' if code == 130 else 'error: '  # an interrupt is not an error of the input
        print(f'{prog}: {label}{msg}', file=sys.stderr, flush=True)
        sys.exit(code)
    if isinstance(ret, int) and ret:
        sys.exit(ret)
