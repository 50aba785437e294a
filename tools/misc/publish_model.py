"""Prepare a training checkpoint for release (as upstream's ``tools/misc/publish_model.py``).

    python tools/misc/publish_model.py IN.pth OUT.pth      # writes OUT-<sha256[:8]>.pth

Keeps ``state_dict`` and ``meta`` (optimizer, message hub and param scheduler states are dropped),
reads the input with mmv3's safe ``weights_only`` loader and writes the output atomically, so the
published file loads with ``torch.load(weights_only=True)``.
"""
import argparse

from mmv3.apis import ToolError, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Strip a checkpoint to state_dict + meta, sha256-suffixed name')
    p.add_argument('in_file', help='input checkpoint (tools/train.py writes them)')
    p.add_argument('out_file', help='output name, ending with .pth; written as <name>-<8 hex>.pth')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmv3.engine import CheckpointError
    from mmv3.engine.publish import publish_checkpoint
    try:
        final = publish_checkpoint(args.in_file, args.out_file)
    except CheckpointError as e:
        raise ToolError(str(e)) from None
    print(final)


if __name__ == '__main__':
    run_cli(main, 'publish_model.py')
