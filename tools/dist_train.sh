#!/usr/bin/env bash
# Distributed training with torchrun: one process per device (GPUs, or CPU processes with the
# gloo backend: set env_cfg.dist_cfg.backend='gloo' on a machine without GPUs).
#
#   bash tools/dist_train.sh CONFIG NPROC [train.py args...]
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: bash tools/dist_train.sh CONFIG NPROC [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS="$(cd "$(dirname "$0")" && pwd)"
# the repo's virtual environment (tools/install.sh) unless PYTHON says otherwise
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$TOOLS/../.venv/bin/python" ]]; then PYTHON="$TOOLS/../.venv/bin/python"; else PYTHON=python3; fi
fi
# exec: torchrun replaces this shell (same pid), so a signal to this process reaches torchrun,
# which forwards SIGTERM/SIGINT to the workers; the workers also die with torchrun (kill -9
# included: PR_SET_PDEATHSIG, set by mmv3.apis.exit_with_launcher, checks this pid).
export MMV3_LAUNCHER_PID=$$
export PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$TOOLS/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
