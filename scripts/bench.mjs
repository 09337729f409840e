// `npm run bench`: every benchmark of the project in one go, on this machine, written to
// bench-results/bench.json and summarized as one table.
//   1. engine vs PyTorch, side by side on the same shapes (tiny, small) and corpus: training and
//      inference tokens/s, their ratio, and the GFLOP/s reached against the machine's peak
//      (`ldlens bench --compare-torch`, which runs ../shared/reference/torch-bench.sh per shape);
//   2. analysis latency of a 2,000-character document on a freshly trained tiny checkpoint, in
//      process and through the real engine process over JSON-RPC (`analyze`);
//   3. the webviews' real-browser benchmark (webview/test/browser/bench.ts --json);
//   4. the extension's heatmap/hover pipeline (extension/bench/heatmap.bench.ts --json);
//   5. analysis throughput vs the plain forward pass (engine/bench/analysis.bench.ts) and Analyze
//      Document to paint, idle, while tiny trains and for a 2 MB document (extension/bench/analyzeToPaint.bench.ts).
// A part that cannot run (no PyTorch, no Chromium) is recorded with its error, not faked.
// Usage: node scripts/bench.mjs [--steps N] [--rounds N] [--shapes tiny,small] [--quick] [--skip-webview]
//   (npm run bench builds first). LDLENS_THREADS sets the wasm backend's threads.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const quick = flag('--quick');
const steps = opt('--steps', quick ? '4' : '30'); // and 5 warm-up steps (ldlens bench's default), both sides
const shapes = opt('--shapes', 'tiny,small');
const rounds = opt('--rounds', quick ? '1' : '2'); // ours and PyTorch alternate; each keeps its best round
const data = resolve(root, opt('--data', '../shared/data/tinyshakespeare.txt'));
const outDir = join(root, 'bench-results');
const cli = join(root, 'dist/engine/cli.js');
const t0 = Date.now();
mkdirSync(outDir, { recursive: true });

const log = (m) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${m}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadAvg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** Runs a command; its last stdout line that parses as JSON, or an error with its stderr's tail. */
function runJson(cmd, argv, { timeoutMs = 600_000, env } = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status === 0 && line) {
    try {
      return { ok: JSON.parse(line) };
    } catch {
      /* fall through */
    }
  }
  const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
  return { error: `${[cmd, ...argv].join(' ')}: ${why}: ${(r.stderr ?? '').trim().split('\n').slice(-4).join(' | ')}` };
}

const result = {
  about: 'npm run bench (scripts/bench.mjs); see README "Speed"',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAvgAtStart: loadAvg() },
  engine: null,
  analysis: null,
  analysisSpeed: null,
  webview: null,
  extension: null,
};

if (!existsSync(cli)) {
  console.error('dist/engine/cli.js is missing: run `npm run build` first (npm run bench does)');
  process.exit(1);
}

// ----------------------------------------------------------------------------- a trained tiny checkpoint
const runDir = join(outDir, 'tiny-run');
rmSync(runDir, { recursive: true, force: true });
log('training a tiny checkpoint for the analysis latency (60 steps)');
const trained = runJson(process.execPath, [cli, 'train', '--data', data, '--preset', 'tiny', '--steps', '60', '--set', 'train.evalInterval=60', '--set', 'train.checkpointInterval=60', '--out', runDir, '--json']);
const haveCheckpoint = !trained.error;
if (trained.error) log(`training failed: ${trained.error}`);

// ----------------------------------------------------------------------------- engine vs PyTorch
log(`engine and PyTorch, shapes ${shapes}, ${steps} steps, ${rounds} rounds each (load ${loadAvg().join(' ')})`);
const engineArgs = [cli, 'bench', '--shapes', shapes, '--steps', steps, '--rounds', rounds, '--data', data, '--compare-torch', '--json', '--out', join(outDir, 'engine.json')];
// our torch backend's training rows (engine/src/torch/bench.ts), where a Python with torch answers
if (process.env.LDLENS_BENCH_TORCH_BACKEND !== '0') engineArgs.push('--torch-backend', '--python', process.env.LDLENS_PYTHON || '/usr/bin/python3');
if (haveCheckpoint) engineArgs.push('--analyze-checkpoint', runDir, '--analyze-chars', '2000', '--analyze-runs', '9');
const eng = runJson(process.execPath, engineArgs, { timeoutMs: 900_000 });
result.engine = eng.ok ?? { error: eng.error };

