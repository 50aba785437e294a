"""The isolated environment that converts PyTorch models to LiteRT (litert-torch needs numpy 2).

mmv3's environment keeps numpy < 2 (OpenMMLab 2023 code, opencv); litert-torch 0.10.0 requires numpy 2.
So the conversion runs in a subprocess (:mod:`mmv3.deploy.litert_convert`) with the Python of a separate
virtual environment that:

- holds ``numpy>=2``, ``litert-torch``, ``ai-edge-quantizer`` and their dependencies
  (``requirements/litert-convert.txt``: jax, transformers, torchao, litert-converter ...);
- reuses the project's torch: a ``.pth`` file appends the site-packages holding the running torch to
  its ``sys.path`` (after its own, so its numpy 2 wins), so pip sees torch as installed and no second
  multi-GB torch is downloaded. The project's environment is not modified (pip installs into the new
  environment only; it leaves the numpy 1.x it sees through the ``.pth`` alone).

Where: ``$MMV3_LITERT_ENV`` if set, else
``${XDG_CACHE_HOME:-~/.cache}/mmv3/litert-env/<python tag>-torch<version>-<hash of the torch site-packages>`` (one
per interpreter, torch and environment whose torch it reuses; next to tools/install.sh's mmcv wheel cache). Made by
``python tools/deployment/install_litert_env.py`` (tools/install.sh runs it as its last, non-fatal step);
about 35 s and 1.1 GB here. A stamp file records what was installed; :func:`converter_python` refuses
in one line naming the install command when the environment is missing or stale.
"""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
from typing import List, Optional

from mmv3.apis.errors import ToolError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REQUIREMENTS = osp.join(ROOT, 'requirements', 'litert-convert.txt')
#: what the environment installs when requirements/litert-convert.txt is not there (installed package)
DEFAULT_REQUIREMENTS = ('numpy>=2', 'litert-torch==0.10.0', 'ai-edge-quantizer==0.10.0', 'ai-edge-litert==2.3.0')
INSTALL_CMD = 'python tools/deployment/install_litert_env.py'
STAMP = 'mmv3-litert-env.json'


def requirements() -> List[str]:
    """The pinned requirements of the converter environment."""
    if not osp.isfile(REQUIREMENTS):
        return list(DEFAULT_REQUIREMENTS)
    out = []
    with open(REQUIREMENTS) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                out.append(line)
    return out


def _torch_site() -> str:
    import torch
    return osp.dirname(osp.dirname(osp.abspath(torch.__file__)))


def _torch_version() -> str:
    import torch
    return torch.__version__.split('+')[0]


def env_dir() -> str:
    """Where the converter environment lives (``$MMV3_LITERT_ENV`` or the per-user cache)."""
    if os.environ.get('MMV3_LITERT_ENV'):
        return osp.abspath(os.path.expanduser(os.environ['MMV3_LITERT_ENV']))
    cache = os.environ.get('XDG_CACHE_HOME') or osp.join(osp.expanduser('~'), '.cache')
    site = hashlib.sha1(_torch_site().encode()).hexdigest()[:8]  # one per environment whose torch it reuses
    tag = f'cp{sys.version_info[0]}{sys.version_info[1]}-torch{_torch_version()}-{site}'
    return osp.join(cache, 'mmv3', 'litert-env', tag)


def _python(env: str) -> str:
    return osp.join(env, 'bin', 'python')


def _wanted_stamp() -> dict:
    return dict(requirements=requirements(), torch=_torch_version(), torch_site=_torch_site(),
                python=list(sys.version_info[:2]))


def status(env: Optional[str] = None) -> dict:
    """``dict(env, python, ok, reason)``: whether the converter environment is there and current."""
    env = env or env_dir()
    py = _python(env)
    res = dict(env=env, python=py, ok=False, reason='')
    stamp = osp.join(env, STAMP)
    if not osp.isfile(py) or not osp.isfile(stamp):
        res['reason'] = f'no litert-torch environment at {env}'
        return res
    try:
        with open(stamp) as f:
            have = json.load(f)
    except (OSError, ValueError):
        have = {}
    want = _wanted_stamp()
    diff = [k for k in want if have.get(k) != want[k]]
    if diff:
        res['reason'] = f'the litert-torch environment at {env} is stale ({", ".join(diff)} changed)'
        return res
    res['ok'] = True
    return res


def converter_python() -> str:
    """The Python of the converter environment, or a one-line refusal naming the install command."""
    st = status()
    if not st['ok']:
        raise ToolError(f'LiteRT export needs litert-torch 0.10.0 (numpy 2) in its own environment: '
                        f'{st["reason"]}; create it with: {INSTALL_CMD} (about 35 s, 1.1 GB; '
                        f'MMV3_LITERT_ENV=DIR to put it elsewhere)')
    return st['python']


def install(env: Optional[str] = None, quiet: bool = True, extra_pip_args: Optional[List[str]] = None) -> dict:
    """Create (or update) the converter environment; returns :func:`status`.

    Steps: ``python -m venv ENV`` with this interpreter; a ``.pth`` with the site-packages of this
    process's torch; ``ENV/bin/pip install`` of :func:`requirements`; an import check under numpy 2;
    the stamp.
    """
    env = env or env_dir()
    py = _python(env)
    if not osp.isfile(py):
        os.makedirs(osp.dirname(env), exist_ok=True)
        subprocess.run([sys.executable, '-m', 'venv', env], check=True)
    site = subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], check=True,
                          capture_output=True, text=True).stdout.strip()
    with open(osp.join(site, '_mmv3_torch.pth'), 'w') as f:
        f.write(_torch_site() + '\n')
    stamp = osp.join(env, STAMP)
    if osp.isfile(stamp):
        os.remove(stamp)
    cmd = [py, '-m', 'pip', 'install', '--disable-pip-version-check'] + (['-q'] if quiet else [])
    cmd += list(extra_pip_args or []) + requirements()
    subprocess.run(cmd, check=True)
    check = ('import numpy, torch, litert_torch, ai_edge_quantizer; '
             'assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__; '
             f'assert torch.__version__.split("+")[0] == {_torch_version()!r}, torch.__version__')
    r = subprocess.run([py, '-c', check], env=_clean_env(), capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or [''])[-1]
        raise ToolError(f'the litert-torch environment at {env} does not import: {last}')
    with open(stamp, 'w') as f:
        json.dump(_wanted_stamp(), f, indent=1)
    return status(env)


def _clean_env() -> dict:
    """The subprocess environment: this one without PYTHONPATH / PYTHONHOME (they would put mmv3's
    numpy-1 environment first) and with one thread for the converter's own kernels."""
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env.setdefault('OMP_NUM_THREADS', '1')
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    return env


def run_converter(args: List[str], timeout: Optional[float] = None) -> dict:
    """Run :mod:`mmv3.deploy.litert_convert` with ``args`` in the converter environment; its JSON result.

    A failure is a one-line :class:`ToolError` with the converter's last error line.
    """
    py = converter_python()
    script = osp.join(osp.dirname(osp.abspath(__file__)), 'litert_convert.py')
    r = subprocess.run([py, script] + list(args), capture_output=True, text=True, env=_clean_env(), timeout=timeout)
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()]
        last = next((ln for ln in reversed(lines) if 'Error' in ln or 'error' in ln), lines[-1] if lines else '')
        raise ToolError(f'litert-torch conversion ({args[0]}) failed: {last.strip()[:400]}')
    for line in reversed(r.stdout.strip().splitlines()):
        if line.startswith('{'):
            return json.loads(line)
    return {}
