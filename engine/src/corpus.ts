// Training text from files, folders and glob patterns, with one-sentence errors that name the path.
// Files are sized with stat and sniffed (first 8 KB) before any is read whole, so an oversized or
// binary file is refused cheaply.
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { glob, isDynamicPattern } from 'tinyglobby';

export class CorpusError extends Error {
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'CorpusError';
  }
}

export interface CorpusFile {
  /** Relative to cwd when inside it, else absolute. */
  path: string;
  bytes: number;
  /** UTF-16 range of this file's text in Corpus.text (end exclusive). */
  start: number;
  end: number;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface Corpus {
  files: CorpusFile[];
  /** Files joined with '\n' in sorted path order. */
  text: string;
  /** Files inside named folders or matched by globs that were left out (binary, not UTF-8, unreadable). */
  skipped: SkippedFile[];
}

export interface CorpusOptions {
  cwd?: string;
  /** Total size limit in bytes; default 16 MiB. */
  maxBytes?: number;
  /** Glob patterns (relative to cwd) of files or folders to leave out. */
  exclude?: string[];
  /** Fewest characters (code points) worth training on; default 100. */
  minChars?: number;
  /** False for a text to analyze, not train on: only an empty one is refused (one distinct character is a fine text to look at). */
  trainable?: boolean;
}

export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MIN_CHARS = 100;
const SNIFF_BYTES = 8192;
/**
 * JavaScript heap per corpus byte once read and tokenized: the string (up to 2 bytes a character),
 * token ids and their start and end offsets (number arrays, 8 bytes an element), with room for
 * the copies made on the way. A raised --max-bytes must still leave the engine alive.
 */
const HEAP_BYTES_PER_CORPUS_BYTE = 32;
/** Folders never entered when walking a folder or expanding a glob. */
const SKIP_DIRS = new Set(['node_modules', '.git', '.ldlens']);
const GLOB_IGNORE = ['**/node_modules/**', '**/.git/**', '**/.ldlens/**'];

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

/** The UTF-16 encoding a byte-order mark announces, or null. */
export function utf16Bom(head: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  return null;
}

/** UTF-16 without a BOM: NUL in most of the even or most of the odd bytes (Latin text). */
function looksUtf16(head: Uint8Array, n: number): boolean {
  let even = 0, odd = 0;
  for (let i = 0; i + 1 < n; i += 2) {
    if (head[i] === 0) even++;
    if (head[i + 1] === 0) odd++;
  }
  return n >= 8 && Math.max(even, odd) > 0.6 * (n / 2) && Math.min(even, odd) < 0.1 * (n / 2);
}

/** Why these leading bytes look binary, or null for text: NUL bytes, or over 10% control characters. */
export function looksBinary(head: Uint8Array): string | null {
  const n = Math.min(head.length, SNIFF_BYTES);
  if (n === 0) return null;
  if (utf16Bom(head)) return null; // UTF-16 text: decoded as such
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = head[i]!;
    if (b === 0) return looksUtf16(head, n) ? 'it contains NUL bytes: it looks like UTF-16 text without a byte-order mark; convert it to UTF-8' : 'it contains NUL bytes';
    // Tab, LF, VT, FF, CR and ESC (ANSI colours in logs) are normal in text.
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0b && b !== 0x0c && b !== 0x0d && b !== 0x1b) || b === 0x7f) control++;
  }
  if (control / n > 0.1) return `${Math.round((100 * control) / n)}% of its first ${formatBytes(n)} are control characters`;
  return null;
}

/** Byte offset of the first invalid UTF-8 sequence (Unicode Table 3-7: no overlongs, surrogates or > U+10FFFF), or −1. */
function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) { i++; continue; }
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) { len = 3; if (c === 0xe0) lo = 0xa0; else if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; if (c === 0xf0) lo = 0x90; else if (c === 0xf4) hi = 0x8f; }
    else return i;
    if (i + len > n) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += len;
  }
  return -1;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Decoded = { text: string } | { reason: string; message: string };

function decodeText(buf: Uint8Array, path: string): Decoded {
  const why = looksBinary(buf.subarray(0, SNIFF_BYTES));
  if (why) return { reason: `looks binary: ${why}`, message: `${path} looks like a binary file (${why}); name text files only.` };
  const utf16 = utf16Bom(buf);
  if (utf16) {
    try {
      return { text: new TextDecoder(utf16, { fatal: true, ignoreBOM: false }).decode(buf) };
    } catch {
      return { reason: `not valid ${utf16.toUpperCase()}`, message: `${path} starts with a ${utf16.toUpperCase()} byte-order mark but is not valid ${utf16.toUpperCase()}; convert it to UTF-8 or leave it out.` };
    }
  }
  const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  try {
    return { text: utf8Fatal.decode(buf.subarray(bom)) };
  } catch {
    const at = firstInvalidUtf8(buf.subarray(bom));
    const where = at < 0 ? '' : ` (first bad byte at offset ${at + bom})`;
    return { reason: `not valid UTF-8${where}`, message: `${path} is not valid UTF-8${where}; convert it to UTF-8 or leave it out.` };
  }
}

