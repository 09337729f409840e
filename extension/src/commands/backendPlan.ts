// What "Install GPU Backend" can do on this machine. No `vscode` import: unit-tested.

/** One thing the user can install: a name for the button and the npm specs it takes. */
export interface BackendOption {
  name: string;
  specs: string[];
}

export interface BackendPlan {
  /** Options worth installing, best first; empty when nothing can be installed here. */
  options: BackendOption[];
  summary: string;
  detail: string;
}

/** The `webgpu` package (Dawn for Node) the engine was measured with (on an H200, Vulkan). */
export const WEBGPU_VERSION = '0.6.2';

/** Prebuilt Dawn bindings in the `webgpu` package: Vulkan (Linux), D3D12 (Windows), Metal (macOS). */
const WEBGPU_PLATFORMS = new Set(['linux/x64', 'linux/arm64', 'win32/x64', 'win32/arm64', 'darwin/x64', 'darwin/arm64']);

export function backendPlan(m: { platform: string; arch: string; gpu?: string; npm: boolean; tfjsVersion: string }): BackendPlan {
  const where = `${m.platform}/${m.arch}`;
  const webgpu: BackendOption = { name: 'WebGPU', specs: [`webgpu@${WEBGPU_VERSION}`, `@tensorflow/tfjs-backend-webgpu@${m.tfjsVersion}`] };
  const nodeGpu: BackendOption = { name: '@tensorflow/tfjs-node-gpu', specs: [`@tensorflow/tfjs-node-gpu@${m.tfjsVersion}`] };
  const nodeCpu: BackendOption = { name: '@tensorflow/tfjs-node', specs: [`@tensorflow/tfjs-node@${m.tfjsVersion}`] };
  const webgpuNote =
    'WebGPU (Dawn, prebuilt in the `webgpu` package) runs on the GPU driver already there (Vulkan, Metal or D3D12): no CUDA or cuDNN version to match.';
  if (!m.npm) {
    return {
      options: [],
      summary: 'The GPU backend cannot be installed: npm was not found.',
      detail: `Install Node.js (with npm) from nodejs.org, or install the backend by hand:\n  npm install --prefix <extension storage>/native ${webgpu.specs.join(' ')}\nMeanwhile the bundled wasm backend works everywhere.`,
    };
  }
  const hasWebGpu = WEBGPU_PLATFORMS.has(where);
  const cudaCapable = (m.platform === 'linux' && m.arch === 'x64') || (m.platform === 'win32' && m.arch === 'x64');
  const nativeCapable = cudaCapable || (m.platform === 'darwin' && (m.arch === 'x64' || m.arch === 'arm64'));
  if (!hasWebGpu && !nativeCapable) {
    return {
      options: [],
      summary: `No GPU or native backend exists for ${where}.`,
      detail: 'WebGPU (Dawn) and @tensorflow/tfjs-node ship prebuilt binaries for Linux, Windows and macOS on x64 (WebGPU also on arm64) only. The bundled wasm backend (SIMD) is the fastest choice here.',
    };
  }
  const options = [...(hasWebGpu ? [webgpu] : []), ...(cudaCapable && m.gpu ? [nodeGpu] : []), ...(nativeCapable ? [nodeCpu] : [])];
  if (m.gpu) {
    return {
      options,
      summary: `Install a GPU backend for ${m.gpu.split('\n')[0]}?`,
      detail: `${webgpuNote} @tensorflow/tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1 libraries on the library path; if a backend cannot start, the engine says why in its log and uses the next one.`,
    };
  }
  return {
    options,
    summary: `No NVIDIA GPU was found (nvidia-smi did not answer). ${hasWebGpu ? 'WebGPU can still use another GPU (AMD, Intel, Apple).' : 'The native CPU backend is the useful one here.'}`,
    detail: `${hasWebGpu ? webgpuNote + ' A software adapter (no GPU) is refused, and the engine falls back to the next backend. ' : ''}${nativeCapable ? '@tensorflow/tfjs-node (native TensorFlow on the CPU) is usually several times faster than wasm for the larger presets.' : ''}`,
  };
}
