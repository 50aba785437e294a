#!/usr/bin/env bash
# `make demo-int8`: MobileNetV3-Large (configs/cls/mobilenet-v3-large_8xb512_in1k.py) trained for a short
# schedule on a generated ImageNet-format sample, quantized to int8 with ONNX Runtime and with OpenVINO + NNCF
# (mmv3's recipes, calibrated on the training images), their top-1 agreement with the float model (and that of
# OpenVINO's bf16 hint) measured on 250 held-out images, and single-thread latency of float, int8 and bf16
# timed against torchvision's and timm's MobileNetV3-Large through the same runtimes.
#
# The config is used as it is; --cfg-options shrink the schedule (25 epochs of 200 images, batch 16) and
# make BN / EMA follow the weights quickly. No ImageNet weights can be downloaded here: this trained
# stand-in (about 60-85% top-1 on 10 classes) is what the agreement is measured on.
# Training is seeded (DEMO_SEED) with mmengine's deterministic mode (randomness.deterministic=True): the same
# seed gives the same checkpoint, bit for bit (checked for seed 0), so the agreement is reported per seed:
# `for s in 0 1 2; do DEMO_SEED=$s make demo-int8; done`.
# Environment: DEMO_EPOCHS (default 25), DEMO_SEED (default 0),
#              DEMO_WORK_DIR (default work_dirs/demo_int8_v3_large, with _seed<N> appended for DEMO_SEED != 0),
#              DEMO_DATA (default data/imagenet: generated there if that folder does not exist),
#              PY (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"  # (PY: another interpreter, e.g. a shared environment)
CONFIG=configs/cls/mobilenet-v3-large_8xb512_in1k.py
EPOCHS="${DEMO_EPOCHS:-25}"
SEED="${DEMO_SEED:-0}"
[[ "$SEED" =~ ^[0-9]+$ ]] || { echo "demo_int8.sh: error: DEMO_SEED must be a non-negative integer, got '$SEED'" >&2; exit 2; }
DEFAULT_WORK_DIR=work_dirs/demo_int8_v3_large
[[ "$SEED" == 0 ]] || DEFAULT_WORK_DIR="${DEFAULT_WORK_DIR}_seed$SEED"
WORK_DIR="${DEMO_WORK_DIR:-$DEFAULT_WORK_DIR}"
DATA="${DEMO_DATA:-data/imagenet}"
HELDOUT="$WORK_DIR/heldout"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

if [[ -d "$DATA" ]]; then
    echo "[demo-int8] using the dataset in $DATA"
else
    echo "[demo-int8] generating an ImageNet-format sample in $DATA"
    "$PY" tools/misc/make_sample_data.py imagenet --out "$DATA"
fi
if [[ ! -d "$HELDOUT" ]]; then
    "$PY" tools/misc/make_sample_data.py imagenet --seed 1 --num-train 10 --num-val 250 --out "$HELDOUT"
fi

echo "[demo-int8] training $CONFIG for $EPOCHS epochs, seed $SEED, deterministic (work dir $WORK_DIR)"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --cfg-options \
    "train_dataloader.dataset.data_root=$DATA" "val_dataloader.dataset.data_root=$DATA" \
    "test_dataloader.dataset.data_root=$DATA" train_dataloader.batch_size=16 train_dataloader.num_workers=1 \
    val_dataloader.num_workers=1 val_dataloader.batch_size=25 "train_cfg.max_epochs=$EPOCHS" \
    "train_cfg.val_interval=$EPOCHS" "default_hooks.checkpoint.interval=$EPOCHS" default_hooks.logger.interval=13 \
    optim_wrapper.optimizer.lr=0.005 custom_hooks.1.momentum=0.2 model.backbone.norm_cfg.momentum=0.1 \
    "randomness.seed=$SEED" randomness.deterministic=True
CKPT="$WORK_DIR/epoch_$EPOCHS.pth"

echo "[demo-int8] ONNX Runtime int8 (calibration: $DATA/train) and its agreement on $HELDOUT/val"
"$PY" tools/deployment/quantize.py "$CONFIG" "$CKPT" --calib-dir "$DATA/train" --eval-dir "$HELDOUT/val" \
    --out-dir "$WORK_DIR/deploy"

echo "[demo-int8] OpenVINO int8 (NNCF, mmv3's recipe) and bf16 hint, agreement on $HELDOUT/val"
"$PY" tools/deployment/quantize.py "$CONFIG" "$CKPT" --calib-dir "$DATA/train" --eval-dir "$HELDOUT/val" \
    --out-dir "$WORK_DIR/deploy" --backend openvino

echo "[demo-int8] latency, 1 thread, batch 1, 224x224: float / int8 / bf16, ours vs torchvision / timm"
"$PY" tools/analysis_tools/benchmark.py "$CONFIG" --checkpoint "$CKPT" --compare --modes ort,ort-int8,ov-bf16,ov-int8 \
    --repeat 100 --calib-dir "$DATA/train" --no-progress --work-dir "$WORK_DIR/bench" --out "$WORK_DIR/bench.md"
