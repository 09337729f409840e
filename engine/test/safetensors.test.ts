import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, writeFileAtomicSync } from '../src/fsutil';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type NamedTensor } from '../src/safetensors';

const here = dirname(fileURLToPath(import.meta.url));
const REF = resolve(here, '../../../shared/reference');
const FIXTURE = join(REF, 'fixtures/tiny/weights.safetensors');

function sample(): Map<string, NamedTensor> {
  return new Map<string, NamedTensor>([
    ['w', { shape: [2, 3], data: Float32Array.from([1, -2.5, 3e-8, Math.PI, -0, 1e30]) }],
    ['scalar', { shape: [], data: Float32Array.from([42]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ['v', { shape: [3], data: Float32Array.from([Infinity, -Infinity, NaN]) }],
  ]);
}

/** A file built by hand: header JSON (unpadded) + data. */
function raw(header: unknown, data = Buffer.alloc(0), headerText?: string): Buffer {
  const h = Buffer.from(headerText ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

function throwsST(fn: () => unknown, re: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, String(e));
    assert.match(e.message, re);
    return true;
  });
}

test('the reference fixture: names, shapes, and a byte-identical re-encode', () => {
  const buf = readFileSync(FIXTURE);
  const { tensors, metadata } = decodeSafetensors(buf, FIXTURE);
  assert.deepEqual(metadata, {});
  assert.equal(tensors.size, 29);
  const case_ = JSON.parse(readFileSync(join(REF, 'fixtures/tiny/case.json'), 'utf8')) as { model: { vocabSize: number; blockSize: number; nEmbd: number; nLayer: number } };
  const { vocabSize: V, blockSize: T, nEmbd: C, nLayer: L } = case_.model;
  assert.deepEqual(tensors.get('transformer.wte.weight')!.shape, [V, C]);
  assert.deepEqual(tensors.get('transformer.wpe.weight')!.shape, [T, C]);
  assert.deepEqual(tensors.get('transformer.drop.A')!.shape, [C]);
  assert.ok([...tensors.keys()].filter((k) => k.startsWith('transformer.h.')).some((k) => k.startsWith(`transformer.h.${L - 1}.`)));
  for (const [name, t] of tensors) {
    assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), name);
    assert.ok(t.data.every(Number.isFinite), name);
  }
  // Same compact JSON, same order, same space padding: the bytes match the Python writer's exactly.
  const again = encodeSafetensors(tensors);
  assert.ok(again.equals(buf), 're-encoded bytes differ from the reference file');
  const back = decodeSafetensors(again).tensors;
  for (const [name, t] of tensors) assert.deepEqual(back.get(name), t);
});

test('round trip: shapes incl. scalar and empty, special floats, metadata; header padded with spaces to 8 bytes', () => {
  const buf = encodeSafetensors(sample(), { format: 'pt', step: '12' });
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const headerText = buf.subarray(8, 8 + n).toString();
  assert.match(headerText, /^\{"__metadata__":\{"format":"pt","step":"12"\},"w":\{"dtype":"F32","shape":\[2,3\],"data_offsets":\[0,24\]\}/);
  assert.match(headerText, /} *$/);
  assert.equal(buf.length, 8 + n + (6 + 1 + 0 + 3) * 4);
  const { tensors, metadata } = decodeSafetensors(buf);
  assert.deepEqual(metadata, { format: 'pt', step: '12' });
  assert.deepEqual([...tensors.keys()], ['w', 'scalar', 'empty', 'v']);
  assert.deepEqual(tensors, sample());
  // Decoded data does not alias the input buffer.
  buf.fill(0, 8 + n);
  assert.equal(tensors.get('scalar')!.data[0], 42);
  // A Float32Array view at an odd offset into a bigger buffer encodes just its own values.
  const big = new Float32Array([9, 8, 7, 6]);
  const out = decodeSafetensors(encodeSafetensors(new Map([['s', { shape: [2], data: big.subarray(1, 3) }]]))).tensors.get('s')!;
  assert.deepEqual(out.data, Float32Array.from([8, 7]));
});

test('encode rejects inconsistent tensors', () => {
  throwsST(() => encodeSafetensors(new Map([['a', { shape: [2, 2], data: new Float32Array(3) }]])), /tensor "a": shape \[2,2\] holds 4 values but data has 3/);
  throwsST(() => encodeSafetensors(new Map([['a', { shape: [-1], data: new Float32Array(1) }]])), /not a list of non-negative integers/);
  throwsST(() => encodeSafetensors(new Map([['a', { shape: [1], data: [1] as unknown as Float32Array }]])), /Float32Array/);
  throwsST(() => encodeSafetensors(new Map(), { n: 3 as unknown as string }), /values must be strings/);
});

