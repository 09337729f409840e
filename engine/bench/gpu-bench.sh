#!/usr/bin/env bash
# The GPU measurement, run once on a GPU machine with no network (an H200 here): our engine on the
# webgpu backend (Dawn's Node binding over Vulkan) next to PyTorch CUDA, on the bench shapes, plus a
# short real training run, checkpoint and analysis on webgpu. Prints JSON lines and a table.
#
# usage: engine/bench/gpu-bench.sh BUNDLE_DIR OUT_DIR
#   BUNDLE_DIR holds: node (a Node 20+ binary; else the one on PATH), nm/ (the node_modules of
#   webgpu and @tensorflow/tfjs-backend-webgpu@4.22.0), ld_gpt.py and tinyshakespeare.txt.
#   (Made on a machine with the npm registry: `npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0`
#   in a scratch folder, its node_modules as nm/, and `node` copied beside it; tar + xz: ~32 MB.)
#   dist/engine must be built (npm run build). Vulkan: the NVIDIA ICD of the driver mount is used
#   when no other is configured; the loader (libvulkan1) must be installed.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=$1 OUT=$2
mkdir -p "$OUT"
NODE=$B/node; [ -x "$NODE" ] || NODE=$(command -v node)
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f $icd ] && export VK_DRIVER_FILES=$icd
# The engine looks for optional packages in $LDLENS_NATIVE_MODULES/node_modules (npm --prefix).
if [ -d "$B/nm" ] && [ ! -e "$B/native/node_modules" ]; then mkdir -p "$B/native" && mv "$B/nm" "$B/native/node_modules"; fi
export LDLENS_NATIVE_MODULES=$B/native
SHAPES=${SHAPES:-tiny,small,medium,large}
STEPS=${STEPS:-10}
echo "== machine"; nvidia-smi -L; $NODE -v; nproc; ldconfig -p | grep -E "libvulkan|libGLX|libGLdispatch|libEGL"
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1; cat "${VK_DRIVER_FILES:-/dev/null}"
echo "== WebGPU adapter (Dawn)"
probe() {
  VK_LOADER_DEBUG=${VK_LOADER_DEBUG:-error,warn} timeout 30 $NODE -e '
    const { create } = require(process.argv[1]);
    (async () => {
      for (const flags of [[], ["backend=vulkan"]]) {
        const a = await create(flags).requestAdapter({ powerPreference: "high-performance" });
        const i = a && a.info;
        console.log(JSON.stringify(flags), i ? JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, fallback: i.isFallbackAdapter }) : "no adapter");
      }
    })();' "$B/native/node_modules/webgpu/dist/linux-x64/dawn.node" 2>&1 | grep -v "artificially reduced" | head -30
}
probe
if [ -n "${VK_DRIVER_FILES:-}" ]; then echo "-- without VK_DRIVER_FILES"; (unset VK_DRIVER_FILES; probe); fi

echo "== ours, webgpu (one process per shape, so a slow shape cannot take the others' results)"
for s in ${SHAPES//,/ }; do
  timeout 80 $NODE dist/engine/cli.js bench --backend webgpu --shapes "$s" --steps "$STEPS" --warmup 3 --peak-gflops 67000 \
    --data "$B/tinyshakespeare.txt" --out "$OUT/webgpu-$s.json" 2>&1 | grep -v "artificially reduced" | tail -12
done

echo "== pytorch, cuda"
args=()
[ -n "${SKIP_TORCH:-}" ] && SHAPES_T= || SHAPES_T=$SHAPES
for s in ${SHAPES_T//,/ }; do
  case $s in
    tiny) args+=(--shape tiny:16,64,64,4,2) ;;
    small) args+=(--shape small:32,128,128,4,4) ;;
    medium) args+=(--shape medium:32,256,256,8,6) ;;
    large) args+=(--shape large:64,256,384,6,6) ;;
  esac
done
[ ${#args[@]} -eq 0 ] || timeout 100 python3 engine/bench/torch-gpu-bench.py --ref "$B/ld_gpt.py" --text "$B/tinyshakespeare.txt" --steps "$STEPS" "${args[@]}" | tee "$OUT/torch-cuda.jsonl"

echo "== ours, torch backend (a real supervised run per shape, its records included; next to the reference loop above)"
[ -n "${SKIP_TORCH_BACKEND:-}" ] || timeout 300 $NODE dist/engine/cli.js bench --torch-backend-only --python "${PYTHON:-python3}" \
  --shapes "$SHAPES" --steps "$STEPS" --warmup 3 --data "$B/tinyshakespeare.txt" --out "$OUT/torch-backend.json"

echo "== a real run on webgpu: train, checkpoint, analyze, sample"
run=$(mktemp -d)
timeout 80 $NODE dist/engine/cli.js train --backend webgpu --data "$B/tinyshakespeare.txt" --preset tiny --steps 60 \
  --set train.checkpointInterval=30 --set train.evalInterval=30 --out "$run/r" 2>&1 | grep -v "artificially reduced" | tail -6
ck=$(ls -d "$run"/r/checkpoints/step-* | tail -1)
timeout 30 $NODE dist/engine/cli.js analyze --backend webgpu --checkpoint "$ck" --text "To be, or not to be" 2>&1 | tail -8
timeout 30 $NODE dist/engine/cli.js sample --backend webgpu --checkpoint "$ck" --tokens 60 2>&1 | tail -3
cp "$run/r/metrics.jsonl" "$OUT/webgpu-run-metrics.jsonl" 2>/dev/null
echo "== done"
