// Launch scripts for a run on a cluster: the run folder (prepared here, as for a local torch run)
// gets its own copy of the ldtorch package and two scripts,
//
//   RUN/torch/launch-torchrun.sh      one node, --nproc-per-node processes (torchrun --standalone)
//   RUN/torch/launch-slurm.sbatch     --nodes nodes × --gpus-per-node processes (sbatch it)
//
// so that the folder, copied to (or created on) the cluster's shared filesystem, trains there with
// nothing of this engine installed: a Python with torch is all it needs. Rank 0 writes the run
// folder; `ldlens follow --run DIR` (or Follow Run Folder) shows it live from another machine.
import { chmodSync, cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../fsutil';
import type { TrainSetup } from '../train/runSetup';
import { prepareTorchResume, prepareTorchRun, type PreparedRun } from './prepare';
import { torchPackageDir } from './python';
import { WORKER_CPU_DEFAULTS } from './worker';

export interface ClusterOptions {
  nodes: number;
  gpusPerNode: number;
  /** The Python on the cluster (with torch); default python3. */
  python?: string;
  partition?: string;
  /** Slurm's --time, e.g. 04:00:00. */
  time?: string;
  /** Rendezvous port on the first node. */
  port?: number;
  /** The job's device: cuda (default: a cluster run without its GPUs fails rather than crawl on CPUs), or auto, cpu, mps. */
  device?: string;
}

/** The worker's CPU defaults (worker.ts), as one `export` line where values set before win. */
const cpuEnvLine = 'export ' + Object.entries(WORKER_CPU_DEFAULTS).map(([k, v]) => `${k}=\${${k}:-${v}}`).join(' ');

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function scripts(run: PreparedRun, o: ClusterOptions): { torchrun: string; slurm: string } {
  const py = o.python ?? 'python3';
  const header = (what: string) => `# ${what} for run ${run.meta.id} (written by ldlens cluster-script).
# The run folder is this script's parent's parent; it holds everything the training reads and writes.
set -euo pipefail
RUN_DIR="$(cd "$(dirname "\${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$RUN_DIR/torch\${PYTHONPATH:+:$PYTHONPATH}"
# glibc malloc keeps each step's large tensors (unset, the loop page-faulted them in every step: ldlens
# starts its own worker so too); one OpenBLAS thread per torch thread. Values set before win.
${cpuEnvLine}
PYTHON=\${PYTHON:-${sh(py)}}
`;
  const train = `-m ldtorch.train --job "$RUN_DIR/torch/job.json"`;
  const torchrun = `#!/usr/bin/env bash
${header(`One node, ${o.gpusPerNode} process${o.gpusPerNode > 1 ? 'es' : ''}`)}# ldtorch.launch is torchrun (with torch 1.13's Python 3.11 bug mended). Stop: touch "$RUN_DIR/torch/stop"
# (a checkpoint, then exit), or Ctrl-C.
exec "$PYTHON" -m ldtorch.launch --standalone --nproc_per_node ${o.gpusPerNode} ${train}
`;
  const slurm = `#!/usr/bin/env bash
#SBATCH --job-name=ldlens-${run.meta.id.slice(0, 40)}
#SBATCH --nodes=${o.nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=${o.gpusPerNode}
${o.partition ? `#SBATCH --partition=${o.partition}\n` : ''}${o.time ? `#SBATCH --time=${o.time}\n` : ''}#SBATCH --output=%x-%j.out
# sbatch this file from anywhere. Slurm runs a copy of it, so the run folder is named by its
# absolute path here: edit RUN_DIR if the folder lives elsewhere on the cluster.
set -euo pipefail
RUN_DIR=${sh(run.dir)}
export PYTHONPATH="$RUN_DIR/torch\${PYTHONPATH:+:$PYTHONPATH}"
# glibc malloc keeps each step's large tensors (unset, the loop page-faulted them in every step: ldlens
# starts its own worker so too); one OpenBLAS thread per torch thread. Values set before win.
${cpuEnvLine}
PYTHON=\${PYTHON:-${sh(py)}}
# ${o.nodes} node(s) × ${o.gpusPerNode} process(es): one torchrun per node, rendezvous on the first node.
# Stop: touch "$RUN_DIR/torch/stop" (every rank stops after the same step; rank 0 checkpoints).
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
srun --kill-on-bad-exit=1 "$PYTHON" -m ldtorch.launch --nnodes ${o.nodes} --nproc_per_node ${o.gpusPerNode} \\
  --rdzv_id "$SLURM_JOB_ID" --rdzv_backend c10d --rdzv_endpoint "$HEAD:${o.port ?? 29500}" \\
  ${train}
`;
  return { torchrun, slurm };
}

/** Prepares the run (a new one from `setup`, or `resume` an existing folder) and writes its scripts. */
export async function writeClusterScripts(what: { setup: TrainSetup } | { resume: string; steps?: number }, o: ClusterOptions): Promise<{ run: PreparedRun; files: string[] }> {
  const world = o.nodes * o.gpusPerNode;
  const launch = { nproc: world, device: o.device ?? 'cuda', supervised: false };
  const run = 'setup' in what ? await prepareTorchRun(what.setup, launch) : await prepareTorchResume(what.resume, what.steps, launch);
  // An unsupervised run: nobody's pid owns it until rank 0 writes its own.
  run.meta.status = 'stopped';
  run.meta.pid = undefined;
  writeFileAtomicSync(join(run.dir, 'run.json'), JSON.stringify(run.meta, null, 1) + '\n');
  const pkg = join(run.dir, 'torch', 'ldtorch');
  if (existsSync(pkg)) rmSync(pkg, { recursive: true, force: true });
  cpSync(join(torchPackageDir(), 'ldtorch'), pkg, { recursive: true, filter: (src) => !src.includes('__pycache__') });
  const s = scripts(run, o);
  const files = [join(run.dir, 'torch', 'launch-torchrun.sh'), join(run.dir, 'torch', 'launch-slurm.sbatch')];
  writeFileAtomicSync(files[0], s.torchrun);
  writeFileAtomicSync(files[1], s.slurm);
  for (const f of files) chmodSync(f, 0o755);
  return { run, files };
}
