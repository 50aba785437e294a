#!/usr/bin/env bash
# Training on a Slurm cluster (as the OpenMMLab toolboxes' tools/slurm_train.sh): srun starts
# GPUS tasks, GPUS_PER_NODE per node, each runs tools/train.py with --launcher slurm.
#
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#       bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
#   e.g. GPUS=16 bash tools/slurm_train.sh gpu v3seg configs/seg/lraspp_v3_large_cityscapes.py \
#            work_dirs/lraspp --sync-bn
set -euo pipefail
if [[ $# -lt 4 ]]; then
    echo "usage: [GPUS=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
TOOLS="$(cd "$(dirname "$0")" && pwd)"
# the project's venv when there is one (tools/install.sh builds it), else python on PATH
DEFAULT_PY=python
[[ -x "$TOOLS/../.venv/bin/python" ]] && DEFAULT_PY="$TOOLS/../.venv/bin/python"
PYTHON=${PYTHON:-$DEFAULT_PY}

# shellcheck disable=SC2086  # SRUN_ARGS is a list of words on purpose
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$TOOLS/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "${@:5}"
