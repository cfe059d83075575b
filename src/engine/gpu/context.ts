// GpuContext: the one object kernels and models talk to — buffers, uploads, readbacks, the pipeline and
// bind-group caches, per-dispatch uniforms, and DispatchSpec lists encoded into one compute pass.
import { openGpuDevice, type GpuCaps, type GpuDeviceHandle } from './device.js';
import { GpuArena, numel, type GpuDtype, type GpuRowSplit, type GpuTensor } from './arena.js';
import { PipelineCache, type Defines, type KernelSource } from './pipelines.js';
import { f16BitsToF32, f32ToF16Bits } from './half.js';

/** A prebuilt dispatch: replaying a list of these is a decode step (no JS work but encoding). */
export interface DispatchSpec {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

/** Records dispatches into an open compute pass (GpuContext.run, the bench timer and the dispatch profile). */
export function encodeDispatches(pass: GPUComputePassEncoder, specs: readonly DispatchSpec[]): void {
  for (const spec of specs) {
    pass.setPipeline(spec.pipeline);
    pass.setBindGroup(0, spec.bindGroup);
    pass.dispatchWorkgroups(spec.workgroups[0], spec.workgroups[1], spec.workgroups[2]);
  }
}

/** Marks a uniform word as f32 (plain numbers are u32). */
export interface F32Word { readonly f32: number }
export const f32 = (value: number): F32Word => ({ f32: value });
export type ParamWord = number | F32Word;

export interface DispatchRequest {
  kernel: KernelSource;
  defines?: Defines;
  /** Binding 0 when present: a uniform struct of 4-byte words, in declaration order. */
  params?: readonly ParamWord[];
  /** Storage bindings, numbered after the uniform (1, 2, …) or from 0 if there are no params. */
  bindings: readonly GpuTensor[];
  workgroups: readonly [number, number?, number?];
  /** Which pass of a multi-pass kernel this is (profiles and labels tell the passes apart). */
  pass?: string;
}

const MAP_READ = 0x0001;
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;

export class GpuContext {
  readonly device: GPUDevice;
  readonly queue: GPUQueue;
  readonly caps: GpuCaps;
  readonly arena: GpuArena;
  readonly pipelines: PipelineCache;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;

  private constructor(private readonly handle: GpuDeviceHandle) {
    this.device = handle.device;
    this.queue = handle.device.queue;
    this.caps = handle.caps;
    this.arena = new GpuArena(this.device, this.caps.maxBindingBytes, this.caps.maxBufferBytes);
    // SUBGROUP_SIZE reaches every kernel so workgroup shapes follow the device, not a constant.
    this.pipelines = new PipelineCache(this.device, { SUBGROUP_SIZE: this.caps.subgroupSize });
  }

  static async create(): Promise<GpuContext> {
    return new GpuContext(await openGpuDevice());
  }

  /** Allocates a tensor (optionally filled); f32 data is packed to halves for f16 tensors. */
  tensor(shape: readonly number[], dtype: GpuDtype, label: string, data?: ArrayLike<number>): GpuTensor {
    const t = this.arena.alloc(shape, dtype, label);
    if (data) this.upload(t, data);
    return t;
  }

  /** A weight that may exceed one binding, split along rows. */
  rowSplit(shape: readonly number[], dtype: GpuDtype, label: string, data?: ArrayLike<number>): GpuRowSplit {
    const split = this.arena.allocRowSplit(shape, dtype, label);
    if (data) {
      const rowLen = numel(shape.slice(1));
      split.parts.forEach((part, i) => {
        const start = split.rowStarts[i] * rowLen;
        this.upload(part, sliceOf(data, start, start + numel(part.shape)));
      });
    }
    return split;
  }

  /** Uploads whole rows of a row-split tensor starting at `row` (rows may straddle parts). */
  uploadRows(split: GpuRowSplit, row: number, data: ArrayLike<number>): void {
    const rowLen = numel(split.shape.slice(1));
    const rows = data.length / rowLen;
    split.parts.forEach((part, i) => {
      const lo = Math.max(row, split.rowStarts[i]);
      const hi = Math.min(row + rows, split.rowStarts[i] + part.shape[0]);
      if (lo >= hi) return;
      const sub = sliceOf(data, (lo - row) * rowLen, (hi - row) * rowLen);
      const at = (lo - split.rowStarts[i]) * rowLen;
      if (split.dtype === 'f16' && (at % 2 !== 0 || sub.length % 2 !== 0)) throw new Error(`uploadRows ${split.label}: f16 rows must cover whole words`);
      const view: GpuTensor = { ...part, offset: part.offset + at * (split.dtype === 'f16' ? 2 : 4), shape: [sub.length], bytes: Math.ceil(sub.length * (split.dtype === 'f16' ? 2 : 4) / 4) * 4 };
      this.upload(view, sub);
    });
  }

