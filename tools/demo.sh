#!/usr/bin/env bash
# `make demo`: the paper's segmentation model (Table 7 row 8, configs/seg/lraspp_v3_large_cityscapes.py)
# trained for a short schedule on a generated Cityscapes-format sample, then evaluated (mIoU table).
#
# The config is used as it is; --cfg-options shrink the schedule (400 iterations), the crop (129x129)
# and the image scale (512x256, the sample's size) so that it runs in a few minutes on 2 CPU cores.
# Environment: DEMO_ITERS (default 400), DEMO_WORK_DIR (default work_dirs/demo_lraspp_v3_large),
#              DEMO_DATA (default data/cityscapes: generated there if that folder does not exist).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CONFIG=configs/seg/lraspp_v3_large_cityscapes.py
ITERS="${DEMO_ITERS:-400}"
WORK_DIR="${DEMO_WORK_DIR:-work_dirs/demo_lraspp_v3_large}"
DATA="${DEMO_DATA:-data/cityscapes}"
# Small convolutions on 2 cores: one thread is faster, and immune to other load on the machine.
# Deterministic: randomness.seed=0 + randomness.deterministic=True (torch.use_deterministic_algorithms)
# below; on a GPU, cuBLAS needs a fixed workspace for that.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"

if [[ -d "$DATA" ]]; then
    echo "[demo] using the dataset in $DATA"
else
    echo "[demo] generating a Cityscapes-format sample in $DATA"
    "$PY" tools/misc/make_sample_data.py cityscapes --out "$DATA"
fi

DATA_OPTS=(
    "train_dataloader.dataset.data_root=$DATA" "val_dataloader.dataset.data_root=$DATA"
    "test_dataloader.dataset.data_root=$DATA"
    'train_dataloader.dataset.pipeline.2.scale=(512,256)' 'val_dataloader.dataset.pipeline.1.scale=(512,256)'
    'test_dataloader.dataset.pipeline.1.scale=(512,256)'
)
echo "[demo] training $CONFIG for $ITERS iterations (work dir $WORK_DIR)"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --cfg-options \
    "train_cfg.max_iters=$ITERS" "train_cfg.val_interval=$ITERS" "param_scheduler.0.end=$ITERS" \
    "default_hooks.checkpoint.interval=$ITERS" default_hooks.logger.interval=50 \
    optim_wrapper.optimizer.lr=0.05 train_dataloader.batch_size=4 train_dataloader.num_workers=1 \
    'train_dataloader.dataset.pipeline.3.crop_size=(129,129)' 'model.data_preprocessor.size=(129,129)' \
    randomness.seed=0 randomness.deterministic=True "${DATA_OPTS[@]}"

echo "[demo] evaluating $WORK_DIR/iter_$ITERS.pth (mIoU and per-class IoU; coloured predictions in $WORK_DIR/vis)"
"$PY" tools/test.py "$CONFIG" "$WORK_DIR/iter_$ITERS.pth" --work-dir "$WORK_DIR" \
    --show-dir "$WORK_DIR/vis" --cfg-options "${DATA_OPTS[@]}"
