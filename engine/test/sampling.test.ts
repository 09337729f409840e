// Sampling parameters checked by one function for the CLI and the `sample` request; a prompt's
// unknown characters named in a warning; UTF-16 corpora read as UTF-16 (BOM) or refused by name.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createMessageConnection, ErrorCodes, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { loadCorpus } from '../src/corpus';
import { samplingProblems } from '../src/sampling';
import { cliPath, runCli, smallCorpus, tempDir, TINY_SETS } from './helpers';

const dir = tempDir('ldlens-sampling-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir, 20_000);

let trained: Promise<string> | null = null;
function checkpoint(): Promise<string> {
  return (trained ??= (async () => {
    const run = join(dir, 'run');
    const r = await runCli(['train', '--data', corpus, '--steps', '2', '--out', run, ...TINY_SETS], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    return run;
  })());
}

test('samplingProblems: temperature ≥ 0, top-k ≥ 1 or left out, tokens bounded, seed an integer', () => {
  assert.deepEqual(samplingProblems({ maxTokens: 10 }), []);
  assert.deepEqual(samplingProblems({ maxTokens: 10, temperature: 0, topK: 1, seed: 0 }), []);
  const p = samplingProblems({ maxTokens: 10_001, temperature: -0.5, topK: 0, seed: 1.5 });
  assert.equal(p.length, 4);
  assert.match(p[0], /maxTokens must be an integer between 1 and 10000, got 10001/);
  assert.match(p[1], /temperature must be ≥ 0 \(0 samples greedily\), got -0\.5/);
  assert.match(p[2], /topK must be an integer ≥ 1 \(leave it out for no cut\), got 0/);
  assert.match(p[3], /seed must be an integer/);
  assert.equal(samplingProblems({ maxTokens: 1, temperature: NaN }).length, 1);
  assert.equal(samplingProblems({ maxTokens: 1, topK: -3 }).length, 1);
});

test('ldlens sample: bad parameters exit 2 naming each flag; unknown prompt characters are named on stderr; temperature 0 is greedy', { timeout: 90_000 }, async () => {
  const ck = await checkpoint();
  const [k0, neg, many, unknown, g1, g2] = await Promise.all([
    runCli(['sample', '--checkpoint', ck, '--top-k', '0'], { cwd: dir }),
    runCli(['sample', '--checkpoint', ck, '--temperature=-1'], { cwd: dir }),
    runCli(['sample', '--checkpoint', ck, '--tokens', '1000000'], { cwd: dir }),
    runCli(['sample', '--checkpoint', ck, '--prompt', 'The Ω king ☃', '--tokens', '5', '--json'], { cwd: dir }),
    runCli(['sample', '--checkpoint', ck, '--prompt', 'The', '--tokens', '20', '--temperature', '0', '--seed', '1'], { cwd: dir }),
    runCli(['sample', '--checkpoint', ck, '--prompt', 'The', '--tokens', '20', '--temperature', '0', '--seed', '2'], { cwd: dir }),
  ]);
  assert.equal(k0.code, 2, k0.stderr);
  assert.match(k0.stderr, /^ldlens sample: --top-k must be an integer ≥ 1 \(leave it out for no cut\), got 0/);
  assert.equal(neg.code, 2);
  assert.match(neg.stderr, /--temperature must be ≥ 0/);
  assert.equal(many.code, 2);
  assert.match(many.stderr, /--tokens must be an integer between 1 and 10000/);
  assert.equal(unknown.code, 0, unknown.stderr);
  assert.match(unknown.stderr, /^warning: the prompt has 2 characters outside the vocabulary \(.*Ω.*☃.*\); they are left out/m);
  assert.deepEqual(JSON.parse(unknown.stdout).warnings, [unknown.stderr.trim().replace(/^warning: /, '')]);
  assert.equal(g1.code, 0, g1.stderr);
  assert.equal(g1.stdout, g2.stdout, 'greedy sampling does not depend on the seed');
});

test('sample request: the same checks as InvalidParams; unknown prompt characters come back as a warning and a log', { timeout: 90_000 }, async () => {
  const ck = await checkpoint();
  const server = spawn(process.execPath, [cliPath, 'serve'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  const conn = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  const logs: string[] = [];
  conn.onNotification(P.Log, (p) => logs.push(p.message));
  conn.listen();
  try {
    await conn.sendRequest(P.Initialize, {});
    const e = await conn.sendRequest(P.Sample, { checkpoint: ck, prompt: 'x', maxTokens: 5, topK: 0, temperature: -2 }).catch((x: unknown) => x);
    assert.ok(e instanceof ResponseError, String(e));
    assert.equal(e.code, ErrorCodes.InvalidParams);
    assert.equal((e.data as P.EngineErrorData).problems?.length, 2);
    const r = await conn.sendRequest(P.Sample, { checkpoint: ck, prompt: '☃☃', maxTokens: 3, seed: 1 });
    assert.equal(r.warnings?.length, 1);
    assert.match(r.warnings![0], /no character of the prompt is in the model's vocabulary \(2 characters outside the vocabulary .*☃.*\); sampling starts from token 0/);
    assert.ok(logs.some((l) => l.includes(r.warnings![0])), 'logged too');
    const greedy = await conn.sendRequest(P.Sample, { checkpoint: ck, prompt: 'The', maxTokens: 4, temperature: 0 });
    assert.equal(greedy.warnings, undefined);
  } finally {
    conn.dispose();
    server.stdin.end();
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.on('exit', r)));
  }
});

test('UTF-16 corpora: with a byte-order mark they are read as UTF-16; without one they are named as UTF-16, not "binary"', async () => {
  const text = 'Première ligne, 日本語 and ASCII.\n'.repeat(20);
  const le = join(dir, 'le.txt'), be = join(dir, 'be.txt'), bare = join(dir, 'bare.txt');
  writeFileSync(le, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
  writeFileSync(be, Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]));
  writeFileSync(bare, Buffer.from(text, 'utf16le'));
  assert.equal((await loadCorpus([le])).text, text);
  assert.equal((await loadCorpus([be])).text, text);
  await assert.rejects(loadCorpus([bare]), /bare\.txt looks like a binary file \(it contains NUL bytes: it looks like UTF-16 text without a byte-order mark; convert it to UTF-8\)/);
});
