import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkText, CorpusError, loadCorpus } from '../src/corpus';

const PROSE = 'To be, or not to be, that is the question:\r\nWhether \'tis nobler in the mind to suffer\n\tThe slings and arrows of outrageous fortune 😀 café\n';
// First bytes of a real 1×1 PNG and of an x86-64 ELF executable.
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f6e1e90000000049454e44ae426082', 'hex');
const ELF = Buffer.concat([Buffer.from('7f454c4602010100000000000000000002003e0001000000', 'hex'), Buffer.alloc(200, 0)]);

function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'ldlens-corpus-'));
  for (const [p, data] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), data);
  }
  return root;
}

async function rejects(p: Promise<unknown>, re: RegExp, path?: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CorpusError, `expected CorpusError, got ${String(e)}`);
    assert.match(e.message, re);
    if (path !== undefined) assert.equal(e.path, path);
    return true;
  });
}

test('a single file: BOM stripped, CRLF, tabs and emoji kept as they are', async () => {
  const root = tree({ 'a.txt': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(PROSE)]) });
  try {
    const c = await loadCorpus(['a.txt'], { cwd: root });
    assert.equal(c.text, PROSE);
    assert.deepEqual(c.files, [{ path: 'a.txt', bytes: Buffer.byteLength(PROSE) + 3, start: 0, end: PROSE.length }]);
    assert.deepEqual(c.skipped, []);
    // Absolute paths work too and are shown relative to cwd.
    const abs = await loadCorpus([join(root, 'a.txt')], { cwd: root });
    assert.equal(abs.files[0]!.path, 'a.txt');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('folders: recursive, sorted, joined with \\n; node_modules/.git/.ldlens/dot-folders and binary or non-UTF-8 files skipped', async () => {
  const root = tree({
    'data/b.txt': 'bbb ' + PROSE,
    'data/a.md': 'aaa ' + PROSE,
    'data/sub/c.txt': 'ccc ' + PROSE,
    'data/node_modules/x.txt': 'no',
    'data/.git/HEAD': 'no',
    'data/.ldlens/run.json': 'no',
    'data/.hidden/h.txt': 'no',
    'data/.env': 'SECRET=no',
    'data/logo.png': PNG,
    'data/bin/tool': ELF,
    'data/latin1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]), // "café" in Latin-1
  });
  try {
    const c = await loadCorpus(['data'], { cwd: root });
    assert.deepEqual(c.files.map((f) => f.path), [join('data', 'a.md'), join('data', 'b.txt'), join('data', 'sub', 'c.txt')]);
    assert.equal(c.text, ['aaa ' + PROSE, 'bbb ' + PROSE, 'ccc ' + PROSE].join('\n'));
    // start/end locate each file's text in the joined text.
    assert.deepEqual(c.files.map((f) => c.text.slice(f.start, f.end)), ['aaa ' + PROSE, 'bbb ' + PROSE, 'ccc ' + PROSE]);
    assert.equal(c.files[2]!.end, c.text.length);
    const skipped = Object.fromEntries(c.skipped.map((s) => [s.path, s.reason]));
    assert.deepEqual(Object.keys(skipped).sort(), [join('data', 'bin', 'tool'), join('data', 'latin1.txt'), join('data', 'logo.png')]);
    assert.match(skipped[join('data', 'logo.png')]!, /binary.*NUL/);
    assert.match(skipped[join('data', 'latin1.txt')]!, /not valid UTF-8 \(first bad byte at offset 3\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('globs, exclusions, de-duplication and a deterministic order whatever the spec order', async () => {
  const root = tree({ 'x/one.txt': 'one ' + PROSE, 'x/two.txt': 'two ' + PROSE, 'y/three.txt': 'three ' + PROSE, 'y/skip.log': 'log ' + PROSE, 'y/private/p.txt': 'p ' + PROSE });
  try {
    const a = await loadCorpus(['y', '**/*.txt', 'x/two.txt'], { cwd: root, exclude: ['**/*.log', 'y/private'] });
    const b = await loadCorpus(['x/two.txt', 'y', '**/*.txt'], { cwd: root, exclude: ['**/*.log', 'y/private/'] });
    assert.deepEqual(a, b);
    assert.deepEqual(a.files.map((f) => f.path), [join('x', 'one.txt'), join('x', 'two.txt'), join('y', 'three.txt')]);
    await rejects(loadCorpus(['**/*.rst'], { cwd: root }), /no files match the pattern "\*\*\/\*\.rst"/);
    await rejects(loadCorpus(['x/two.txt'], { cwd: root, exclude: ['x/*'] }), /nothing matched "x\/two.txt" after exclusions/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a symbolic link back to a parent folder is not followed', async () => {
  const root = tree({ 'd/a.txt': PROSE });
  try {
    symlinkSync(root, join(root, 'd', 'loop'));
    const c = await loadCorpus(['d'], { cwd: root });
    assert.deepEqual(c.files.map((f) => f.path), [join('d', 'a.txt')]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('clear errors naming the path: missing, binary (PNG, ELF, control characters), invalid UTF-8, empty folder', async () => {
  const root = tree({
    'logo.png': PNG,
    'a.out': ELF,
    'ctrl.txt': Buffer.from(Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? 0x01 : 0x61))),
    'bad.txt': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('hello '), Buffer.from([0xc3, 0x28]), Buffer.from(' world')]),
    'overlong.txt': Buffer.from([0x61, 0xc0, 0xaf]),
    'surrogate.txt': Buffer.from([0x61, 0x62, 0xed, 0xa0, 0x80]),
    'cut.txt': Buffer.from([0x61, 0xf0, 0x9f, 0x98]),
    'empty/.keep': '',
  });
  try {
    await rejects(loadCorpus(['nope.txt'], { cwd: root }), /^nope\.txt does not exist\.$/, 'nope.txt');
    await rejects(loadCorpus(['logo.png'], { cwd: root }), /^logo\.png looks like a binary file \(it contains NUL bytes\)/, 'logo.png');
    await rejects(loadCorpus(['a.out'], { cwd: root }), /^a\.out looks like a binary file/, 'a.out');
    await rejects(loadCorpus(['ctrl.txt'], { cwd: root }), /^ctrl\.txt looks like a binary file \(34% of its first 400 bytes are control characters\)/);
    // Offsets count from the start of the file, BOM included.
    await rejects(loadCorpus(['bad.txt'], { cwd: root }), /^bad\.txt is not valid UTF-8 \(first bad byte at offset 9\)/, 'bad.txt');
    await rejects(loadCorpus(['overlong.txt'], { cwd: root }), /offset 1\)/);
    await rejects(loadCorpus(['surrogate.txt'], { cwd: root }), /offset 2\)/);
    await rejects(loadCorpus(['cut.txt'], { cwd: root }), /offset 1\)/);
    await rejects(loadCorpus(['empty'], { cwd: root }), /the folder empty holds no files/);
    await rejects(loadCorpus([], { cwd: root }), /no corpus given/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an unreadable file is an error when named and skipped inside a folder', { skip: process.getuid?.() === 0 ? 'running as root: permissions do not apply' : false }, async () => {
  const root = tree({ 'd/locked.txt': PROSE, 'd/ok.txt': PROSE });
  try {
    chmodSync(join(root, 'd', 'locked.txt'), 0o000);
    await rejects(loadCorpus(['d/locked.txt'], { cwd: root }), /cannot be read \(permission denied\)/);
    const c = await loadCorpus(['d'], { cwd: root });
    assert.deepEqual(c.skipped, [{ path: join('d', 'locked.txt'), reason: 'cannot be read (permission denied)' }]);
  } finally {
    chmodSync(join(root, 'd', 'locked.txt'), 0o644);
    rmSync(root, { recursive: true, force: true });
  }
});

test('too little to train on: empty, whitespace only, a single distinct character, fewer than minChars', async () => {
  const root = tree({ 'empty.txt': '', 'ws.txt': ' \n\t\r\n ', 'aaa.txt': 'a'.repeat(500), 'short.txt': 'just a few words', 'two/a.txt': '', 'two/b.txt': '' });
  try {
    await rejects(loadCorpus(['empty.txt'], { cwd: root }), /^empty\.txt is empty; there is nothing to train on\.$/);
    await rejects(loadCorpus(['ws.txt'], { cwd: root }), /ws\.txt is empty \(only whitespace\)/);
    await rejects(loadCorpus(['two'], { cwd: root }), /the corpus \(2 files\) is empty/);
    await rejects(loadCorpus(['aaa.txt'], { cwd: root }), /aaa\.txt uses a single distinct character/);
    await rejects(loadCorpus(['short.txt'], { cwd: root }), /short\.txt has only 16 characters, fewer than the 100 needed/);
    const ok = await loadCorpus(['short.txt'], { cwd: root, minChars: 10 });
    assert.equal(ok.text, 'just a few words');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('size limit: a real 20 MB file is refused from its size, with the limit and how to raise it', async () => {
  const root = tree({});
  try {
    // Text up front (so it is not sniffed as binary), then a sparse tail up to 20 MB.
    const big = join(root, 'big.txt');
    const fd = openSync(big, 'w');
    writeSync(fd, Buffer.from(PROSE.repeat(100)));
    closeSync(fd);
    const { truncateSync } = await import('node:fs');
    truncateSync(big, 20 * 1024 * 1024);
    await rejects(
      loadCorpus(['big.txt'], { cwd: root }),
      /^big\.txt is 20\.0 MiB, over the 16\.0 MiB limit; name less text or raise the limit \(the max-bytes setting, or --max-bytes on the command line\)\.$/,
      'big.txt',
    );
    // 20 GiB (sparse) proves the refusal comes from stat: reading it whole would fail (or take minutes) instead.
    truncateSync(big, 20 * 1024 ** 3);
    await rejects(loadCorpus(['big.txt'], { cwd: root }), /^big\.txt is 20\.0 GiB, over the 16\.0 MiB limit/);

    // The limit is on the total, and names the largest file.
    writeFileSync(join(root, 'p1.txt'), PROSE.repeat(5));
    writeFileSync(join(root, 'p2.txt'), PROSE.repeat(10));
    await rejects(loadCorpus(['p1.txt', 'p2.txt'], { cwd: root, maxBytes: 1500 }), /^the corpus \(2 files; largest p2\.txt, 1\.\d KiB\) is 2\.\d KiB, over the 1\.5 KiB limit/, 'p2.txt');
    const ok = await loadCorpus(['p1.txt', 'p2.txt'], { cwd: root, maxBytes: 4096 });
    assert.equal(ok.text, PROSE.repeat(5) + '\n' + PROSE.repeat(10));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('checkText: decodes UTF-8, drops a BOM, rejects binary and invalid bytes', () => {
  assert.equal(checkText(Buffer.from('\uFEFFhé\r\n😀', 'utf8'), 'x'), 'hé\r\n😀');
  assert.equal(checkText(Buffer.alloc(0), 'x'), '');
  assert.throws(() => checkText(PNG, 'img.png'), (e: unknown) => e instanceof CorpusError && e.path === 'img.png' && /binary/.test(e.message));
  assert.throws(() => checkText(Buffer.from([0x61, 0x62, 0x63, 0xff]), 'f.txt'), /f\.txt is not valid UTF-8 \(first bad byte at offset 3\)/);
});
