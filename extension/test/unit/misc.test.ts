import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backendPlan } from '../../src/commands/backendPlan';
import { shiftRange } from '../../src/heatmap/offsets';
import { findOnPath, majorOf, resolveRuntime } from '../../src/engine/runtime';
import { describeCompute, formatCount, formatDuration, formatProgress } from '../../src/status/format';

describe('engine runtime choice', () => {
  it('uses the configured runtime when it is Node 20+', async () => {
    const r = await resolveRuntime({ configured: process.execPath });
    assert.equal(r.source, 'configured');
    assert.equal(r.command, process.execPath);
    assert.deepEqual(r.env, {});
  });

  it('rejects a configured runtime that does not exist or is too old', async () => {
    await assert.rejects(resolveRuntime({ configured: '/no/such/node' }), /does not exist/);
    const dir = mkdtempSync(join(tmpdir(), 'ldlens-rt-'));
    try {
      const old = join(dir, 'node');
      writeFileSync(old, '#!/bin/sh\necho v16.20.0\n');
      chmodSync(old, 0o755);
      await assert.rejects(resolveRuntime({ configured: old }), /needs Node 20 or newer/);
      // Found on PATH but too old: VS Code's own runtime with ELECTRON_RUN_AS_NODE.
      const r = await resolveRuntime({ pathVar: dir, execPath: '/opt/code/code' });
      assert.deepEqual(r, { command: '/opt/code/code', env: { ELECTRON_RUN_AS_NODE: '1' }, source: 'vscode' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds a system node on PATH', async () => {
    const dir = join(process.execPath, '..');
    assert.equal(findOnPath(`/nonexistent:${dir}`), process.execPath);
    const r = await resolveRuntime({ pathVar: dir });
    assert.equal(r.source, 'system');
    assert.equal(majorOf(r.version), Number(process.versions.node.split('.')[0]));
  });
});

describe('GPU backend plan', () => {
  const base = { npm: true, tfjsVersion: '4.22.0' };
  const names = (p: ReturnType<typeof backendPlan>) => p.options.map((o) => o.name);
  it('offers WebGPU first, then tfjs-node-gpu, on Linux x64 with an NVIDIA GPU', () => {
    const p = backendPlan({ ...base, platform: 'linux', arch: 'x64', gpu: 'NVIDIA H100, 550.54' });
    assert.deepEqual(names(p), ['WebGPU', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    assert.deepEqual(p.options[0].specs, ['webgpu@0.6.2', '@tensorflow/tfjs-backend-webgpu@4.22.0'], 'the webgpu backend matches tfjs-core');
    assert.deepEqual(p.options[1].specs, ['@tensorflow/tfjs-node-gpu@4.22.0']);
    assert.match(p.summary, /NVIDIA H100/);
  });
  it('without an NVIDIA GPU: WebGPU (other GPUs) and the native CPU build, never tfjs-node-gpu', () => {
    const p = backendPlan({ ...base, platform: 'linux', arch: 'x64' });
    assert.deepEqual(names(p), ['WebGPU', '@tensorflow/tfjs-node']);
    assert.match(p.summary, /No NVIDIA GPU/);
  });
  it('explains where nothing can be installed', () => {
    assert.deepEqual(backendPlan({ ...base, platform: 'freebsd', arch: 'x64' }).options, []);
    assert.match(backendPlan({ ...base, platform: 'freebsd', arch: 'x64' }).summary, /No GPU or native backend exists for freebsd\/x64/);
    assert.match(backendPlan({ ...base, npm: false, platform: 'linux', arch: 'x64' }).summary, /npm was not found/);
    assert.deepEqual(names(backendPlan({ ...base, platform: 'darwin', arch: 'arm64' })), ['WebGPU', '@tensorflow/tfjs-node']);
    assert.deepEqual(names(backendPlan({ ...base, platform: 'linux', arch: 'arm64' })), ['WebGPU']);
  });
});

describe('progress text', () => {
  it('formats step/total, loss and tokens/s', () => {
    const f = formatProgress({ name: 'r', step: 30, totalSteps: 60, loss: 2.41234, tokensPerSec: 12345, etaSeconds: 75 });
    assert.equal(f.short, '30/60 · loss 2.412 · 12k tok/s');
    assert.equal(f.long, 'Step 30 of 60 (50%) · loss 2.412 · 12k tok/s · about 1m 15s left');
    assert.equal(formatProgress({ name: 'r', step: 0, totalSteps: 60, loss: null, tokensPerSec: null, etaSeconds: null }).short, '0/60');
  });
  it('describes the engine\'s compute backend without the why', () => {
    const attempts = [
      { name: 'tensorflow-gpu', ok: false, reason: '@tensorflow/tfjs-node-gpu is not installed' },
      { name: 'wasm', ok: true, reason: 'first backend in the auto order that works; 1 thread; native kernels: OpenBLAS 0.3.21, 2 threads' },
    ];
    assert.equal(describeCompute({ backend: 'wasm', attempts }), 'wasm (1 thread; native kernels: OpenBLAS 0.3.21, 2 threads)');
    assert.equal(describeCompute({ backend: 'cpu', attempts: [{ name: 'cpu', ok: true, reason: 'requested' }] }), 'cpu');
    assert.equal(describeCompute(undefined), undefined);
  });
  it('formats counts and durations', () => {
    assert.equal(formatCount(950), '950');
    assert.equal(formatCount(1234), '1.2k');
    assert.equal(formatCount(2_500_000), '2.5M');
    assert.equal(formatDuration(3725), '1h 02m');
  });
});

describe('shiftRange (a watched selection through edits)', () => {
  it('shifts with edits before it, grows with edits inside it, ignores edits after it', () => {
    assert.deepEqual(shiftRange(10, 20, [{ offset: 0, deleteLength: 0, insertLength: 5 }]), { start: 15, end: 25 });
    assert.deepEqual(shiftRange(10, 20, [{ offset: 12, deleteLength: 2, insertLength: 6 }]), { start: 10, end: 24 });
    assert.deepEqual(shiftRange(10, 20, [{ offset: 25, deleteLength: 3, insertLength: 0 }]), { start: 10, end: 20 });
    assert.deepEqual(shiftRange(10, 20, [{ offset: 5, deleteLength: 10, insertLength: 1 }]), { start: 5, end: 11 });
  });
});
