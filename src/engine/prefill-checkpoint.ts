// Prefill checkpoints: a long prompt's sequence state saved to disk every N tokens, so a prefill that is cut off
// (a crash, a kill, a machine with a time limit) resumes from its last checkpoint instead of token 0. A 1M-token
// prefill of the 48B shape takes tens of minutes; losing it to one fault is what this prevents.
// Saved is all the state a prefill carries from piece to piece: each KDA layer's recurrent state and conv caches
// (small, written whole each time) and each MLA layer's latent rows (append-only: a row never changes once written,
// so each checkpoint writes only the rows since the last one). The manifest is written last by an atomic rename and
// names the position; files may hold more than it covers (a save cut off before its manifest) and only what the
// manifest covers is read back.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { GpuContext } from './gpu/context.js';
import type { GpuTensor } from './gpu/arena.js';
import type { SequenceState } from './models/kimi-linear.js';

export interface PrefillCheckpointOptions {
  /** Folder that holds checkpoints; each prompt gets its own subfolder (named by the checkpoint key). */
  dir: string;
  /** Save after the prefill piece that crosses each multiple of this many tokens. */
  everyTokens: number;
  /** Names the weights (model folder, file sizes): a checkpoint made with other weights is never resumed. */
  modelId: string;
  /** Keep the checkpoint after the prefill has finished (default: remove it). */
  keep?: boolean;
  /** Host memory per latent read/write slice (default 64 MiB; tests set a tiny one to cross slices). */
  sliceBytes?: number;
}

/** What a resumed prefill starts from. */
export interface RestoredPrefill {
  /** Tokens already prefilled (0: nothing usable was found). */
  pos: number;
  /** Prefill compute time spent before the resume (from the manifest), ms. */
  priorPrefillMs: number;
  /** Why an existing checkpoint was not used (absent when none existed or it was used). */
  skipped?: string;
}

interface Manifest {
  format: 'ctxbench-prefill-checkpoint';
  version: 1;
  key: string;
  promptTokens: number;
  pos: number;
  prefillMs: number;
  /** The KDA file of this position: every KDA layer's state, convQ, convK, convV in layer order. */
  kdaFile: string | null;
  kdaBytes: number;
  /** Bytes per latent row of each MLA layer (by layer index). */
  latentRowBytes: Record<string, number>;
  savedAt: string;
}

const MANIFEST = 'manifest.json';
/** Host memory per read/write slice of a latent file (a 1M-token layer is ~1.2 GB). */
const SLICE_BYTES = 64 << 20;

/**
 * The checkpoint key: the engine's identity (model, weights dtype, numerics-relevant settings) and every prompt id.
 * A checkpoint is only ever resumed by the same request on the same engine build settings.
 */
export function prefillCheckpointKey(engineIdentity: string, promptIds: readonly number[]): string {
  const hash = createHash('sha256').update(engineIdentity).update('\0');
  hash.update(new Uint8Array(Uint32Array.from(promptIds).buffer));
  return hash.digest('hex').slice(0, 32);
}

/** A model folder's identity for checkpoint keys: its path and each weight file's size and modification time. */
export function modelFolderId(dir: string): string {
  const files = readdirSync(dir).filter((n) => n.endsWith('.safetensors') || n === 'config.json').sort();
  return JSON.stringify([resolve(dir), ...files.map((n) => { const st = statSync(join(dir, n)); return [n, st.size, st.mtimeMs]; })]);
}

const kdaTensors = (seq: SequenceState): GpuTensor[] => seq.kda.flatMap((k) => (k ? [k.state, k.convQ, k.convK, k.convV] : []));

function latentRowBytes(cache: GpuTensor): number {
  return cache.shape[1] * (cache.dtype === 'f16' ? 2 : 4);
}

export class PrefillCheckpoint {
  readonly folder: string;
  /** Position of the last checkpoint written or restored (latent rows below it are on disk). */
  private savedPos = 0;

  constructor(private readonly ctx: GpuContext, private readonly options: PrefillCheckpointOptions,
    private readonly key: string, private readonly promptTokens: number) {
    if (!Number.isInteger(options.everyTokens) || options.everyTokens < 1) {
      throw new Error(`prefill checkpoint: every ${options.everyTokens} tokens must be a whole number ≥ 1`);
    }
    this.folder = join(options.dir, key);
  }

  /** True when the piece ending at `done` crossed a multiple of everyTokens and the prefill is not finished. */
  due(pieceStart: number, done: number): boolean {
    const every = this.options.everyTokens;
    return done < this.promptTokens && Math.floor(done / every) > Math.floor(pieceStart / every);
  }

