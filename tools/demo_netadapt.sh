#!/usr/bin/env bash
# `make demo-netadapt`: the paper's NetAdapt step (Section 4.2) on this machine. The MobileNetV3-Large
# stand-in (configs/cls/mobilenet-v3-large_8xb512_in1k.py trained on the generated ImageNet-format sample,
# as in `make demo-int8`, here at 96x96 to keep it to minutes) is adapted to 0.8x its latency on ONNX
# Runtime (1 thread), then compared with the uniform width multiplier of the same measured latency, both
# fine-tuned from the seed's weights for the same number of iterations; held-out top-1 on 250 images.
#
# Environment: DEMO_EPOCHS (seed training, default 10), DEMO_WORK_DIR (default work_dirs/demo_netadapt),
#              DEMO_DATA (default data/imagenet), DEMO_SHAPE (default 96), DEMO_DELTA (default 0.04),
#              DEMO_SHORT (default 4), DEMO_LONG (default 60), DEMO_TARGET (default 0.8).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
CONFIG=configs/cls/mobilenet-v3-large_8xb512_in1k.py
EPOCHS="${DEMO_EPOCHS:-10}"
WORK_DIR="${DEMO_WORK_DIR:-work_dirs/demo_netadapt}"
DATA="${DEMO_DATA:-data/imagenet}"
SHAPE="${DEMO_SHAPE:-96}"
HELDOUT="$WORK_DIR/heldout"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

if [[ ! -d "$DATA" ]]; then
    echo "[demo-netadapt] generating an ImageNet-format sample in $DATA"
    "$PY" tools/misc/make_sample_data.py imagenet --out "$DATA"
fi
if [[ ! -d "$HELDOUT" ]]; then
    "$PY" tools/misc/make_sample_data.py imagenet --seed 1 --num-train 10 --num-val 250 --out "$HELDOUT"
fi
# the config as it is, at SHAPE x SHAPE; BN follows the weights quickly (short schedules)
SMALL=(train_dataloader.dataset.pipeline.1.scale="$SHAPE" val_dataloader.dataset.pipeline.1.scale=$((SHAPE * 8 / 7))
       val_dataloader.dataset.pipeline.2.crop_size="$SHAPE" test_dataloader.dataset.pipeline.1.scale=$((SHAPE * 8 / 7))
       test_dataloader.dataset.pipeline.2.crop_size="$SHAPE" model.backbone.norm_cfg.momentum=0.1
       train_dataloader.batch_size=16 train_dataloader.num_workers=1 val_dataloader.num_workers=1
       val_dataloader.batch_size=25 test_dataloader.num_workers=1 test_dataloader.batch_size=25)
DATA_OPTS=("train_dataloader.dataset.data_root=$DATA" "val_dataloader.dataset.data_root=$DATA")

SEED_CKPT="$WORK_DIR/seed/epoch_$EPOCHS.pth"
if [[ ! -f "$SEED_CKPT" ]]; then
    echo "[demo-netadapt] training the seed: $CONFIG, $EPOCHS epochs at ${SHAPE}x$SHAPE (work dir $WORK_DIR/seed)"
    "$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR/seed" --cfg-options "${DATA_OPTS[@]}" "${SMALL[@]}" \
        "test_dataloader.dataset.data_root=$DATA" "train_cfg.max_epochs=$EPOCHS" "train_cfg.val_interval=$EPOCHS" \
        "default_hooks.checkpoint.interval=$EPOCHS" default_hooks.logger.interval=13 \
        optim_wrapper.optimizer.lr=0.005 custom_hooks.1.momentum=0.2 randomness.seed=0
fi

echo "[demo-netadapt] NetAdapt to ${DEMO_TARGET:-0.8}x the seed's latency on ONNX Runtime (resumable: rerun to continue)"
start=$(date +%s)
"$PY" tools/search/netadapt.py "$CONFIG" --checkpoint "$SEED_CKPT" --target-ratio "${DEMO_TARGET:-0.8}" --runtime ort \
    --work-dir "$WORK_DIR/search" --shape "$SHAPE" --delta "${DEMO_DELTA:-0.04}" --short-iters "${DEMO_SHORT:-4}" \
    --long-iters "${DEMO_LONG:-60}" --lr 0.002 --cache "$WORK_DIR/latency_cache" --no-progress \
    --cfg-options "${DATA_OPTS[@]}" "${SMALL[@]}" "test_dataloader.dataset.data_root=$HELDOUT"
echo "[demo-netadapt] search wall time: $(( $(date +%s) - start )) s (this run)"

echo "[demo-netadapt] vs the uniform width multiplier of the same measured latency (held-out: $HELDOUT/val)"
"$PY" tools/search/compare_uniform.py "$CONFIG" --checkpoint "$SEED_CKPT" --netadapt-dir "$WORK_DIR/search" \
    --runtime ort --lr 0.002 --cache "$WORK_DIR/latency_cache" --no-progress --out "$WORK_DIR/compare.md" \
    --cfg-options "${DATA_OPTS[@]}" "${SMALL[@]}" "test_dataloader.dataset.data_root=$HELDOUT"
