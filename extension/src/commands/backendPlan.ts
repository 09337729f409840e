// What "Install GPU Backend" can do on this machine. No `vscode` import: unit-tested.

export interface BackendPlan {
  /** Packages worth installing, best first; empty when nothing can be installed here. */
  packages: string[];
  summary: string;
  detail: string;
}

export function backendPlan(m: { platform: string; arch: string; gpu?: string; npm: boolean; tfjsVersion: string }): BackendPlan {
  const where = `${m.platform}/${m.arch}`;
  if (!m.npm) {
    return {
      packages: [],
      summary: 'The GPU backend cannot be installed: npm was not found.',
      detail: `Install Node.js (with npm) from nodejs.org, or install the backend by hand:\n  npm install --prefix <extension storage>/native @tensorflow/tfjs-node-gpu@${m.tfjsVersion}\nMeanwhile the bundled wasm backend works everywhere.`,
    };
  }
  const gpuCapable = (m.platform === 'linux' && m.arch === 'x64') || (m.platform === 'win32' && m.arch === 'x64');
  const nativeCapable = gpuCapable || (m.platform === 'darwin' && (m.arch === 'x64' || m.arch === 'arm64'));
  if (!nativeCapable) {
    return {
      packages: [],
      summary: `No native TensorFlow backend exists for ${where}.`,
      detail: '@tensorflow/tfjs-node ships prebuilt binaries for Linux x64, Windows x64 and macOS only. The bundled wasm backend (SIMD) is the fastest choice here.',
    };
  }
  if (!gpuCapable) {
    return {
      packages: ['@tensorflow/tfjs-node'],
      summary: `TensorFlow has no GPU build for ${where}; the native CPU backend can be installed instead.`,
      detail: '@tensorflow/tfjs-node-gpu needs CUDA on Linux or Windows x64. @tensorflow/tfjs-node (native TensorFlow on the CPU) is usually several times faster than wasm for the larger presets.',
    };
  }
  if (!m.gpu) {
    return {
      packages: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
      summary: 'No NVIDIA GPU was found (nvidia-smi did not answer): the native CPU backend is the useful one here.',
      detail: '@tensorflow/tfjs-node-gpu needs an NVIDIA GPU with its driver, CUDA 11.2 and cuDNN 8.1. Without them the engine would fall back to the next backend, so installing @tensorflow/tfjs-node (native CPU) is the better choice on this machine.',
    };
  }
  return {
    packages: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'],
    summary: `Install the GPU backend for ${m.gpu.split('\n')[0]}?`,
    detail: '@tensorflow/tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1 libraries on the library path; if they are missing the engine says so in its log and uses the next backend.',
  };
}
