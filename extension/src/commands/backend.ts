// Install GPU Backend: `npm install` WebGPU (Dawn + tfjs's webgpu backend), `@tensorflow/tfjs-node-gpu`
// or `tfjs-node` (the native CPU build) into the extension's storage, which the engine loads
// through LDLENS_NATIVE_MODULES.
// Says plainly why it cannot where it cannot (platform, no NVIDIA driver, no npm, no network).
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { nativeModulesDir } from '../engine/engineService';
import { findOnPath } from '../engine/runtime';
import type { Services } from '../services';
import { backendPlan } from './backendPlan';

function run(cmd: string, args: string[], timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => execFile(cmd, args, { timeout: timeoutMs, windowsHide: true }, (err, out) => resolve(err ? undefined : out.trim())));
}

/** npm on PATH, else the npm next to the `node` on PATH. */
async function findNpm(): Promise<string | undefined> {
  const name = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (await run(name, ['--version'])) return name;
  const node = findOnPath();
  const beside = node && path.join(path.dirname(node), name);
  return beside && fs.existsSync(beside) && (await run(beside, ['--version'])) ? beside : undefined;
}

export async function installGpuBackendCommand(s: Services): Promise<boolean> {
  const tfjsVersion = String((s.context.extension.packageJSON as { dependencies?: Record<string, string> }).dependencies?.['@tensorflow/tfjs-core'] ?? '4.22.0').replace(/^[\^~]/, '');
  const gpu = await run('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader']);
  const npm = await findNpm();
  const plan = backendPlan({ platform: process.platform, arch: process.arch, gpu: gpu ?? undefined, npm: !!npm, tfjsVersion });
  const dir = nativeModulesDir(s.context);
  s.log.info(`install backend: ${plan.summary}`);
  if (plan.options.length === 0) {
    void vscode.window.showWarningMessage(plan.summary, { modal: true, detail: plan.detail });
    return false;
  }
  const choice = await vscode.window.showInformationMessage(
    plan.summary,
    { modal: true, detail: `${plan.detail}\n\nIt will be installed with npm into:\n${dir}\n\nWebGPU downloads about 140 MB from the npm registry; the TensorFlow packages about 300 MB (npm registry, and TensorFlow's native library from Google's storage).` },
    ...plan.options.map((o) => `Install ${o.name}`),
  );
  if (!choice) return false;
  const option = plan.options.find((o) => choice === `Install ${o.name}`)!;
  const pkg = option.name;
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(path.join(dir, 'package.json'))) fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "ldlens-native-backends", "private": true }\n');
  const ok = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Installing ${pkg}`, cancellable: true }, (progress, token) =>
    new Promise<boolean>((resolve) => {
      const child = spawn(npm!, ['install', '--no-audit', '--no-fund', '--omit=dev', ...option.specs], { cwd: dir, shell: process.platform === 'win32', windowsHide: true });
      token.onCancellationRequested(() => child.kill());
      const tail: string[] = [];
      const onData = (b: Buffer) => {
        for (const line of b.toString().split(/\r?\n/)) {
          if (!line.trim()) continue;
          s.log.info(`[npm] ${line}`);
          tail.push(line);
          if (tail.length > 8) tail.shift();
          progress.report({ message: line.slice(0, 80) });
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', (e) => {
        s.log.error(`npm: ${e.message}`);
        resolve(false);
      });
      child.on('exit', (code) => {
        if (code === 0) return resolve(true);
        const offline = tail.some((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|getaddrinfo/.test(l));
        void vscode.window
          .showErrorMessage(
            `Installing ${pkg} failed${offline ? ': this machine cannot reach the npm registry or TensorFlow\'s download server' : ` (npm exited with ${code})`}. The bundled wasm backend keeps working.`,
            'Show Engine Log',
          )
          .then((a) => a && s.log.show(true));
        resolve(false);
      });
    }),
  );
  if (!ok) return false;
  const restart = await vscode.window.showInformationMessage(`${pkg} is installed. Restart the engine to use it?`, 'Restart Engine');
  if (restart) await vscode.commands.executeCommand('ldlens.restartEngine');
  return true;
}