  upload(t: GpuTensor, data: ArrayLike<number>): void {
    if (data.length !== numel(t.shape)) {
      throw new Error(`upload to ${t.label}: ${data.length} values for shape [${t.shape.join(', ')}]`);
    }
    let bytes: ArrayBufferView;
    if (t.dtype === 'f16') {
      const halves = new Uint16Array(Math.ceil(data.length / 2) * 2);
      if (data instanceof Uint16Array) halves.set(data);
      else for (let i = 0; i < data.length; i++) halves[i] = f32ToF16Bits(data[i]);
      bytes = halves;
    } else if (t.dtype === 'f32') {
      bytes = data instanceof Float32Array ? data : Float32Array.from(data);
    } else if (t.dtype === 'u32') {
      bytes = data instanceof Uint32Array ? data : Uint32Array.from(data);
    } else {
      bytes = data instanceof Int32Array ? data : Int32Array.from(data);
    }
    // writeBuffer copies at once into Dawn's staging, so big uploads go in slices to bound that memory.
    const chunk = 64 << 20;
    for (let at = 0; at < bytes.byteLength; at += chunk) {
      const n = Math.min(chunk, bytes.byteLength - at);
      this.queue.writeBuffer(t.buffer, t.offset + at, bytes.buffer, bytes.byteOffset + at, Math.ceil(n / 4) * 4);
    }
  }

  /** Fills a tensor with one f32/u32 value (used to poison outputs in tests and to zero states). */
  fill(t: GpuTensor, value: number): void {
    const n = numel(t.shape);
    const data = t.dtype === 'f32' || t.dtype === 'f16' ? new Float32Array(n).fill(value)
      : t.dtype === 'u32' ? new Uint32Array(n).fill(value) : new Int32Array(n).fill(value);
    this.upload(t, data);
  }