test('decode names the file and the problem for every kind of corruption', () => {
  const what = '/runs/x/weights.safetensors';
  const good = encodeSafetensors(sample());
  throwsST(() => decodeSafetensors(Buffer.from([1, 2, 3]), what), /^\/runs\/x\/weights\.safetensors: too short to be a safetensors file \(3 bytes/);
  const long = Buffer.from(good);
  long.writeBigUInt64LE(BigInt(good.length), 0);
  throwsST(() => decodeSafetensors(long, what), new RegExp(`^${what.replace(/[./]/g, '\\$&')}: header length ${good.length} runs past the end of the file \\(${good.length} bytes\\)`));
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(2n ** 63n, 0);
  throwsST(() => decodeSafetensors(huge, what), /header length 9223372036854775808 runs past the end/);
  throwsST(() => decodeSafetensors(raw(null, Buffer.alloc(0), '{"a": [1,'), what), /weights\.safetensors: header is not valid JSON/);
  throwsST(() => decodeSafetensors(raw([1, 2]), what), /header is not a JSON object/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, Buffer.alloc(4)), what), /tensor "h" has dtype "F16"; only F32 is supported/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, Buffer.alloc(4)), what), /dtype "BF16"/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'F32', shape: [2], data_offsets: [4, 0] } }, Buffer.alloc(8)), what), /tensor "h": data_offsets \[4,0\] is not a range/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, Buffer.alloc(8)), what), /data_offsets \[-8,0\] is not a range/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'F32', shape: [2] } }, Buffer.alloc(8)), what), /data_offsets undefined is not a range/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)), what), /tensor "h": data_offsets \[0, 8\] span 8 bytes but shape \[3\] needs 12/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'F32', shape: [2, 'x'], data_offsets: [0, 8] } }, Buffer.alloc(8)), what), /shape \[2,"x"\] is not a list/);
  throwsST(() => decodeSafetensors(raw({ h: { dtype: 'F32', shape: [4], data_offsets: [100, 116] } }, Buffer.alloc(16)), what), /tensor "h": data ends at byte 116 but the file holds only 16 bytes of data; the file is truncated/);
  throwsST(
    () => decodeSafetensors(raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, Buffer.alloc(12)), what),
    /tensors "a" and "b" overlap/,
  );
  throwsST(() => decodeSafetensors(raw({ __metadata__: { a: 1 } }), what), /__metadata__\.a is not a string/);
  // A real file cut short.
  const fixture = readFileSync(FIXTURE);
  throwsST(() => decodeSafetensors(fixture.subarray(0, fixture.length - 100), FIXTURE), /the file is truncated/);
  throwsST(() => decodeSafetensors(fixture.subarray(0, 1000), FIXTURE), /header length 2672 runs past the end of the file \(1000 bytes\)/);
});

// The reference's own save_safetensors/load_safetensors, lifted out of ld_gpt.py with numpy and a stand-in for torch.
const PY = String.raw`
import ast, json, struct, sys
from collections import OrderedDict
import numpy as np
src = open(sys.argv[1]).read()
fns = [n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name in ("save_safetensors", "load_safetensors")]
class T:
    def __init__(self, a): self.a = a
    def detach(self): return self
    def cpu(self): return self
    def numpy(self): return self.a
    def copy(self): return T(self.a.copy())
class torch:
    @staticmethod
    def from_numpy(a): return T(a)
g = {"np": np, "json": json, "struct": struct, "OrderedDict": OrderedDict, "torch": torch}
exec(compile(ast.Module(body=fns, type_ignores=[]), "ld_gpt.py", "exec"), g)
mine = g["load_safetensors"](sys.argv[2])
assert list(mine) == ["w", "scalar", "empty", "v"], list(mine)
assert mine["w"].a.shape == (2, 3) and mine["scalar"].a.shape == () and mine["empty"].a.shape == (0, 4)
assert mine["w"].a[1, 0] == np.float32(np.pi) and np.isnan(mine["v"].a[2])
ref = g["load_safetensors"](sys.argv[3])
g["save_safetensors"](sys.argv[4], OrderedDict((k, T(v.a * 2)) for k, v in ref.items()))
print("ok", len(ref))
`;

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

test('interop with the reference Python writer and reader', { skip: hasNumpy ? false : 'python3 with numpy is not available' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ldlens-st-'));
  try {
    const mine = join(dir, 'mine.safetensors');
    const theirs = join(dir, 'theirs.safetensors');
    writeFileSync(mine, encodeSafetensors(sample(), { note: 'metadata is skipped by the reference reader' }));
    const r = spawnSync('python3', ['-c', PY, join(REF, 'ld_gpt.py'), mine, FIXTURE, theirs], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ok 29/);
    // Python wrote every fixture tensor doubled; we read them back exactly.
    const ref = decodeSafetensors(readFileSync(FIXTURE)).tensors;
    const doubled = decodeSafetensors(readFileSync(theirs), theirs).tensors;
    assert.deepEqual([...doubled.keys()], [...ref.keys()]);
    for (const [k, t] of ref) assert.deepEqual(doubled.get(k), { shape: t.shape, data: t.data.map((v) => v * 2) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic / writeFileAtomicSync: write, replace, leave no temp files, fail cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ldlens-atomic-'));
  try {
    const p = join(dir, 'ckpt.safetensors');
    const bytes = encodeSafetensors(sample());
    await writeFileAtomic(p, bytes);
    assert.ok(readFileSync(p).equals(bytes));
    await writeFileAtomic(p, 'replaced ✓');
    assert.equal(readFileSync(p, 'utf8'), 'replaced ✓');
    writeFileAtomicSync(p, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
    writeFileAtomicSync(join(dir, 'run.json'), '{"a":1}');
    assert.deepEqual(readdirSync(dir).sort(), ['ckpt.safetensors', 'run.json']);
    // Into a missing folder: the error surfaces and nothing is left behind.
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x'), 'x'), { code: 'ENOENT' });
    assert.throws(() => writeFileAtomicSync(join(dir, 'missing', 'x'), 'x'), { code: 'ENOENT' });
    // Over a non-empty folder: the rename fails and the temp file (made next to the target) is removed.
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'keep'), 'k');
    await assert.rejects(writeFileAtomic(join(dir, 'sub'), 'x'));
    assert.throws(() => writeFileAtomicSync(join(dir, 'sub'), 'x'));
    assert.deepEqual(readdirSync(dir).sort(), ['ckpt.safetensors', 'run.json', 'sub']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