// ----------------------------------------------------------------------------- analysis over JSON-RPC
async function rpcAnalysis() {
  const rpc = require('vscode-jsonrpc/node');
  const doc = readFileSync(data, 'utf8');
  const start = Math.floor(doc.length / 3);
  const text = doc.slice(start, start + 2000);
  const child = spawn(process.execPath, [cli, 'serve'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  conn.onNotification(() => {});
  conn.listen();
  try {
    const ts = performance.now();
    const init = await conn.sendRequest('initialize', { clientName: 'bench' });
    const startMs = performance.now() - ts;
    const times = [];
    let tokens = 0;
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const a = await conn.sendRequest('analyze', { checkpoint: runDir, text });
      times.push(performance.now() - t);
      tokens = a.tokens.length;
    }
    const warm = times.slice(1);
    return {
      chars: text.length,
      tokens,
      backend: init.backend,
      attempts: init.attempts,
      engineStartMs: Math.round(startMs),
      firstMs: Math.round(times[0]), // loads the checkpoint
      medianMs: Math.round(median(warm) * 10) / 10,
      minMs: Math.round(Math.min(...warm) * 10) / 10,
      maxMs: Math.round(Math.max(...warm) * 10) / 10,
      runs: warm.length,
    };
  } catch (e) {
    return { error: `${e.message}; engine stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}` };
  } finally {
    conn.dispose();
    child.stdin.end();
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  }
}
if (haveCheckpoint) {
  log('analysis latency through the engine process (JSON-RPC analyze)');
  result.analysis = { document: '2,000 characters of the bench corpus, tiny checkpoint after 60 steps', inProcess: result.engine?.analysis ?? null, jsonRpc: await rpcAnalysis() };
} else result.analysis = { error: `no checkpoint: ${trained.error}` };

// ----------------------------------------------------------------------------- analysis throughput and Analyze-to-paint
// A 20,000-character document's analysis against the plain forward pass over the same windows;
// Analyze Document to paint (20 kB: visible range and whole; 2,000 lines while tiny trains: first
// paint; 2 MB painted whole, with memory), through a real engine process.
if (haveCheckpoint) {
  log('analysis throughput of 20,000 characters vs the plain forward pass (engine/bench/analysis.bench.ts)');
  const th = runJson(process.execPath, ['--import', 'tsx', 'engine/bench/analysis.bench.ts', '--checkpoint', runDir, '--data', data, '--chars', '20000', '--rounds', rounds === '1' ? '1' : '3'], { timeoutMs: 600_000 });
  log('Analyze Document to paint (extension/bench/analyzeToPaint.bench.ts)');
  const scen = quick ? 'doc20k,training' : 'doc20k,training,doc2mb';
  const ap = runJson(process.execPath, ['--expose-gc', '--import', 'tsx', 'extension/bench/analyzeToPaint.bench.ts', '--checkpoint', runDir, '--data', data, '--scenarios', scen, '--runs', '3', '--json'], { timeoutMs: 1_800_000 });
  result.analysisSpeed = { throughput: th.ok ?? { error: th.error }, toPaint: ap.ok ?? { error: ap.error } };
} else result.analysisSpeed = { error: `no checkpoint: ${trained.error}` };

// ----------------------------------------------------------------------------- webviews and extension
if (flag('--skip-webview')) result.webview = { skipped: '--skip-webview' };
else {
  log('webview benchmark (headless Chromium)');
  const wv = runJson(process.execPath, ['--import', 'tsx', 'webview/test/browser/bench.ts', '--json'], { timeoutMs: 300_000 });
  result.webview = wv.ok ?? { error: wv.error };
}
log('extension heatmap and hover pipeline');
const ext = existsSync(join(root, 'extension/bench/heatmap.bench.ts'))
  ? runJson(process.execPath, ['--import', 'tsx', 'extension/bench/heatmap.bench.ts', '--json'])
  : { error: 'extension/bench/heatmap.bench.ts not found' };
result.extension = {
  heatmapAndHover: ext.ok ?? { error: ext.error },
  // VS Code's own setDecorations/hover round trip needs a running VS Code: the e2e suite measures it.
  editorDecorationsMs: null,
  editorDecorationsWhyNull: 'measured inside VS Code by the e2e suite, not by this script',
};
result.machine.loadAvgAtEnd = loadAvg();
result.totalSeconds = Math.round((Date.now() - t0) / 1000);
writeFileSync(join(outDir, 'bench.json'), JSON.stringify(result, null, 1) + '\n');

// ----------------------------------------------------------------------------- summary
const f = (n) => (n == null ? '-' : Math.round(n).toLocaleString('en-US'));
const r2 = (n) => (n == null ? '-' : n.toFixed(2));
const lines = [];
if (result.engine?.rows) {
  const peak = result.engine.peakGflops;
  lines.push(`engine: ${result.engine.rows[0]?.ours.impl} (${result.engine.rows[0]?.ours.threads} threads) vs ${result.engine.rows.find((r) => r.torch)?.torch.impl ?? 'PyTorch (not run)'}; GFLOP/s against a peak of ${peak}`);
  lines.push('shape | train tok/s ours | torch  | ratio | infer tok/s ours | torch   | ratio | ours GFLOP/s train / infer (% peak) | torch train / infer');
  for (const r of result.engine.rows)
    lines.push(
      `${r.shape.padEnd(5)} | ${f(r.ours.trainTokensPerSec).padStart(16)} | ${f(r.torch?.trainTokensPerSec).padStart(6)} | ${r2(r.trainRatio).padStart(5)} | ${f(r.ours.inferTokensPerSec).padStart(16)} | ${f(r.torch?.inferTokensPerSec).padStart(7)} | ${r2(r.inferRatio).padStart(5)} | ` +
        `${r.trainGflops.toFixed(1)} (${r.trainPeakPct.toFixed(1)}%) / ${r.inferGflops.toFixed(1)} (${r.inferPeakPct.toFixed(1)}%) | ${r.torchTrainGflops?.toFixed(1) ?? '-'} / ${r.torchInferGflops?.toFixed(1) ?? '-'}`,
    );
  for (const r of result.engine.rows) if (r.torchError) lines.push(`torch ${r.shape}: ${r.torchError}`);
  for (const r of result.engine.rows)
    if (r.torchBackend || r.torchBackendError)
      lines.push(`torch backend ${r.shape}: ${r.torchBackend ? `${f(r.torchBackend.trainTokensPerSec)} train tok/s (${r.torchBackend.impl})${r.torch ? `, ${(r.torchBackend.trainTokensPerSec / r.torch.trainTokensPerSec).toFixed(2)}x the reference PyTorch loop` : ''}` : r.torchBackendError}`);
} else lines.push(`engine: ${result.engine?.error}`);
const an = result.analysis;
if (an?.inProcess) lines.push(`analysis, 2,000 characters (${an.inProcess.tokens} tokens): in process ${an.inProcess.medianMs.toFixed(1)} ms (median of ${an.inProcess.runs})`);
if (an?.jsonRpc) lines.push(an.jsonRpc.error ? `analysis over JSON-RPC: ${an.jsonRpc.error}` : `analysis over JSON-RPC: ${an.jsonRpc.medianMs} ms median (first, with the checkpoint load: ${an.jsonRpc.firstMs} ms; engine start ${an.jsonRpc.engineStartMs} ms)`);
if (an?.error) lines.push(`analysis: ${an.error}`);
const as = result.analysisSpeed;
if (as?.throughput?.tokens) {
  const t = as.throughput;
  lines.push(
    `analysis of ${t.chars.toLocaleString('en-US')} characters: kept (what the editor waits for) ${f(t.kept.tokensPerSec)} tok/s, full JSON ${f(t.full.tokensPerSec)} tok/s, ` +
      `plain forward over the same ${t.windows} windows ${f(t.forward.tokensPerSec)} tok/s: ${r2(t.keptRatio)}x (CPU time ${r2(t.keptRatioCpu)}x; goal 0.5x)`,
  );
} else if (as) lines.push(`analysis throughput: ${as.error ?? as.throughput?.error}`);
const tp = as?.toPaint;
if (tp?.doc20k) lines.push(`Analyze Document, 20 kB: visible range painted in ${tp.doc20k.visibleMs.median} ms, whole in ${tp.doc20k.fullMs.median} ms (medians of ${tp.doc20k.fullMs.runs}; goals 300 ms / 1 s idle)`);
if (tp?.duringTraining) lines.push(`Analyze Document, 2,000 lines while tiny trains: first paint ${tp.duringTraining.firstPaintMs.median} ms (median of ${tp.duringTraining.firstPaintMs.runs}; goal 2 s)`);
if (tp?.doc2mb) lines.push(`2 MB document: visible ${tp.doc2mb.visibleMs} ms, painted whole in ${Math.round(tp.doc2mb.fullMs / 1000)} s; peak RSS engine ${tp.doc2mb.engine?.peakRssMb} MB, extension side ${tp.doc2mb.extension?.after?.peakRssMb} MB`);
if (tp?.error) lines.push(`Analyze to paint: ${tp.error}`);
const wv = result.webview;
if (wv?.error || wv?.skipped) lines.push(`webview: ${wv.error ?? wv.skipped}`);
else if (wv?.explorer) {
  const e = wv.explorer, c = wv.charts;
  const met = Object.values(wv.goals ?? {}).filter((g) => g === true || g?.met === true).length, of = Object.keys(wv.goals ?? {}).length;
  lines.push(
    `webview (10,000 tokens; medians): first render ${e.firstRenderMs.median} ms, hover ${e.heatmapHoverMs.median} ms, layer switch ${e.layerSwitchMs.median} ms; ` +
      `charts 2 × 100k points: hover ${c.hoverMs.median} ms, zoom ${c.zoomMs.median} ms; goals met ${met}/${of}`,
  );
} else if (wv) lines.push(`webview: ${JSON.stringify(wv).slice(0, 400)}`);
const hx = result.extension.heatmapAndHover;
lines.push(
  hx.error
    ? `extension: ${hx.error}`
    : `extension heatmap (${hx.tokens} tokens; medians): result → decoration ranges ${hx.paintMs.toFixed(1)} ms, layer switch ${hx.layerSwitchMs.toFixed(1)} ms, hover ${hx.hoverMs.toFixed(1)} ms`,
);
lines.push(`load average ${result.machine.loadAvgAtStart.join(' ')} → ${result.machine.loadAvgAtEnd.join(' ')}; ${result.totalSeconds} s; written to bench-results/bench.json`);
console.log(lines.join('\n'));
process.exit(0);
