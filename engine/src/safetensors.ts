// The safetensors format, F32 only: 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, __metadata__?: {string: string}}, then the raw data. Byte-compatible
// with the PyTorch reference's save_safetensors/load_safetensors (header padded to 8 bytes with spaces).

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** Same limit as the safetensors library: a bigger header is a corrupt file, not a model. */
const MAX_HEADER = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function validShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Serializes F32 tensors in the map's order; metadata goes in `__metadata__`. */
export function encodeSafetensors(tensors: Map<string, NamedTensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new SafetensorsError(`metadata ${JSON.stringify(k)}: values must be strings, got ${typeof v}`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" cannot be a tensor name');
    if (!validShape(t.shape)) throw new SafetensorsError(`tensor ${JSON.stringify(name)}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    if (!(t.data instanceof Float32Array)) throw new SafetensorsError(`tensor ${JSON.stringify(name)}: data must be a Float32Array`);
    if (numel(t.shape) !== t.data.length) throw new SafetensorsError(`tensor ${JSON.stringify(name)}: shape [${t.shape}] holds ${numel(t.shape)} values but data has ${t.data.length}`);
    const n = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let h = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (h.length % 8)) % 8;
  if (pad) h = Buffer.concat([h, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + h.length + offset);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  let o = 8 + h.length;
  for (const t of tensors.values()) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), o);
    else for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i]!, o + 4 * i);
    o += t.data.byteLength;
  }
  return out;
}

/** Parses a safetensors buffer; every structural problem throws SafetensorsError naming `what` (e.g. the file path). */
export function decodeSafetensors(buf: Buffer, what = 'safetensors data'): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${what}: ${msg}`);
  };
  if (buf.length < 8) fail(`too short to be a safetensors file (${buf.length} bytes, the header length alone takes 8)`);
  const hl = buf.readBigUInt64LE(0);
  if (hl > BigInt(buf.length - 8)) fail(`header length ${hl} runs past the end of the file (${buf.length} bytes); the file is truncated or not safetensors`);
  const n = Number(hl);
  if (n > MAX_HEADER) fail(`header length ${n} is implausibly large`);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message}); the file is corrupt or not safetensors`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, NamedTensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, meta] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = `tensor ${JSON.stringify(name)}`;
    if (typeof meta !== 'object' || meta === null) fail(`${t}: entry is not an object`);
    const m = meta as Record<string, unknown>;
    if (m.dtype !== 'F32') fail(`${t} has dtype ${JSON.stringify(m.dtype)}; only F32 is supported`);
    if (!validShape(m.shape)) fail(`${t}: shape ${JSON.stringify(m.shape)} is not a list of non-negative integers`);
    const shape = m.shape as number[];
    const off = m.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((v) => Number.isSafeInteger(v) && v >= 0) || off[0] > off[1])
      fail(`${t}: data_offsets ${JSON.stringify(off)} is not a range [begin, end] of byte offsets`);
    const [s, e] = off as [number, number];
    if (e - s !== numel(shape) * 4) fail(`${t}: data_offsets [${s}, ${e}] span ${e - s} bytes but shape [${shape}] needs ${numel(shape) * 4}`);
    if (e > dataLen) fail(`${t}: data ends at byte ${e} but the file holds only ${dataLen} bytes of data; the file is truncated`);
    ranges.push([s, e, name]);
    const data = new Float32Array(numel(shape));
    if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(buf.subarray(dataStart + s, dataStart + e));
    else for (let i = 0; i < data.length; i++) data[i] = buf.readFloatLE(dataStart + s + 4 * i);
    tensors.set(name, { shape, data });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < ranges.length; i++)
    if (ranges[i]![0] < ranges[i - 1]![1]) fail(`tensors ${JSON.stringify(ranges[i - 1]![2])} and ${JSON.stringify(ranges[i]![2])} overlap in the data`);
  return { tensors, metadata };
}
