// Kept for trainer.ts until it reads the backend's capabilities from ops/backendOps.ts
// (`backendOps().inPlace`); the kernels themselves are in ops/.
import { backendOps } from './ops/backendOps';

/** Whether the active backend keeps tensors in memory that JS can read and write in place. */
export function inPlaceBackend(): boolean {
  return backendOps().inPlace;
}
