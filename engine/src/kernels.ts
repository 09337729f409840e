// Kept for trainer.ts until it reads the backend's capabilities from ops/backendOps.ts
// (`backendOps().inPlace`); the kernels themselves moved to ops/kernels.ts.
export { inPlaceBackend } from './ops/kernels';
