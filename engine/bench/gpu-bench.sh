#!/usr/bin/env bash
# The GPU measurement, run once on a GPU machine with no network (an H200 here): our engine on the
# webgpu backend (Dawn's Node binding over Vulkan) next to PyTorch CUDA, on the bench shapes, plus a
# short real training run, checkpoint and analysis on webgpu. Prints JSON lines and a table.
#
# usage: engine/bench/gpu-bench.sh BUNDLE_DIR OUT_DIR
#   BUNDLE_DIR holds: node (a Node 20+ binary, used when none is on PATH), nm/ (node_modules with
#   webgpu and @tensorflow/tfjs-backend-webgpu@4.22.0), ld_gpt.py and tinyshakespeare.txt.
#   dist/engine must be built (npm run build). Vulkan: the NVIDIA ICD of the driver mount is used
#   when no other is configured; the loader (libvulkan1) must be installed.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=$1 OUT=$2
mkdir -p "$OUT"
NODE=$(command -v node || echo "$B/node")
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f $icd ] && export VK_DRIVER_FILES=$icd
export LDLENS_NATIVE_MODULES=$B/nm
SHAPES=${SHAPES:-tiny,small,medium,large}
STEPS=${STEPS:-10}
echo "== machine"; nvidia-smi -L; $NODE -v; nproc; ldconfig -p | grep -c libvulkan

echo "== ours, webgpu"
timeout 300 $NODE dist/engine/cli.js bench --backend webgpu --shapes "$SHAPES" --steps "$STEPS" --warmup 3 \
  --data "$B/tinyshakespeare.txt" --out "$OUT/webgpu.json" 2>&1 | tail -20

echo "== pytorch, cuda"
args=()
for s in ${SHAPES//,/ }; do
  case $s in
    tiny) args+=(--shape tiny:16,64,64,4,2) ;;
    small) args+=(--shape small:32,128,128,4,4) ;;
    medium) args+=(--shape medium:32,256,256,8,6) ;;
    large) args+=(--shape large:64,256,384,6,6) ;;
  esac
done
timeout 200 python3 engine/bench/torch-gpu-bench.py --ref "$B/ld_gpt.py" --text "$B/tinyshakespeare.txt" --steps "$STEPS" "${args[@]}" | tee "$OUT/torch-cuda.jsonl"

echo "== a real run on webgpu: train, checkpoint, analyze, sample"
run=$(mktemp -d)
timeout 150 $NODE dist/engine/cli.js train --backend webgpu --data "$B/tinyshakespeare.txt" --preset tiny --steps 60 \
  --set train.checkpointInterval=30 --set train.evalInterval=30 --out "$run/r" 2>&1 | tail -6
timeout 60 $NODE dist/engine/cli.js analyze --backend webgpu --checkpoint "$run/r/checkpoints/step-000060" --text "To be, or not to be" 2>&1 | tail -8
timeout 60 $NODE dist/engine/cli.js sample --backend webgpu --checkpoint "$run/r/checkpoints/step-000060" --tokens 60 2>&1 | tail -3
cp "$run/r/metrics.jsonl" "$OUT/webgpu-run-metrics.jsonl" 2>/dev/null
echo "== done"