  /** Reads a tensor back (f16 widened to f32). */
  async read(t: GpuTensor): Promise<Float32Array | Uint32Array | Int32Array> {
    const raw = (await this.readBytes(t)).buffer as ArrayBuffer;
    const n = numel(t.shape);
    if (t.dtype === 'f32') return new Float32Array(raw, 0, n);
    if (t.dtype === 'u32') return new Uint32Array(raw, 0, n);
    if (t.dtype === 'i32') return new Int32Array(raw, 0, n);
    const halves = new Uint16Array(raw, 0, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(halves[i]);
    return out;
  }

  /**
   * Raw bytes [byteOffset, byteOffset + byteLength) of a tensor, word-aligned. The only way data leaves the GPU
   * (read() widens on top of it; sequence snapshots take the bytes as they are).
   */
  async readBytes(t: GpuTensor, byteOffset = 0, byteLength = t.bytes - byteOffset): Promise<Uint8Array> {
    checkWordRange(t, byteOffset, byteLength);
    const staging = this.device.createBuffer({ size: byteLength, usage: MAP_READ | COPY_DST, label: `read ${t.label}` });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(t.buffer, t.offset + byteOffset, staging, 0, byteLength);
    this.queue.submit([encoder.finish()]);
    await staging.mapAsync(0x0001);
    this.handle.throwIfFailed();
    const raw = new Uint8Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return raw;
  }

  /** Writes raw bytes into a tensor at byteOffset, word-aligned (restoring a sequence snapshot). */
  writeBytes(t: GpuTensor, byteOffset: number, bytes: Uint8Array): void {
    checkWordRange(t, byteOffset, bytes.byteLength);
    this.queue.writeBuffer(t.buffer, t.offset + byteOffset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async readF32(t: GpuTensor): Promise<Float32Array> {
    const data = await this.read(t);
    if (!(data instanceof Float32Array)) throw new Error(`${t.label} is ${t.dtype}, not a float tensor`);
    return data;
  }

  /** Builds (and caches) everything one dispatch needs; the result can be replayed any number of times. */
  dispatch(request: DispatchRequest): DispatchSpec {
    const { pipeline, key } = this.pipelines.get(request.kernel, request.defines ?? {});
    const entries: GPUBindGroupEntry[] = [];
    const idParts: string[] = [key];
    let binding = 0;
    if (request.params) {
      const buffer = this.uniform(request.params);
      entries.push({ binding: binding++, resource: { buffer } });
      idParts.push(`u${this.bufferId(buffer)}`);
    }
    for (const t of request.bindings) {
      entries.push({ binding: binding++, resource: { buffer: t.buffer, offset: t.offset, size: t.bytes } });
      idParts.push(`${this.bufferId(t.buffer)}:${t.offset}:${t.bytes}`);
    }
    const bindKey = idParts.join('|');
    let bindGroup = this.bindGroups.get(bindKey);
    if (!bindGroup) {
      bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: request.kernel.name });
      this.bindGroups.set(bindKey, bindGroup);
    }
    const [x, y = 1, z = 1] = request.workgroups;
    const max = this.caps.maxWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new Error(`${request.kernel.name}: grid ${x}x${y}x${z} over ${max} per dimension; fold it with grid2d`);
    const label = request.pass ? `${request.kernel.name}:${request.pass}` : request.kernel.name;
    return { label, pipeline, bindGroup, workgroups: [x, y, z] };
  }

  /** Folds a 1-D count of workgroups into x*y under the per-dimension limit (kernels rebuild the index). */
  grid2d(groups: number): [number, number] {
    const max = this.caps.maxWorkgroupsPerDimension;
    if (groups <= max) return [Math.max(groups, 1), 1];
    const y = Math.ceil(groups / max);
    return [Math.ceil(groups / y), y];
  }

  /**
   * Builds pipelines under a validation error scope, so a shader Dawn rejects gives a one-line reason (for a
   * probe to fall back on) instead of an uncaptured error at the next sync; undefined when all compiled.
   */
  async shaderRejection(build: () => void): Promise<string | undefined> {
    this.device.pushErrorScope('validation');
    build();
    const error = await this.device.popErrorScope();
    return error ? `shader rejected: ${error.message.split('\n')[0].slice(0, 200)}` : undefined;
  }

  /** Encodes the specs into one compute pass and submits; WebGPU orders dependent dispatches itself. */
  run(specs: readonly DispatchSpec[]): void {
    if (specs.length === 0) return;
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    encodeDispatches(pass, specs);
    pass.end();
    this.queue.submit([encoder.finish()]);
  }

  /** Waits for submitted work and raises any device error seen meanwhile. */
  async sync(): Promise<void> {
    await this.queue.onSubmittedWorkDone();
    this.handle.throwIfFailed();
  }

  /** Zeroes a tensor on the GPU (no host-side array: caches of a million rows are gigabytes). */
  clear(t: GpuTensor): void {
    const encoder = this.device.createCommandEncoder();
    encoder.clearBuffer(t.buffer, t.offset, Math.ceil(t.bytes / 4) * 4);
    this.queue.submit([encoder.finish()]);
  }

  /** Copies whole-tensor bytes on the GPU (same byte size required). */
  copy(src: GpuTensor, dst: GpuTensor, bytes = src.bytes, srcOffset = 0, dstOffset = 0): void {
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(src.buffer, src.offset + srcOffset, dst.buffer, dst.offset + dstOffset, bytes);
    this.queue.submit([encoder.finish()]);
  }

  async destroy(): Promise<void> {
    await this.handle.destroy();
    this.bindGroups.clear();
    this.uniforms.clear();
  }

  private uniform(words: readonly ParamWord[]): GPUBuffer {
    const data = new Uint32Array(Math.max(4, Math.ceil(words.length / 4) * 4));
    const asF32 = new Float32Array(data.buffer);
    words.forEach((w, i) => {
      if (typeof w === 'number') {
        if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new Error(`uniform word ${i} = ${w} is not a u32 (wrap floats in f32())`);
        data[i] = w;
      } else asF32[i] = w.f32;
    });
    const key = Array.from(data).join(',');
    let buffer = this.uniforms.get(key);
    // Per-step values (cache lengths) make new uniforms every step: drop the caches now and then so a
    // long-running server does not grow without bound (the GC frees buffers no longer referenced).
    if (!buffer && this.uniforms.size >= 20000) {
      this.uniforms.clear();
      this.bindGroups.clear();
    }
    if (!buffer) {
      buffer = this.device.createBuffer({ size: data.byteLength, usage: UNIFORM | COPY_DST, label: 'params' });
      this.queue.writeBuffer(buffer, 0, data);
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }
}

function sliceOf(data: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  if (ArrayBuffer.isView(data)) return (data as unknown as Float32Array).subarray(start, end);
  return Array.prototype.slice.call(data, start, end) as number[];
}

function checkWordRange(t: GpuTensor, byteOffset: number, byteLength: number): void {
  if (byteOffset % 4 !== 0 || byteLength % 4 !== 0 || byteOffset < 0 || byteOffset + byteLength > t.bytes) {
    throw new Error(`${t.label}: byte range ${byteOffset}+${byteLength} is not whole words inside its ${t.bytes} bytes`);
  }
}
