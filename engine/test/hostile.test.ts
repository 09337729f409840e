// Files and parameters written to hurt: prototype keys in configs, --set and checkpoints; shapes
// that would need more memory than there is; a corpus too large for the engine's heap. Each is
// refused with a message, before anything is allocated, and nothing is obeyed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { DEFAULTS, merge, resolveConfig, validate } from '../src/config';
import { checkMemory, inferenceMemory, MemoryError, parameterCount, trainingMemory, WASM_HEAP_BYTES } from '../src/memoryEstimate';
import { prototypeKeyPaths } from '../src/prototypeKeys';
import { prepareTorchResume } from '../src/torch/prepare';
import { cliPath, runCli, smallCorpus, tempDir, TINY_SETS } from './helpers';

const dir = tempDir('ldlens-hostile-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir);

test('config parsing sees own keys only: __proto__, constructor, toString, hasOwnProperty are unknown keys', () => {
  const over = JSON.parse('{"__proto__": {"polluted": 1}, "train": {"toString": 5, "hasOwnProperty": 1}, "model": {"constructor": {"x": 1}}}');
  const cfg = merge(DEFAULTS, over);
  assert.equal(Object.getPrototypeOf(cfg), Object.prototype, 'the merge did not set a prototype');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const problems = validate(cfg);
  for (const k of ['__proto__', 'train.toString', 'train.hasOwnProperty', 'model.constructor']) assert.ok(problems.includes(`${k}: unknown key`), `${k} in ${problems}`);
  assert.throws(() => resolveConfig('tiny', over), /__proto__: unknown key/);
  // A key the defaults lack must not be found on the prototype either.
  assert.ok(validate(merge(DEFAULTS, JSON.parse('{"dropout": {"valueOf": 1}}'))).includes('dropout.valueOf: unknown key'));
  assert.deepEqual(prototypeKeyPaths(JSON.parse('{"a": [{"constructor": 1}], "b": {"c": {"__proto__": 2}}}')), ['a[0].constructor', 'b.c.__proto__']);
});

test('--set with a prototype key is refused; a config file with one names it', { timeout: 60_000 }, async () => {
  const out = join(dir, 'never');
  const [proto, ctor, file] = await Promise.all([
    runCli(['train', '--data', corpus, '--steps', '2', '--out', out, '--set', '__proto__.x=1'], { cwd: dir }),
    runCli(['train', '--data', corpus, '--steps', '2', '--out', out, '--set', 'train.constructor.prototype.x=1'], { cwd: dir }),
    (async () => {
      writeFileSync(join(dir, 'bad.json'), '{"__proto__": {"x": 1}, "train": {"toString": 3}}');
      return runCli(['train', '--data', corpus, '--steps', '2', '--out', out, '--config', join(dir, 'bad.json')], { cwd: dir });
    })(),
  ]);
  assert.equal(proto.code, 2, proto.stderr);
  assert.match(proto.stderr, /^ldlens train: --set __proto__\.x: "__proto__" is not a config key/);
  assert.equal(ctor.code, 2, ctor.stderr);
  assert.match(ctor.stderr, /"constructor" is not a config key/);
  assert.equal(file.code, 1, file.stderr);
  assert.match(file.stderr, /__proto__: unknown key/);
  assert.match(file.stderr, /train\.toString: unknown key/);
});

test('a checkpoint whose config.json has prototype keys, or a shape beyond the limits, is refused naming the file', { timeout: 60_000 }, async () => {
  const run = join(dir, 'run');
  const r = await runCli(['train', '--data', corpus, '--steps', '2', '--out', run, ...TINY_SETS, '--set', 'train.checkpointInterval=2'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const good = join(run, 'checkpoints', 'step-000002');
  const variant = (name: string, edit: (cfg: Record<string, any>) => string) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const d = join(dir, name);
    mkdirSync(d);
    cpSync(good, d, { recursive: true });
    writeFileSync(join(d, 'config.json'), edit(JSON.parse(readFileSync(join(good, 'config.json'), 'utf8'))));
    return d;
  };
  const proto = variant('proto', (c) => JSON.stringify(c).replace('{"model":{', '{"model":{"__proto__":{"polluted":true},'));
  const toStr = variant('tostring', (c) => JSON.stringify({ ...c, config: { ...c.config, train: { ...c.config.train, toString: 'x' } } }));
  const huge = variant('huge', (c) => JSON.stringify({ ...c, model: { ...c.model, blockSize: 24000 } }));
  const padded = variant('padded', (c) => JSON.stringify(c));
  writeFileSync(join(padded, 'model.safetensors'), Buffer.concat([readFileSync(join(good, 'model.safetensors')), Buffer.alloc(20 * 1024 * 1024)]));
  const results = await Promise.all([proto, toStr, huge, padded].map((d) => runCli(['analyze', '--checkpoint', d, '--text', 'hello'], { cwd: dir })));
  for (const x of results) {
    assert.equal(x.code, 1, x.stderr);
    assert.doesNotMatch(x.stderr, /^\s+at /m);
  }
  assert.match(results[0].stderr, /config\.json: "model\.__proto__" is a reserved JavaScript name, not allowed as a key; the file was not used/);
  assert.match(results[1].stderr, /config\.json: "config\.train\.toString" is a reserved JavaScript name/);
  assert.match(results[2].stderr, /config\.json: model\.blockSize 24000 is outside \[2, 4096\]/);
  assert.match(results[3].stderr, /model\.safetensors is [\d,]+ bytes, far more than the [\d,]+ its config's model needs/);
  // The run's own config.json, for resume: refused, and the run is left as it was.
  const copy = join(dir, 'run-proto');
  cpSync(run, copy, { recursive: true });
  const cfg = join(copy, 'config.json');
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('{"model":{', '{"model":{"constructor":{"prototype":{"x":1}},'));
  const meta = readFileSync(join(copy, 'run.json'));
  const rr = await runCli(['resume', '--run', copy, '--steps', '4'], { cwd: dir });
  assert.equal(rr.code, 1, rr.stderr);
  assert.match(rr.stderr, /^ldlens resume: .*config\.json: "model\.constructor" is a reserved JavaScript name/);
  assert.ok(readFileSync(join(copy, 'run.json')).equals(meta), 'run.json unchanged');
  // Resuming on the torch worker reads it through the same checks (train/runSetup.ts readRunConfig).
  await assert.rejects(prepareTorchResume(copy, 4, { python: join(dir, 'no-python') }), /config\.json: "model\.constructor" is a reserved JavaScript name/);
  assert.ok(readFileSync(join(copy, 'run.json')).equals(meta), 'run.json unchanged by the torch resume');
});

test('memory estimates: parameters counted exactly; what does not fit the machine or the wasm heap is refused with the estimate', () => {
  const tiny = { vocabSize: 65, blockSize: 64, nEmbd: 64, nHead: 4, nLayer: 2 };
  // wte 65·64 + wpe 64·64 + per layer (ln 64, qkv 3·64·64, proj 64·64, ln 64, fc 4·64·64, proj 4·64·64) + ln_f 64
  assert.equal(parameterCount(tiny, false), 65 * 64 + 64 * 64 + 2 * (64 + 3 * 4096 + 4096 + 64 + 8 * 4096) + 64);
  // learned: A and B for drop (C), and per layer attn (T), resid (C), mlp (C)
  assert.equal(parameterCount(tiny, true) - parameterCount(tiny, false), 2 * 64 + 2 * 2 * (64 + 64 + 64));
  const t = trainingMemory(tiny, true, 16);
  assert.equal(t.total, Object.values(t.parts).reduce((a, b) => a + b, 0));
  checkMemory(t, 'training tiny', { wasm: true, machineBytes: 8 * 1024 ** 3 }); // fits
  const big = trainingMemory({ vocabSize: 65, blockSize: 64, nEmbd: 8192, nHead: 4, nLayer: 96 }, true, 1);
  assert.ok(big.total > 300 * 1024 **3, 'hundreds of GB');
  assert.throws(
    () => checkMemory(big, 'training this model', { wasm: false, machineBytes: 1024 ** 4 }),
    (e: Error) => e instanceof MemoryError && /^training this model needs about \d+(\.\d)? GB \([\d,]+ parameters; weights .*\), more than 80% of this machine's 1024\.0 GB of memory$/.test(e.message),
  );
  // Fits a large machine, not the wasm heap.
  const mid = trainingMemory({ vocabSize: 65, blockSize: 256, nEmbd: 1024, nHead: 16, nLayer: 24 }, true, 8);
  assert.ok(mid.total > WASM_HEAP_BYTES);
  checkMemory(mid, 'x', { wasm: false, machineBytes: 1024 ** 4 });
  assert.throws(() => checkMemory(mid, 'x', { wasm: true, machineBytes: 1024 ** 4 }), /wasm backend's 4\.0 GB heap/);
  assert.ok(inferenceMemory(tiny, true).total < t.total);
});

test('ldlens train: a shape that cannot fit is refused before allocating, with the estimate', { timeout: 60_000 }, async () => {
  const r = await runCli(['train', '--data', corpus, '--steps', '2', '--out', join(dir, 'huge'), '--set', 'model.nEmbd=8192', '--set', 'model.nLayer=96', '--set', 'model.nHead=8'], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^ldlens train: training this model needs about [\d.]+ GB \([\d,]+ parameters; weights [\d.]+ GB, .*\), more than /);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});

test('a corpus too large for the engine heap is refused before it is read, even with --max-bytes raised', { timeout: 60_000 }, async () => {
  const big = join(dir, 'big.txt');
  const line = readFileSync(corpus, 'utf8');
  writeFileSync(big, line.repeat(Math.ceil(4e6 / line.length)));
  const r = await runCli(['train', '--data', big, '--steps', '2', '--out', join(dir, 'big-run'), '--max-bytes', '100000000', ...TINY_SETS], {
    cwd: dir,
    env: { NODE_OPTIONS: '--max-old-space-size=96' },
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^ldlens train: big\.txt is [\d.]+ MiB: reading and tokenizing it needs about [\d.]+ MiB of memory, more than half of this engine's [\d.]+ MiB JavaScript heap; name less text\./);
});

test('serve: overrides with prototype keys are InvalidConfig naming them; the engine answers on', { timeout: 60_000 }, async () => {
  const server = spawn(process.execPath, [cliPath, 'serve'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  const conn = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  conn.listen();
  try {
    await conn.sendRequest(P.Initialize, {});
    // As the extension's settings JSON would arrive: own "__proto__" and "constructor" keys.
    const overrides = JSON.parse('{"__proto__": {"polluted": 1}, "train": {"constructor": {"prototype": {"x": 1}}, "steps": 2}}');
    const e = await conn.sendRequest(P.TrainStart, { data: [corpus], runsDir: join(dir, 'rpc-runs'), overrides }).catch((x: unknown) => x);
    assert.ok(e instanceof ResponseError, String(e));
    assert.equal(e.code, P.EngineErrorCode.InvalidConfig);
    assert.deepEqual((e.data as P.EngineErrorData).problems, ['__proto__: unknown key', 'train.constructor: unknown key']);
    assert.deepEqual(await conn.sendRequest(P.Ping), { pid: server.pid });
  } finally {
    conn.dispose();
    server.stdin.end();
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.on('exit', r)));
  }
});
