// safetensors files: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the data. Headers are read eagerly (small); tensor data lazily, one positioned read per tensor.
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { DType } from '../checkpoint.js';
import { ModelLoadError, bytesPerElement, numel } from '../checkpoint.js';

export interface SafetensorsEntry {
  file: string;
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset of the tensor data in the file. */
  offset: number;
  byteLength: number;
}

const dtypes: Record<string, DType> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** One header entry, checked field by field: dtype known, shape and offsets whole numbers, span = shape × dtype. */
function checkEntry(where: string, name: string, e: unknown): { dtype: DType; shape: number[]; begin: number; end: number } {
  const entry = (e && typeof e === 'object' ? e : {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const dtype = typeof entry.dtype === 'string' ? dtypes[entry.dtype] : undefined;
  if (!dtype) throw new ModelLoadError(`${where}: tensor ${name} has unsupported dtype ${String(entry.dtype)} (f32, f16, bf16 only)`);
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new ModelLoadError(`${where}: tensor ${name} has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
    throw new ModelLoadError(`${where}: tensor ${name} has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with 0 ≤ begin ≤ end`);
  }
  const [begin, end] = offsets as number[];
  const byteLength = numel(shape) * bytesPerElement(dtype);
  if (end - begin !== byteLength) {
    throw new ModelLoadError(`${where}: tensor ${name} spans ${end - begin} bytes but [${shape}] ${entry.dtype as string} needs ${byteLength}`);
  }
  return { dtype, shape, begin, end };
}

/** Parses the header of one safetensors file and checks it against the file's size. */
export function readSafetensorsHeader(file: string): SafetensorsEntry[] {
  const where = basename(file);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new ModelLoadError(`${where}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ModelLoadError(`${where}: not a regular file`);
    const size = stat.size;
    if (size < 8) throw new ModelLoadError(`${where}: truncated safetensors file (${size} bytes, no header length)`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > size - 8) throw new ModelLoadError(`${where}: truncated safetensors file (header of ${headerLen} bytes, file has ${size})`);
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch {
      throw new ModelLoadError(`${where}: safetensors header is not valid JSON`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new ModelLoadError(`${where}: safetensors header is not a JSON object`);
    const dataStart = 8 + headerLen;
    const entries: SafetensorsEntry[] = [];
    const spans: { name: string; begin: number; end: number }[] = [];
    for (const [name, e] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const { dtype, shape, begin, end } = checkEntry(where, name, e);
      if (dataStart + end > size) {
        throw new ModelLoadError(`${where}: truncated safetensors file (tensor ${name} ends at byte ${dataStart + end}, file has ${size})`);
      }
      spans.push({ name, begin, end });
      entries.push({ file, name, dtype, shape, offset: dataStart + begin, byteLength: end - begin });
    }
    // As the reference reader does: tensors tile the data exactly, so an offset that lies (overlap, gap, a span
    // reaching into the header) cannot silently feed another tensor's bytes to the model.
    spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
    let at = 0;
    for (const s of spans) {
      if (s.begin !== at) {
        throw new ModelLoadError(`${where}: tensor ${s.name} data_offsets start at ${s.begin}, expected ${at} (tensors overlap or leave a gap)`);
      }
      at = s.end;
    }
    if (dataStart + at !== size) throw new ModelLoadError(`${where}: ${size - dataStart - at} bytes after the last tensor's data (offsets do not cover the file)`);
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Reads `byteLength` bytes at `offset` (a whole tensor or a contiguous slice of one). */
export function readBytes(file: string, offset: number, byteLength: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const out = new Uint8Array(byteLength);
    let done = 0;
    while (done < byteLength) {
      const n = readSync(fd, out, done, Math.min(byteLength - done, 1 << 30), offset + done);
      if (n === 0) throw new ModelLoadError(`${basename(file)}: truncated while reading ${byteLength} bytes at ${offset}`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Writes tensors as one safetensors file (used by tests and to export random checkpoints). */
export function writeSafetensors(file: string, tensors: { name: string; dtype: DType; shape: number[]; bytes: Uint8Array }[]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype.toUpperCase(), shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keep the data 8-byte aligned, as the reference writer does
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  writeFileSync(file, out);
}
