// WGSL loading (with #include of shared parts), a tiny preprocessor (#if/#ifdef/#ifndef/#elif/#else/#endif,
// #unroll/#endunroll and {{NAME}} substitution) and the pipeline cache keyed by kernel name + sorted defines, so each variant compiles
// once per device.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type DefineValue = string | number | boolean;
export type Defines = Readonly<Record<string, DefineValue>>;

/** A kernel's identity: its name (family/kernel) and the .wgsl file beside its wrapper. */
export interface KernelSource {
  readonly name: string;
  readonly url: URL;
}

const sourceCache = new Map<string, string>();

/**
 * A kernel's text with `#include "file.part.wgsl"` lines replaced by that file (beside the kernel), so two
 * kernels can share a block without a copy; parts may include parts, and may use #if and {{NAME}} too.
 */
export function loadSource(kernel: KernelSource): string {
  return loadText(kernel.url, []);
}

function loadText(url: URL, including: string[]): string {
  const key = url.href;
  let text = sourceCache.get(key);
  if (text === undefined) {
    if (including.includes(key)) throw new Error(`WGSL #include cycle: ${[...including, key].map((k) => k.split('/').pop()).join(' → ')}`);
    text = readFileSync(fileURLToPath(url), 'utf8').split('\n').map((line) => {
      const include = /^\s*#include\s+"([^"]+)"\s*$/.exec(line);
      return include ? loadText(new URL(include[1], url), [...including, key]) : line;
    }).join('\n');
    sourceCache.set(key, text);
  }
  return text;
}

function isTruthy(value: DefineValue | undefined): boolean {
  return value !== undefined && value !== false && value !== 0 && value !== '0' && value !== '';
}

/**
 * Expands `#unroll VAR COUNT` … `#endunroll` blocks: the body is repeated for VAR = 0 … COUNT−1 with `{{VAR}}`
 * replaced, COUNT an integer or a define. The NVIDIA compiler keeps subgroup-matrix accumulators in registers
 * only when every index is a constant: loops over accumulator arrays ran 1.6× slower than the same code
 * written out (tools/device/probe-gemm-ablation.mjs, 2026-11-24).
 */
function expandUnrolls(lines: string[], defines: Defines, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const head = /^\s*#unroll\s+(\w+)\s+(\w+)\s*$/.exec(lines[i]);
    if (!head) {
      if (/^\s*#endunroll\b/.test(lines[i])) throw new Error(`${name}.wgsl: #endunroll without #unroll`);
      out.push(lines[i]);
      continue;
    }
    let depth = 1, end = i + 1;
    for (; end < lines.length; end++) {
      if (/^\s*#unroll\b/.test(lines[end])) depth++;
      else if (/^\s*#endunroll\b/.test(lines[end]) && --depth === 0) break;
    }
    if (depth) throw new Error(`${name}.wgsl: #unroll ${head[1]} without #endunroll`);
    const [, variable, countText] = head;
    const count = /^\d+$/.test(countText) ? Number(countText) : Number(defines[countText]);
    if (!Number.isInteger(count) || count < 0) throw new Error(`${name}.wgsl: #unroll ${variable} ${countText}: count is not a whole number`);
    const body = expandUnrolls(lines.slice(i + 1, end), defines, name);
    const placeholder = new RegExp(`\\{\\{${variable}\\}\\}`, 'g');
    for (let v = 0; v < count; v++) out.push(...body.map((line) => line.replace(placeholder, String(v))));
    i = end;
  }
  return out;
}

/** Expands unrolls, conditionals and {{NAME}} placeholders; unknown placeholders and unbalanced blocks are errors. */
export function preprocessWgsl(text: string, defines: Defines, name = 'kernel'): string {
  const out: string[] = [];
  // Each frame: is this block active, and has any branch of it been taken.
  const stack: { active: boolean; taken: boolean }[] = [];
  const active = () => stack.every((f) => f.active);
  expandUnrolls(text.split('\n'), defines, name).forEach((line, index) => {
    const directive = /^\s*#(ifdef|ifndef|if|elif|else|endif)\b\s*(\w*)/.exec(line);
    if (!directive) {
      if (active()) out.push(line);
      return;
    }
    const [, word, arg] = directive;
    if (word === 'if' || word === 'ifdef' || word === 'ifndef') {
      const cond = word === 'if' ? isTruthy(defines[arg]) : word === 'ifdef' ? arg in defines : !(arg in defines);
      stack.push({ active: cond, taken: cond });
    } else if (word === 'elif' || word === 'else') {
      // The first branch whose condition holds is taken; #else is a branch whose condition always holds.
      const frame = stack[stack.length - 1];
      if (!frame) throw new Error(`${name}.wgsl:${index + 1}: #${word} without #if`);
      frame.active = !frame.taken && (word === 'else' || isTruthy(defines[arg]));
      frame.taken ||= frame.active;
    } else {
      if (!stack.pop()) throw new Error(`${name}.wgsl:${index + 1}: #endif without #if`);
    }
  });
  if (stack.length) throw new Error(`${name}.wgsl: ${stack.length} unterminated #if block(s)`);
  return out.join('\n').replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in defines)) throw new Error(`${name}.wgsl: placeholder {{${key}}} has no define`);
    return String(defines[key]);
  });
}

export function pipelineKey(name: string, defines: Defines): string {
  return `${name}|${Object.keys(defines).sort().map((k) => `${k}=${defines[k]}`).join(',')}`;
}

/** Compiled pipelines per device; 'auto' layouts, so each pipeline gets bind groups from its own layout. */
export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice, private readonly globalDefines: Defines) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(kernel: KernelSource, defines: Defines): { pipeline: GPUComputePipeline; key: string } {
    const all = { ...this.globalDefines, ...defines };
    const key = pipelineKey(kernel.name, all);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const code = preprocessWgsl(loadSource(kernel), all, kernel.name);
      const module = this.device.createShaderModule({ code, label: key });
      pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.pipelines.set(key, pipeline);
    }
    return { pipeline, key };
  }
}
