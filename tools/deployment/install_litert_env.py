"""Create the environment that converts PyTorch models to LiteRT (.tflite): litert-torch needs numpy 2.

    python tools/deployment/install_litert_env.py [--env DIR] [--check] [--verbose]

mmv3's environment keeps numpy<2; litert-torch 0.10.0 requires numpy 2. This makes a separate virtual
environment (default ``${XDG_CACHE_HOME:-~/.cache}/mmv3/litert-env/<python>-torch<version>-<hash>``, or
``$MMV3_LITERT_ENV`` / ``--env``) with ``requirements/litert-convert.txt`` (numpy 2, litert-torch,
ai-edge-quantizer), reusing this environment's torch through a ``.pth`` file (no second torch download),
and leaves mmv3's environment as it is. ``--check`` only reports whether it is there and current (exit 1
if not). ``export_onnx.py --backend litert``, ``quantize.py --backend litert`` and the benchmark modes
``litert`` / ``litert-int8`` run the conversion in it (mmv3/deploy/litert_env.py).
"""
import argparse
import os
import subprocess
import time

from mmv3.apis import ToolError, run_cli
from mmv3.deploy import litert_env


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--env', default=None, help='where (default: $MMV3_LITERT_ENV or the per-user cache)')
    p.add_argument('--check', action='store_true', help='only report whether the environment is ready')
    p.add_argument('--verbose', action='store_true', help="show pip's output")
    args = p.parse_args(argv)
    if args.env:
        os.environ['MMV3_LITERT_ENV'] = os.path.abspath(args.env)
    st = litert_env.status()
    if args.check:
        print(f'litert-torch environment {st["env"]}: ' + ('ready' if st['ok'] else st['reason']))
        if not st['ok']:
            raise ToolError(f'not ready: run `{litert_env.INSTALL_CMD}`', exit_code=1)
        return
    if st['ok']:
        print(f'litert-torch environment {st["env"]} is ready ({", ".join(litert_env.requirements())})')
        return
    print(f'creating the litert-torch environment in {st["env"]}: {" ".join(litert_env.requirements())} '
          f'(reusing this environment\'s torch)', flush=True)
    t0 = time.time()
    try:
        st = litert_env.install(quiet=not args.verbose)
    except subprocess.CalledProcessError as e:
        raise ToolError(f'creating the litert-torch environment failed ({" ".join(map(str, e.cmd[:4]))} ... '
                        f'exit {e.returncode}); run again with --verbose') from None
    if not st['ok']:
        raise ToolError(st['reason'])
    print(f'ready in {time.time() - t0:.0f} s, {du(st["env"]) / 2**30:.2f} GiB: {st["env"]} (a pip line saying mmv3 '
          f'requires numpy<2 is about mmv3\'s own environment, which keeps numpy 1.x: expected)')


if __name__ == '__main__':
    run_cli(main, 'install_litert_env.py')