  /** Loads the last checkpoint of this key into a freshly allocated `seq` (pos 0) and sets seq.pos. */
  async restore(seq: SequenceState): Promise<RestoredPrefill> {
    const path = join(this.folder, MANIFEST);
    if (!existsSync(path)) return { pos: 0, priorPrefillMs: 0 };
    let m: Manifest;
    try {
      m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    } catch (err) {
      return { pos: 0, priorPrefillMs: 0, skipped: `unreadable manifest (${(err as Error).message})` };
    }
    const why = this.mismatch(m, seq);
    if (why) return { pos: 0, priorPrefillMs: 0, skipped: why };
    const kda = kdaTensors(seq);
    if (kda.length) {
      const bytes = readFileSync(join(this.folder, m.kdaFile!));
      let at = 0;
      for (const t of kda) {
        this.ctx.writeBytes(t, 0, bytes.subarray(at, at + t.bytes));
        at += t.bytes;
      }
    }
    for (const [i, layer] of seq.mla.entries()) {
      if (!layer) continue;
      const rowBytes = latentRowBytes(layer.cache);
      const fd = openSync(join(this.folder, `latent-L${i}.bin`), 'r');
      try {
        const total = m.pos * rowBytes;
        const slice = new Uint8Array(Math.min(this.rowsPerSlice(rowBytes) * rowBytes, total));
        for (let at = 0; at < total; at += slice.length) {
          const n = Math.min(slice.length, total - at);
          if (readSync(fd, slice, 0, n, at) !== n) throw new Error(`latent-L${i}.bin ends before row ${m.pos}`);
          this.ctx.writeBytes(layer.cache, at, slice.subarray(0, n));
        }
      } finally {
        closeSync(fd);
      }
    }
    seq.pos = m.pos;
    this.savedPos = m.pos;
    await this.ctx.sync();
    return { pos: m.pos, priorPrefillMs: m.prefillMs };
  }

  /** Saves the state after `seq.pos` prompt tokens (the GPU work before it must be submitted). */
  async save(seq: SequenceState, prefillMs: number): Promise<void> {
    mkdirSync(this.folder, { recursive: true });
    const pos = seq.pos;
    const latentRows: Record<string, number> = {};
    for (const [i, layer] of seq.mla.entries()) {
      if (!layer) continue;
      const rowBytes = latentRowBytes(layer.cache);
      latentRows[i] = rowBytes;
      const file = join(this.folder, `latent-L${i}.bin`);
      // Positioned writes of the new rows only ('r+' keeps the rows already there; 'a' would ignore the position).
      const fd = openSync(file, existsSync(file) ? 'r+' : 'w');
      try {
        const rowsPerSlice = this.rowsPerSlice(rowBytes);
        for (let row = this.savedPos; row < pos; row += rowsPerSlice) {
          const rows = Math.min(rowsPerSlice, pos - row);
          const bytes = await this.ctx.readBytes(layer.cache, row * rowBytes, rows * rowBytes);
          writeSync(fd, bytes, 0, bytes.length, row * rowBytes);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    const kda = kdaTensors(seq);
    let kdaFile: string | null = null, kdaBytes = 0;
    if (kda.length) {
      const parts = await Promise.all(kda.map((t) => this.ctx.readBytes(t)));
      kdaBytes = parts.reduce((a, p) => a + p.length, 0);
      kdaFile = `kda-${pos}.bin`;
      writeDurably(join(this.folder, kdaFile), Buffer.concat(parts));
    }
    const manifest: Manifest = {
      format: 'ctxbench-prefill-checkpoint', version: 1, key: this.key, promptTokens: this.promptTokens, pos,
      prefillMs, kdaFile, kdaBytes, latentRowBytes: latentRows, savedAt: new Date().toISOString(),
    };
    writeDurably(join(this.folder, MANIFEST), Buffer.from(JSON.stringify(manifest, null, 1)));
    // Older KDA files are garbage once the manifest names the new one.
    for (const name of readdirSync(this.folder)) {
      if (/^kda-\d+\.bin$/.test(name) && name !== kdaFile) rmSync(join(this.folder, name), { force: true });
    }
    this.savedPos = pos;
  }

  /** Whole rows per host slice (at least one). */
  private rowsPerSlice(rowBytes: number): number {
    return Math.max(1, Math.floor((this.options.sliceBytes ?? SLICE_BYTES) / rowBytes));
  }

  /** The prefill finished: drop the checkpoint unless asked to keep it. */
  finish(): void {
    if (!this.options.keep) rmSync(this.folder, { recursive: true, force: true });
  }

  private mismatch(m: Manifest, seq: SequenceState): string | undefined {
    if (m.format !== 'ctxbench-prefill-checkpoint' || m.version !== 1) return `not a version-1 prefill checkpoint`;
    if (m.key !== this.key || m.promptTokens !== this.promptTokens) return 'made for another prompt or engine';
    if (!Number.isInteger(m.pos) || m.pos < 1 || m.pos >= this.promptTokens || m.pos > seq.capacity) return `position ${m.pos} outside the prompt`;
    const kdaBytes = kdaTensors(seq).reduce((a, t) => a + t.bytes, 0);
    if (kdaBytes && (!m.kdaFile || !/^kda-\d+\.bin$/.test(m.kdaFile) || m.kdaBytes !== kdaBytes || fileBytes(join(this.folder, m.kdaFile)) !== kdaBytes)) {
      return 'KDA state file missing or of another size';
    }
    for (const [i, layer] of seq.mla.entries()) {
      if (!layer) continue;
      const rowBytes = latentRowBytes(layer.cache);
      if (m.latentRowBytes[i] !== rowBytes) return `layer ${i} latent rows of ${m.latentRowBytes[i]} bytes, expected ${rowBytes}`;
      if (fileBytes(join(this.folder, `latent-L${i}.bin`)) < m.pos * rowBytes) return `layer ${i} latent file shorter than ${m.pos} rows`;
    }
    return undefined;
  }
}

function fileBytes(path: string): number {
  return existsSync(path) ? statSync(path).size : -1;
}

/** Write to a temporary name, flush, rename: readers see the old file or the whole new one. */
function writeDurably(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, bytes);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
