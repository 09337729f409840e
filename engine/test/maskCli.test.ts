// The mask analysis and report as tools and the extension get them: `ldlens analyze --json`,
// `ldlens report` and the 'report' request of `ldlens serve`, all on the built CLI as real child
// processes over a checkpoint it trained.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createMessageConnection, ErrorCodes, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { cliPath, runCli, shakespeare, smallCorpus, tempDir, TINY_SETS } from './helpers';

const dir = tempDir('ldlens-masks-');
after(() => rmSync(dir, { recursive: true, force: true }));
const runDir = join(dir, 'run');
const heldOut = join(dir, 'held-out.txt');
writeFileSync(heldOut, readFileSync(shakespeare, 'utf8').slice(300_000, 302_000));

let trainedRun: Promise<void> | null = null;
const trained = () =>
  (trainedRun ??= (async () => {
    const r = await runCli(['train', '--data', smallCorpus(dir), '--steps', '20', '--out', runDir, ...TINY_SETS], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  })());

test('ldlens analyze --json: per token the painted value and its definition, fraction, decided and chance at every site', { timeout: 60_000 }, async () => {
  await trained();
  const r = await runCli(['analyze', '--checkpoint', runDir, '--file', heldOut, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout) as P.AnalysisResult;
  assert.equal(a.painted!.length, a.tokens.length);
  assert.equal(a.paintedBy!.metric, 'fraction');
  assert.ok(!a.paintedBy!.sites.some((s) => s.includes('attn_dropout')), 'attention sites are not painted by default');
  for (const l of a.layers) for (const key of ['fraction', 'decided'] as const) assert.equal(l[key]!.length, a.tokens.length, `${l.site}.${key}`);
  for (const l of a.layers) assert.equal(l.chance!.fraction.length, a.tokens.length);
});

test('ldlens report: per-site figures next to chance, as a table and as JSON; bad input gets one clear line', { timeout: 60_000 }, async () => {
  await trained();
  const human = await runCli(['report', '--checkpoint', runDir, '--file', heldOut, '--draws', '2']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /mask report over \d+ tokens, chance from 2 draws/);
  assert.match(human.stdout, /masks are (un)?decided/);
  assert.match(human.stdout, /transformer\.h\.0\.mlp\.dropout: (un)?decided/);
  const json = await runCli(['report', '--checkpoint', runDir, '--file', heldOut, '--json']);
  const rep = JSON.parse(json.stdout) as P.MaskReport;
  assert.equal(rep.chanceDraws, 5);
  assert.equal(rep.sites.length, 4);
  assert.equal(rep.checkpoint.step, 20);
  const missing = await runCli(['report', '--checkpoint', join(dir, 'nope'), '--text', 'hello']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nope/);
  const usage = await runCli(['report', '--checkpoint', runDir]);
  assert.notEqual(usage.code, 0);
  assert.match(usage.stderr, /report needs --checkpoint DIR and --text TEXT or --file FILE/);
});

test("serve: the 'report' request answers a MaskReport; malformed params get InvalidParams and the engine stays up", { timeout: 60_000 }, async (t) => {
  await trained();
  const child = spawn(process.execPath, [cliPath, 'serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  t.after(() => {
    conn.dispose();
    child.kill();
  });
  await conn.sendRequest(P.Initialize, { clientName: 'maskCli.test' });
  const text = readFileSync(heldOut, 'utf8');
  const rep = await conn.sendRequest(P.Report, { checkpoint: runDir, text, chanceDraws: 2 });
  assert.equal(rep.chanceDraws, 2);
  assert.ok(rep.tokens > 0 && rep.sites.every((s) => s.verdict.length > 0));
  await assert.rejects(conn.sendRequest(P.Report, { checkpoint: runDir } as never), (e) => e instanceof ResponseError && e.code === ErrorCodes.InvalidParams);
  await assert.rejects(conn.sendRequest(P.Report, { checkpoint: runDir, text: 'x' }), (e) => e instanceof ResponseError && /at least 2/.test(e.message));
  const again = await conn.sendRequest(P.Report, { checkpoint: runDir, text, chanceDraws: 2 });
  assert.deepEqual(again.sites, rep.sites, 'deterministic, and still answering');
});
