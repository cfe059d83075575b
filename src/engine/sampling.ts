// Token selection on the GPU: greedy (argmax) at temperature 0, else temperature + top-p with a seeded host
// RNG whose draw is written to a one-float GPU buffer each step (a write, not a readback).
import type { DispatchSpec, GpuContext } from './gpu/context.js';
import type { GpuTensor } from './gpu/arena.js';
import { argmaxScratchWords, makeArgmax } from '../kernels/sampling/argmax.js';
import { makeTopPSample, TOP_P_SCRATCH_WORDS } from '../kernels/sampling/top-p.js';
import { mulberry32 } from '../random/seeded.js';

export interface SamplingOptions {
  temperature: number;
  topP?: number;
  seed?: number;
}

export class GpuSampler {
  private readonly draw?: GpuTensor;
  /** Top-p's candidate pairs. */
  private readonly topPScratch?: GpuTensor;
  private readonly next?: () => number;
  /** Greedy picks' per-block candidates, sized for the largest vocabulary seen. */
  private argmaxScratch?: GpuTensor;

  constructor(private readonly ctx: GpuContext, readonly opts: SamplingOptions) {
    if (!(opts.temperature >= 0)) throw new Error(`temperature must be ≥ 0, got ${opts.temperature}`);
    if (opts.temperature > 0) {
      this.draw = ctx.tensor([1], 'f32', 'sampling.draw');
      this.topPScratch = ctx.tensor([TOP_P_SCRATCH_WORDS], 'u32', 'sampling.top-p-candidates');
      this.next = mulberry32(opts.seed ?? 0);
    }
  }

  /** Dispatches that write the chosen token of logits row `row` into tokens[outIndex]; call before each step. */
  step(logits: GpuTensor, tokens: GpuTensor, row: number, outIndex: number): DispatchSpec[] {
    this.advance();
    return this.spec(logits, tokens, row, outIndex);
  }

  /**
   * For recorded decode lists: the token goes to tokens[seqLen + outIndex]. Call advance() before every
   * replay (a new draw for temperature sampling; nothing for greedy).
   */
  spec(logits: GpuTensor, tokens: GpuTensor, row: number, outIndex: number, seqLen?: GpuTensor): DispatchSpec[] {
    if (!this.draw) {
      const words = argmaxScratchWords(logits.shape[logits.shape.length - 1]);
      if (!this.argmaxScratch || this.argmaxScratch.shape[0] < words) {
        if (this.argmaxScratch) this.ctx.arena.free(this.argmaxScratch);
        this.argmaxScratch = this.ctx.tensor([words], 'u32', 'sampling.argmax-blocks');
      }
      return makeArgmax(this.ctx, logits, tokens, this.argmaxScratch, row, outIndex, seqLen);
    }
    return [makeTopPSample(this.ctx, logits, this.draw, tokens, this.topPScratch!, { temperature: this.opts.temperature, topP: this.opts.topP ?? 1 }, row, outIndex, seqLen)];
  }

  advance(): void {
    if (this.draw && this.next) this.ctx.upload(this.draw, [this.next()]);
  }

  release(): void {
    if (this.draw) this.ctx.arena.free(this.draw);
    if (this.topPScratch) this.ctx.arena.free(this.topPScratch);
    if (this.argmaxScratch) this.ctx.arena.free(this.argmaxScratch);
  }
}
