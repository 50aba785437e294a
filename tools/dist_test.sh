#!/usr/bin/env bash
# Distributed testing with torchrun: one process per device.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
set -euo pipefail
if [[ $# -lt 3 ]]; then
    echo "usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
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
    "$TOOLS/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
