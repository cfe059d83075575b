// GPU tensors and the buffer arena: every allocation is counted (live and peak bytes) and anything larger
// than the adapter's binding limit is split along its first axis, because WebGPU binds at most that much.

export type GpuDtype = 'f32' | 'f16' | 'u32' | 'i32';

export const DTYPE_BYTES: Record<GpuDtype, number> = { f32: 4, f16: 2, u32: 4, i32: 4 };

/** A dense row-major tensor in one bindable buffer range. f16 is stored packed, two halves per u32. */
export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  /** Bytes covered, rounded up to 4 (WebGPU copies and bindings work in words). */
  readonly bytes: number;
  readonly shape: readonly number[];
  readonly dtype: GpuDtype;
  readonly label: string;
}

/** A tensor that may exceed one binding: consecutive row blocks, each its own buffer. */
export interface GpuRowSplit {
  readonly shape: readonly number[];
  readonly dtype: GpuDtype;
  readonly parts: readonly GpuTensor[];
  /** First row (index into dim 0) of each part. */
  readonly rowStarts: readonly number[];
  readonly label: string;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The first `rows` rows of a tensor as a tensor of its own (same buffer): kernels check exact sizes. */
export function rowsView(t: GpuTensor, rows: number, label = t.label): GpuTensor {
  if (rows > t.shape[0]) throw new Error(`view of ${rows} rows exceeds ${t.label} [${t.shape.join(', ')}]`);
  const shape = [rows, ...t.shape.slice(1)];
  return { buffer: t.buffer, offset: t.offset, bytes: tensorBytes(shape, t.dtype), shape, dtype: t.dtype, label };
}

export function tensorBytes(shape: readonly number[], dtype: GpuDtype): number {
  return Math.ceil((numel(shape) * DTYPE_BYTES[dtype]) / 4) * 4;
}

// GPUBufferUsage STORAGE | COPY_SRC | COPY_DST as numbers: the global exists only after dawn's globals are installed.
const STORAGE_USAGE = 0x0080 | 0x0004 | 0x0008;

/**
 * Allocates storage buffers, reusing freed ones of the same size class, and counts bytes.
 * One buffer per tensor keeps WebGPU's per-buffer read/read-write aliasing rule out of the kernels' way.
 */
export class GpuArena {
  liveBytes = 0;
  peakBytes = 0;
  private readonly pool = new Map<number, GPUBuffer[]>();
  private readonly all = new Set<GPUBuffer>();
  private readonly sizeOf = new WeakMap<GPUBuffer, number>();

  constructor(private readonly device: GPUDevice, readonly maxBindingBytes: number, readonly maxBufferBytes: number) {}

  /** One tensor in one buffer; throws if it cannot be bound (use allocRowSplit for big weights). */
  alloc(shape: readonly number[], dtype: GpuDtype, label: string): GpuTensor {
    const bytes = tensorBytes(shape, dtype);
    if (bytes > this.maxBindingBytes) {
      throw new Error(`tensor ${label} [${shape.join(', ')}] ${dtype} needs ${bytes} bytes, over the binding limit ${this.maxBindingBytes}; split it`);
    }
    return { buffer: this.buffer(bytes, label), offset: 0, bytes, shape: [...shape], dtype, label };
  }

  /** Splits dim 0 into blocks that each fit one binding (block rows a multiple of `rowMultiple`). */
  allocRowSplit(shape: readonly number[], dtype: GpuDtype, label: string, rowMultiple = 4): GpuRowSplit {
    const rows = shape[0];
    const rowBytes = tensorBytes(shape.slice(1), dtype);
    let rowsPerPart = Math.floor(this.maxBindingBytes / Math.max(rowBytes, 1));
    rowsPerPart = Math.max(rowMultiple, rowsPerPart - (rowsPerPart % rowMultiple));
    if (rowsPerPart * rowBytes > this.maxBindingBytes) {
      throw new Error(`tensor ${label}: one block of ${rowMultiple} rows (${rowMultiple * rowBytes} bytes) exceeds the binding limit`);
    }
    const parts: GpuTensor[] = [];
    const rowStarts: number[] = [];
    for (let start = 0; start < rows; start += rowsPerPart) {
      const n = Math.min(rowsPerPart, rows - start);
      rowStarts.push(start);
      parts.push(this.alloc([n, ...shape.slice(1)], dtype, `${label}[${start}:${start + n}]`));
    }
    return { shape: [...shape], dtype, parts, rowStarts, label };
  }

  free(tensor: GpuTensor | GpuRowSplit): void {
    const parts = 'parts' in tensor ? tensor.parts : [tensor];
    for (const part of parts) {
      const size = this.sizeOf.get(part.buffer);
      if (size === undefined) continue;
      this.liveBytes -= size;
      const list = this.pool.get(size) ?? [];
      list.push(part.buffer);
      this.pool.set(size, list);
    }
  }

  /**
   * Destroys the freed buffers kept for reuse, giving their memory back (one-off long-context caches would
   * otherwise stay pooled beside the next, larger ones). Live tensors are untouched. Returns the bytes given back.
   */
  trimPool(): number {
    let bytes = 0;
    for (const [size, list] of this.pool) {
      for (const buffer of list) {
        buffer.destroy();
        this.all.delete(buffer);
        bytes += size;
      }
    }
    this.pool.clear();
    return bytes;
  }

  /** Destroys every buffer this arena made. */
  release(): void {
    for (const buffer of this.all) buffer.destroy();
    this.all.clear();
    this.pool.clear();
    this.liveBytes = 0;
  }

  private buffer(bytes: number, label: string): GPUBuffer {
    // Size classes of 256 B keep reuse likely without wasting much.
    const size = Math.max(256, Math.ceil(bytes / 256) * 256);
    const reused = this.pool.get(size)?.pop();
    const buffer = reused ?? this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
    if (!reused) {
      this.all.add(buffer);
      this.sizeOf.set(buffer, size);
    }
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }
}
