// Bad input through the command line: every refusal exits 1 with one clear line on stderr that
// names the file, never a stack trace, and a failed resume leaves the run exactly as it was.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { assertSameFiles, fixturesDir, runCli, smallCorpus, snapshot, tempDir, TINY_SETS, type CliResult } from './helpers';

const dir = tempDir('ldlens-bad-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir);
const STACK = /^\s+at .*(:\d+:\d+\)?|native|<anonymous>)/m;

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

/** Exit 1, stdout empty, stderr one line `ldlens CMD: …` that matches every pattern, no stack trace. */
function refused(r: CliResult, cmd: string, ...patterns: (RegExp | string)[]): string {
  assert.equal(r.code, 1, `exit code 1, got ${r.code}; stderr:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK, 'no stack trace');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.ok(lines[0].startsWith(`ldlens ${cmd}: `), lines[0]);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(lines[0].includes(p), `"${p}" in: ${lines[0]}`);
    else assert.match(lines[0], p);
  }
  assert.equal(r.stdout, '', 'nothing on stdout');
  return lines[0];
}

const train = (data: string, ...extra: string[]) => runCli(['train', '--data', data, '--steps', '2', '--out', join(dir, 'never', String(Math.random())), ...TINY_SETS, ...extra], { cwd: dir });

/** A finished 20-step run (checkpoints 10 and 20) on a corpus of its own; copies are damaged, never it. */
let fixture: Promise<string> | null = null;
function trainedRun(): Promise<string> {
  return (fixture ??= (async () => {
    const runDir = join(dir, 'fixture-run');
    const r = await runCli(['train', '--data', corpus, '--steps', '20', '--out', runDir, ...TINY_SETS], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    return runDir;
  })());
}

let copies = 0;
/** A copy of the fixture run; `damage` gets the copy's folder. */
async function damagedRun(damage: (runDir: string) => void): Promise<string> {
  const runDir = join(dir, `copy-${++copies}`);
  cpSync(await trainedRun(), runDir, { recursive: true });
  damage(runDir);
  return runDir;
}
const ck = (runDir: string, step = 20) => join(runDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
const truncate = (path: string, keep: number) => writeFileSync(path, readFileSync(path).subarray(0, keep));

test('training data: empty, binary, invalid UTF-8, oversized, and folders without text', { timeout: 60_000 }, async () => {
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  const blank = join(dir, 'blank.txt');
  writeFileSync(blank, ' \n\n\t \n');
  const png = join(dir, 'picture.png');
  writeFileSync(png, PNG);
  const exe = join(dir, 'node-head.bin');
  writeFileSync(exe, readFileSync(process.execPath).subarray(0, 65536));
  const latin1 = join(dir, 'latin1.txt');
  writeFileSync(latin1, Buffer.concat([Buffer.from('The caf'), Buffer.from([0xe9]), Buffer.from(' was open. '.repeat(20))]));
  const bad8 = join(dir, 'bad-utf8.txt');
  writeFileSync(bad8, Buffer.concat([Buffer.from('x'.repeat(200) + 'hello '), Buffer.from([0xc3, 0x28]), Buffer.from(' world'.repeat(30))]));
  const big = join(dir, 'big.txt');
  writeFileSync(big, Buffer.alloc(20 * 1024 * 1024, 'All the world’s a stage,\n'));
  const noText = join(dir, 'no-text');
  mkdirSync(noText);
  cpSync(png, join(noText, 'a.png'));
  cpSync(exe, join(noText, 'b.bin'));
  const emptyDir = join(dir, 'empty-folder');
  mkdirSync(join(emptyDir, '.hidden'), { recursive: true });
  writeFileSync(join(emptyDir, '.hidden', 'notes.txt'), 'dot-folders are skipped '.repeat(10));

  const [rEmpty, rBlank, rPng, rExe, rLatin1, rBad8, rBig, rSmallLimit, rNoText, rEmptyDir, rMissing, rEvalBig] = await Promise.all([
    train(empty),
    train(blank),
    train(png),
    train(exe),
    train(latin1),
    train(bad8),
    train(big),
    train(corpus, '--max-bytes', '1000'),
    train(noText),
    train(emptyDir),
    train(join(dir, 'missing.txt')),
    runCli(['eval', '--checkpoint', dir, '--data', big], { cwd: dir }),
  ]);
  refused(rEmpty, 'train', 'empty.txt is empty', /nothing to train on/);
  refused(rBlank, 'train', 'blank.txt is empty (only whitespace)');
  refused(rPng, 'train', 'picture.png looks like a binary file', /NUL bytes/);
  refused(rExe, 'train', 'node-head.bin looks like a binary file');
  refused(rLatin1, 'train', 'latin1.txt is not valid UTF-8 (first bad byte at offset 7)', /convert it to UTF-8/);
  refused(rBad8, 'train', 'bad-utf8.txt is not valid UTF-8 (first bad byte at offset 206)');
  // the size, the limit and how to raise it
  refused(rBig, 'train', 'big.txt is 20.0 MiB, over the 16.0 MiB limit', '--max-bytes');
  refused(rSmallLimit, 'train', 'corpus.txt is', 'over the 1000 bytes limit');
  refused(rEvalBig, 'eval', 'big.txt is 20.0 MiB, over the 16.0 MiB limit');
  refused(rNoText, 'train', /none of the 2 matched files are text \(no-text\/(a\.png|b\.bin): looks binary/);
  refused(rEmptyDir, 'train', 'the folder empty-folder holds no files');
  refused(rMissing, 'train', 'missing.txt does not exist');
  assert.throws(() => statSync(join(dir, 'never')), 'no run folder was created for refused data');
});

test('corrupt checkpoints for analyze, eval and resume', { timeout: 90_000 }, async () => {
  const truncated = await damagedRun((r) => truncate(join(ck(r), 'model.safetensors'), 1000));
  const cutShort = await damagedRun((r) => {
    const p = join(ck(r), 'model.safetensors');
    truncate(p, statSync(p).size - 100);
  });
  const notJson = await damagedRun((r) => writeFileSync(join(ck(r), 'config.json'), '{"model": {"vocabSize": 6'));
  const noConfig = await damagedRun((r) => rmSync(join(ck(r), 'config.json')));
  const noWeights = await damagedRun((r) => rmSync(join(ck(r), 'model.safetensors')));
  const wrongShape = await damagedRun((r) => {
    const p = join(ck(r), 'config.json');
    const c = JSON.parse(readFileSync(p, 'utf8'));
    c.model.nEmbd = 64;
    writeFileSync(p, JSON.stringify(c));
  });
  const foreign = await damagedRun((r) => cpSync(join(fixturesDir, 'tiny/weights.safetensors'), join(ck(r), 'model.safetensors')));
  const badOptimizer = await damagedRun((r) => truncate(join(ck(r), 'optimizer.safetensors'), 500));
  const noRng = await damagedRun((r) => writeFileSync(join(ck(r), 'state.json'), '{"step": 20}'));
  const badState = await damagedRun((r) => writeFileSync(join(ck(r), 'state.json'), '{"step": 2'));

  const analyze = (c: string) => runCli(['analyze', '--checkpoint', c, '--text', 'To be'], { cwd: dir });
  const evaluate = (c: string) => runCli(['eval', '--checkpoint', c, '--data', corpus], { cwd: dir });
  const resume = (r: string) => runCli(['resume', '--run', r, '--steps', '30'], { cwd: dir });
  const weights = (r: string) => join(ck(r), 'model.safetensors');
  const config = (r: string) => join(ck(r), 'config.json');

  const results = await Promise.all([
    analyze(truncated), evaluate(ck(truncated)), resume(truncated),
    analyze(cutShort),
    analyze(notJson), resume(notJson),
    analyze(ck(noConfig)),
    analyze(noWeights),
    analyze(wrongShape),
    analyze(foreign),
    resume(badOptimizer),
    resume(noRng),
  ]);
  const [aTrunc, eTrunc, rTrunc, aCut, aNotJson, rNotJson, aNoConfig, aNoWeights, aShape, aForeign, rOpt, rNoRng] = results;
  refused(aTrunc, 'analyze', weights(truncated), /truncated/);
  refused(eTrunc, 'eval', weights(truncated), /truncated/);
  refused(rTrunc, 'resume', weights(truncated), /truncated/);
  refused(aCut, 'analyze', weights(cutShort), /truncated/);
  refused(aNotJson, 'analyze', `${config(notJson)}: not valid JSON`);
  refused(rNotJson, 'resume', `${config(notJson)}: not valid JSON`);
  refused(aNoConfig, 'analyze', `${config(noConfig)}: missing`);
  refused(aNoWeights, 'analyze', `${weights(noWeights)} is missing`);
  refused(aShape, 'analyze', `${weights(wrongShape)} does not fit its config`, /transformer\.wte\.weight has shape \[\d+,32\] but the config needs \[\d+,64\]/);
  refused(aForeign, 'analyze', `${weights(foreign)} does not fit its config`, /transformer\.wte\.weight has shape \[23,32\]/, /transformer\.wpe\.weight has shape \[16,32\] but the config needs \[32,32\]/);
  refused(rOpt, 'resume', join(ck(badOptimizer), 'optimizer.safetensors'), /cannot resume/, /truncated/);
  refused(rNoRng, 'resume', join(ck(noRng), 'state.json'), /cannot resume from it: step or rng state missing/);

  // A checkpoint whose state.json cannot be read at all is passed over (checkpoint.ts: listCheckpoints):
  // resume continues from the one before, recomputing the same steps.
  const rState = await runCli(['resume', '--run', badState, '--json'], { cwd: dir });
  assert.equal(rState.code, 0, rState.stderr);
  const steps = rState.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'step').map((e) => e.step);
  assert.deepEqual(steps, Array.from({ length: 10 }, (_, i) => 11 + i));
});

test(
  'resume of a run whose own config.json is missing or not JSON: a clear message, no stack trace',
  async () => {
    const missing = await damagedRun((r) => rmSync(join(r, 'config.json')));
    const garbled = await damagedRun((r) => writeFileSync(join(r, 'config.json'), 'not json'));
    const [rMissing, rGarbled] = await Promise.all([runCli(['resume', '--run', missing], { cwd: dir }), runCli(['resume', '--run', garbled], { cwd: dir })]);
    refused(rMissing, 'resume', join(missing, 'config.json'));
    refused(rGarbled, 'resume', join(garbled, 'config.json'));
  },
);

test('invalid config files: every problem named in one message', { timeout: 60_000 }, async () => {
  const cfg = join(dir, 'bad-config.json');
  writeFileSync(cfg, JSON.stringify({ model: { nEmbd: 30, nHead: 4, nLayre: 2 }, train: { lr: -1, steps: 0, valFraction: 0.9 }, dropout: { kind: 'sometimes' } }));
  const notJson = join(dir, 'not-json-config.json');
  writeFileSync(notJson, '{ "train": { "steps": 10, } }');
  // No --steps or --set here: they would override the file's values.
  const withConfig = (file: string, ...extra: string[]) => runCli(['train', '--data', corpus, '--config', file, '--out', join(dir, 'never', 'cfg'), ...extra], { cwd: dir });
  const [r, rNotJson, rMissing, rType] = await Promise.all([
    withConfig(cfg),
    withConfig(notJson),
    withConfig(join(dir, 'no-such-config.json')),
    train(corpus, '--set', 'train.lr="fast"'),
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK);
  const msg = r.stderr;
  assert.match(msg, /^ldlens train: invalid config:\n/);
  for (const p of [
    'model.nLayre: unknown key',
    'model.nEmbd (30) must be divisible by model.nHead (4)',
    'train.lr: expected a value in (0, 10], got -1',
    'train.steps: expected an integer in [1, ',
    'train.valFraction: expected a value in (0, 0.5], got 0.9',
    'dropout.kind: expected "learned", "standard" or "none", got "sometimes"',
  ])
    assert.ok(msg.includes(p), `"${p}" named in:\n${msg}`);
  // A config file that cannot be read is one more config problem, in the same format.
  for (const [res, want] of [[rNotJson, 'not-json-config.json: not valid JSON'], [rMissing, 'no-such-config.json: file not found']] as const) {
    assert.equal(res.code, 1, res.stderr);
    assert.doesNotMatch(res.stderr, STACK);
    assert.match(res.stderr, /^ldlens train: invalid config:\n  - /);
    assert.ok(res.stderr.includes(want), `"${want}" in ${res.stderr}`);
  }
  assert.equal(rType.code, 1);
  assert.match(rType.stderr, /train\.lr: expected a finite number, got "fast"/);
});

test('resume of a folder that is not a run', { timeout: 30_000 }, async () => {
  const plain = join(dir, 'just-a-folder');
  mkdirSync(plain, { recursive: true });
  writeFileSync(join(plain, 'notes.txt'), 'hello');
  const [r, rGone] = await Promise.all([runCli(['resume', '--run', plain], { cwd: dir }), runCli(['resume', '--run', join(dir, 'gone')], { cwd: dir })]);
  refused(r, 'resume', `${plain} is not a LearnedDropout run (no run.json)`);
  refused(rGone, 'resume', 'gone');
  assert.deepEqual(readdirSync(plain), ['notes.txt'], 'nothing written into it');
});

test('a failed resume loses nothing already saved: the run folder is byte-identical afterwards', { timeout: 90_000 }, async () => {
  // Runs whose latest checkpoint is step 10 while metrics.jsonl runs to step 20 (as after a crash):
  // a resume that moved the later records aside before failing would lose them from metrics.jsonl.
  const behind = (r: string) => {
    rmSync(ck(r, 20), { recursive: true });
    const meta = JSON.parse(readFileSync(join(r, 'run.json'), 'utf8'));
    writeFileSync(join(r, 'run.json'), JSON.stringify({ ...meta, status: 'running', pid: 2 ** 22 + 12345 }));
  };
  const cases: [string, (r: string) => void, RegExp][] = [
    ['truncated optimizer state', (r) => truncate(join(ck(r, 10), 'optimizer.safetensors'), 400), /optimizer\.safetensors/],
    ['truncated weights', (r) => truncate(join(ck(r, 10), 'model.safetensors'), 3000), /model\.safetensors/],
    ['the corpus became binary', (r) => writeCorpusOfRun(r, PNG), /looks like a binary file/],
    ['the corpus gained characters outside the vocabulary', (r) => writeCorpusOfRun(r, Buffer.from('Ωμέγα '.repeat(40) + readFileSync(corpus, 'utf8'))), /outside the vocabulary/],
    ['the corpus is gone', (r) => rmSync(corpusOfRun(r)), /does not exist/],
  ];
  const runs = await Promise.all(cases.map(([, damage]) => damagedRun((r) => (ownCorpus(r), behind(r), damage(r)))));
  const before = runs.map((r) => snapshot(r));
  const results = await Promise.all(runs.map((r) => runCli(['resume', '--run', r], { cwd: dir })));
  cases.forEach(([what, , pattern], i) => {
    refused(results[i], 'resume', pattern);
    assertSameFiles(before[i], snapshot(runs[i]), what);
  });
});

/** Gives a copied run a corpus file of its own (so damaging it leaves the others alone). */
function ownCorpus(runDir: string): void {
  const own = join(runDir, '..', `${relative(dir, runDir)}-corpus.txt`);
  cpSync(corpus, own);
  const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
  writeFileSync(join(runDir, 'run.json'), JSON.stringify({ ...meta, data: [own] }));
}
function corpusOfRun(runDir: string): string {
  return JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')).data[0];
}
function writeCorpusOfRun(runDir: string, bytes: Buffer): void {
  writeFileSync(corpusOfRun(runDir), bytes);
}