/** Decodes a file's bytes as UTF-8 text (a BOM is dropped), or throws CorpusError naming the path. */
export function checkText(buf: Buffer, path: string): string {
  const d = decodeText(buf, path);
  if ('text' in d) return d.text;
  throw new CorpusError(d.message, path);
}

interface Candidate {
  abs: string;
  /** Named on its own (errors are fatal) rather than found in a folder or by a glob (skipped). */
  explicit: boolean;
}

async function walk(dir: string, out: Candidate[], skipped: SkippedFile[], show: (abs: string) => string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    skipped.push({ path: show(dir), reason: `folder cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
    return;
  }
  for (const e of entries) {
    const abs = join(dir, e.name);
    // Dot-files and dot-folders are tool state or secrets (.env), not prose; globs skip them too.
    if (e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
    // Symbolic links are not followed: a link to a parent folder would loop.
    if (e.isDirectory()) await walk(abs, out, skipped, show);
    else if (e.isFile()) out.push({ abs, explicit: false });
  }
}

/** Absolute paths matched by the exclude patterns (a pattern naming a folder excludes what is inside). */
async function excluded(patterns: string[], cwd: string): Promise<Set<string>> {
  if (!patterns.length) return new Set();
  const all = patterns.flatMap((p) => [p, p.replace(/\/+$/, '') + '/**']);
  return new Set(await glob(all, { cwd, absolute: true, dot: true, ignore: GLOB_IGNORE }).then((l) => l.map((p) => resolve(p))));
}

async function sniff(abs: string): Promise<Buffer> {
  const fh = await open(abs, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return code ?? String(e);
}

/**
 * Loads the training text. `specs` are files, folders (walked recursively, skipping node_modules,
 * dot-files and dot-folders such as .git and .ldlens) or glob patterns, relative to opts.cwd. Files are deduplicated and
 * joined with '\n' in sorted absolute-path order, so the same specs always give the same text.
 */
export async function loadCorpus(specs: string[], opts: CorpusOptions = {}): Promise<Corpus> {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const minChars = opts.minChars ?? DEFAULT_MIN_CHARS;
  const show = (abs: string) => {
    const r = relative(cwd, abs);
    return r && !r.startsWith('..') && !isAbsolute(r) ? r : abs;
  };
  if (!specs.length) throw new CorpusError('no corpus given: name at least one file, folder or glob pattern.');

  const candidates: Candidate[] = [];
  const skipped: SkippedFile[] = [];
  for (const spec of specs) {
    const abs = resolve(cwd, spec);
    let st;
    try {
      st = await stat(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && isDynamicPattern(spec)) {
        const found = await glob(spec, { cwd, absolute: true, ignore: GLOB_IGNORE });
        if (!found.length) throw new CorpusError(`no files match the pattern ${JSON.stringify(spec)} (in ${cwd}).`, spec);
        for (const f of found) candidates.push({ abs: resolve(f), explicit: false });
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CorpusError(`${show(abs)} does not exist.`, show(abs));
      throw new CorpusError(`${show(abs)} cannot be read (${errnoText(e)}).`, show(abs));
    }
    if (st.isDirectory()) {
      const before = candidates.length;
      await walk(abs, candidates, skipped, show);
      if (candidates.length === before) throw new CorpusError(`the folder ${show(abs)} holds no files (node_modules, dot-files and dot-folders are skipped).`, show(abs));
    } else candidates.push({ abs, explicit: true });
  }

  // Dedupe (a file may be named and also found in a folder; naming it wins), drop excluded, sort.
  const exclude = await excluded(opts.exclude ?? [], cwd);
  const byPath = new Map<string, Candidate>();
  for (const c of candidates) {
    if (exclude.has(c.abs)) continue;
    const prev = byPath.get(c.abs);
    if (!prev || c.explicit) byPath.set(c.abs, c);
  }
  const chosen = [...byPath.values()].sort((a, b) => (a.abs < b.abs ? -1 : a.abs > b.abs ? 1 : 0));
  if (!chosen.length) throw new CorpusError(`nothing matched ${specs.map((s) => JSON.stringify(s)).join(', ')} after exclusions.`);

  // Size and sniff everything before reading anything whole.
  const sized: { c: Candidate; bytes: number }[] = [];
  const fail = (c: Candidate, reason: string, message: string) => {
    if (c.explicit) throw new CorpusError(message, show(c.abs));
    skipped.push({ path: show(c.abs), reason });
  };
  for (const c of chosen) {
    let st;
    let head: Buffer | undefined;
    try {
      st = await stat(c.abs);
      if (st.isFile()) head = await sniff(c.abs);
    } catch (e) {
      fail(c, `cannot be read (${errnoText(e)})`, `${show(c.abs)} cannot be read (${errnoText(e)}).`);
      continue;
    }
    if (!head) { fail(c, 'not a regular file', `${show(c.abs)} is not a regular file.`); continue; }
    const bytes = st.size;
    const why = looksBinary(head);
    if (why) { fail(c, `looks binary: ${why}`, `${show(c.abs)} looks like a binary file (${why}); name text files only.`); continue; }
    sized.push({ c, bytes });
  }
  if (!sized.length) throw new CorpusError(`none of the ${chosen.length} matched file${chosen.length === 1 ? ' is' : 's are'} text (${skipped[0]?.path}: ${skipped[0]?.reason}).`);
  const total = sized.reduce((s, f) => s + f.bytes, 0);
  if (total > maxBytes) {
    const big = sized.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const what = sized.length === 1 ? show(big.c.abs) : `the corpus (${sized.length} files; largest ${show(big.c.abs)}, ${formatBytes(big.bytes)})`;
    throw new CorpusError(
      `${what} is ${formatBytes(total)}, over the ${formatBytes(maxBytes)} limit; name less text or raise the limit (the max-bytes setting, or --max-bytes on the command line).`,
      show(big.c.abs),
    );
  }

  const heapLimit = getHeapStatistics().heap_size_limit;
  if (total * HEAP_BYTES_PER_CORPUS_BYTE > heapLimit / 2) {
    const what = sized.length === 1 ? show(sized[0]!.c.abs) : `the corpus (${sized.length} files)`;
    throw new CorpusError(
      `${what} is ${formatBytes(total)}: reading and tokenizing it needs about ${formatBytes(total * HEAP_BYTES_PER_CORPUS_BYTE)} of memory, more than half of this engine's ${formatBytes(heapLimit)} JavaScript heap; name less text.`,
      show(sized[0]!.c.abs),
    );
  }

  const files: CorpusFile[] = [];
  const parts: string[] = [];
  let offset = 0;
  for (const { c } of sized) {
    const p = show(c.abs);
    let buf: Buffer;
    try {
      buf = await readFile(c.abs);
    } catch (e) {
      fail(c, `cannot be read (${errnoText(e)})`, `${p} cannot be read (${errnoText(e)}).`);
      continue;
    }
    const d = decodeText(buf, p);
    if (!('text' in d)) { fail(c, d.reason, d.message); continue; }
    if (parts.length) offset += 1; // the '\n' joiner
    files.push({ path: p, bytes: buf.length, start: offset, end: offset + d.text.length });
    offset += d.text.length;
    parts.push(d.text);
  }
  // A file may have grown since it was sized: hold the limit on what was actually read.
  const read = files.reduce((s, f) => s + f.bytes, 0);
  if (read > maxBytes) throw new CorpusError(`the corpus grew to ${formatBytes(read)} while being read, over the ${formatBytes(maxBytes)} limit.`);
  if (!files.length) throw new CorpusError(`none of the matched files is UTF-8 text (${skipped[0]?.path}: ${skipped[0]?.reason}).`);
  const text = parts.join('\n');
  const what = files.length === 1 ? files[0]!.path : `the corpus (${files.length} files)`;
  if (opts.trainable === false) {
    if (!text.length) throw new CorpusError(`${what} is empty: there is nothing to analyze.`);
  } else checkTrainable(text, what, minChars);
  return { files, text, skipped };
}

/** Throws CorpusError when the text is empty, has one distinct character, or is shorter than minChars code points. */
export function checkTrainable(text: string, what: string, minChars = DEFAULT_MIN_CHARS): void {
  if (text.trim().length === 0) throw new CorpusError(`${what} is empty${text.length ? ' (only whitespace)' : ''}; there is nothing to train on.`);
  let chars = 0;
  let first = -1;
  let distinct = 1;
  for (const ch of text) {
    chars++;
    const cp = ch.codePointAt(0)!;
    if (first < 0) first = cp;
    else if (cp !== first) distinct = 2;
  }
  if (distinct < 2) throw new CorpusError(`${what} uses a single distinct character; a model needs at least 2 to learn anything.`);
  if (chars < minChars) throw new CorpusError(`${what} has only ${chars} characters, fewer than the ${minChars} needed to train; add more text.`);
}
