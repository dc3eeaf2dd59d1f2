// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the raw
// little-endian tensor bytes, offsets relative to the end of the header.
//
// The reader trusts nothing: the header length is bounded, the JSON must be an object of
// well-formed entries, every dtype/shape must match its byte range, ranges must tile the
// data area exactly (no overlaps, no holes) and end at the end of the file. Tensors are
// read lazily, one at a time, with positioned reads, so a multi-GB file never needs twice
// its size in memory. Errors name the file and the tensor.
import { temporaryName } from './atomic.js';
import { endianness } from 'node:os';
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync, unlinkSync } from 'node:fs';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Floating dtypes that load into float32 tensors. */
export const FLOAT_DTYPES: readonly SafetensorsDType[] = ['F32', 'F16', 'BF16', 'F64'];

/** Upper bound on the JSON header (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range inside the data area. */
  begin: number;
  end: number;
}

export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private readonly fd: number;
  private readonly dataStart: number;
  private readonly infos: Map<string, TensorInfo>;

  private constructor(path: string, fd: number, dataStart: number, infos: Map<string, TensorInfo>, metadata: Record<string, string>) {
    this.path = path;
    this.fd = fd;
    this.dataStart = dataStart;
    this.infos = infos;
    this.metadata = metadata;
  }

  /** Opens and validates a file; tensor data is read later, on demand. */
  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new SafetensorsError(`${path}: cannot open (${(e as Error).message})`);
    }
    try {
      const { dataStart, infos, metadata } = parseHeader(path, fd);
      return new SafetensorsFile(path, fd, dataStart, infos, metadata);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.infos.keys()];
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): TensorInfo {
    const i = this.infos.get(name);
    if (!i) throw new SafetensorsError(`${this.path}: no tensor named "${name}"`);
    return i;
  }

  /** The raw little-endian bytes of one tensor. */
  readBytes(name: string): Uint8Array {
    const i = this.info(name);
    const out = new Uint8Array(i.end - i.begin);
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd, out, done, out.length - done, this.dataStart + i.begin + done);
      if (n <= 0) throw new SafetensorsError(`${this.path}: tensor "${name}": file ended while reading its data`);
      done += n;
    }
    return out;
  }

  /**
   * One floating tensor as float32 (F16/BF16/F64 converted). With `requireFinite`
   * (default), a NaN or infinity is an error that names the tensor and the element.
   */
  readFloat32(name: string, requireFinite = true): Float32Array {
    const i = this.info(name);
    if (!FLOAT_DTYPES.includes(i.dtype)) {
      throw new SafetensorsError(`${this.path}: tensor "${name}" has dtype ${i.dtype}; expected one of ${FLOAT_DTYPES.join(', ')}`);
    }
    const bytes = this.readBytes(name);
    const out = toFloat32(bytes, i.dtype);
    if (requireFinite) {
      for (let k = 0; k < out.length; k++) {
        if (!Number.isFinite(out[k])) {
          throw new SafetensorsError(`${this.path}: tensor "${name}" has a non-finite value (${out[k]}) at flat index ${k}`);
        }
      }
    }
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function parseHeader(path: string, fd: number): { dataStart: number; infos: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const size = fstatSync(fd).size;
  if (size < 8) throw new SafetensorsError(`${path}: file is ${size} bytes; a safetensors file starts with an 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${path}: header length ${headerLen} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  const n = Number(headerLen);
  if (8 + n > size) throw new SafetensorsError(`${path}: header length ${n} runs past the end of the ${size}-byte file (truncated?)`);
  const hb = Buffer.alloc(n);
  if (n > 0) readSync(fd, hb, 0, n, 8);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hb));
  } catch (e) {
    throw new SafetensorsError(`${path}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(`${path}: header must be a JSON object`);
  }
  const infos = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string')) {
        throw new SafetensorsError(`${path}: "__metadata__" must map strings to strings`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `${path}: tensor "${name}"`;
    if (typeof raw !== 'object' || raw === null) throw new SafetensorsError(`${where}: entry must be an object`);
    const { dtype, shape, data_offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(data_offsets) || data_offsets.length !== 2 || !data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: data_offsets must be [begin, end] integers, got ${JSON.stringify(data_offsets)}`);
    }
    const [begin, end] = data_offsets as number[];
    if (end < begin) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const elements = (shape as number[]).reduce((p, d) => p * d, 1);
    const need = elements * DTYPE_BYTES[dtype as SafetensorsDType];
    if (end - begin !== need) {
      throw new SafetensorsError(`${where}: ${dtype} shape [${(shape as number[]).join(', ')}] needs ${need} bytes but data_offsets give ${end - begin}`);
    }
    infos.set(name, { name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }
  // The byte ranges must tile the data area: sorted by begin, each starting where the
  // previous ended, the last ending at the end of the file.
  const dataStart = 8 + n;
  const sorted = [...infos.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const i of sorted) {
    if (i.begin < pos) throw new SafetensorsError(`${path}: tensor "${i.name}" overlaps the previous tensor (offset ${i.begin} < ${pos})`);
    if (i.begin > pos) throw new SafetensorsError(`${path}: a hole of ${i.begin - pos} bytes precedes tensor "${i.name}" (offset ${pos} to ${i.begin})`);
    pos = i.end;
  }
  if (dataStart + pos !== size) {
    throw new SafetensorsError(
      dataStart + pos > size
        ? `${path}: tensor data ends at byte ${dataStart + pos} but the file has ${size} bytes (truncated)`
        : `${path}: ${size - dataStart - pos} bytes after the last tensor are not described by the header`,
    );
  }
  return { dataStart, infos, metadata };
}

// ---------------------------------------------------------------- conversions

const LITTLE_ENDIAN = endianness() === 'LE';
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 value of every IEEE half bit pattern: F16 tensors convert by lookup. */
let halfTable: Float32Array | null = null;
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 -> IEEE half, round to nearest even (exact for values that came from F16). */
function floatToHalf(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDType): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  if (dtype === 'F32' && LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, n); // no copy: same byte layout
  }
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F16': {
      // A table lookup through a Uint16Array view where the layout allows (many times faster
      // than decoding each value: loading a 1.3B-parameter F16 checkpoint took minutes).
      const table = halfToFloatTable();
      if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
        const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) out[i] = table[h[i]];
      } else {
        for (let i = 0; i < n; i++) out[i] = table[view.getUint16(2 * i, true)];
      }
      break;
    }
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
        const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) u[i] = h[i] << 16;
      } else {
        for (let i = 0; i < n; i++) u[i] = view.getUint16(2 * i, true) << 16;
      }
      break;
    }
    default:
      throw new SafetensorsError(`cannot convert ${dtype} to float32`);
  }
  return out;
}

export function fromFloat32(data: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Uint8Array {
  const size = DTYPE_BYTES[dtype];
  const out = new Uint8Array(data.length * size);
  const view = new DataView(out.buffer);
  if (dtype === 'F32' && LITTLE_ENDIAN) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else if (dtype === 'F32') {
    for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < data.length; i++) view.setUint16(2 * i, floatToHalf(data[i]), true);
  } else {
    for (let i = 0; i < data.length; i++) {
      f32Scratch[0] = data[i];
      const x = u32Scratch[0];
      // round to nearest even on the dropped 16 bits; NaN stays NaN
      const r = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      view.setUint16(2 * i, r & 0xffff, true);
    }
  }
  return out;
}

// ---------------------------------------------------------------- writing

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Writes a safetensors file: tensors in name order, header padded with spaces to a
 * multiple of 8 bytes, written to a temporary name and renamed into place so a crash
 * never leaves a half-written file. The same inputs always give the same bytes.
 */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}): void {
  writeSafetensorsStreamed(path, tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, values: () => t.data })), metadata);
}

/** A tensor to write whose values are produced only when its turn comes. */
export interface TensorToStream {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: readonly number[];
  values: () => Float32Array;
}

/**
 * writeSafetensors with each tensor's values produced and converted one at a time, so a
 * file larger than memory (a synthetic multi-billion-parameter checkpoint) can be written.
 */
export function writeSafetensorsStreamed(path: string, tensors: TensorToStream[], metadata: Record<string, string> = {}): void {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const seen = new Set<string>();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of sorted) {
    if (seen.has(t.name)) throw new SafetensorsError(`${path}: duplicate tensor name "${t.name}"`);
    seen.add(t.name);
    const bytes = t.shape.reduce((p, d) => p * d, 1) * (t.dtype === 'F32' ? 4 : 2);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const jb = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(jb.length));
  const tmp = temporaryName(path); // streamed to a temporary name, renamed when complete
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, lenBuf);
    writeAll(fd, jb);
    for (const t of sorted) {
      const data = t.values();
      const elements = t.shape.reduce((p, d) => p * d, 1);
      if (elements !== data.length) throw new SafetensorsError(`${path}: tensor "${t.name}" has ${data.length} values for shape [${t.shape.join(', ')}]`);
      writeAll(fd, fromFloat32(data, t.dtype));
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to remove */
    }
    throw e;
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}
