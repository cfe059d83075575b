import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gpu } from './context.js';
import { GpuContext } from '../../src/engine/gpu/context.js';
import { loadSource, preprocessWgsl } from '../../src/engine/gpu/pipelines.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';

describe('gpu device layer', () => {
  it('reports capabilities from the adapter, not constants', async () => {
    const ctx = await gpu();
    expect(ctx.caps.subgroupSize).toBeGreaterThanOrEqual(4);
    expect(ctx.caps.maxBindingBytes).toBeGreaterThanOrEqual(128 << 20);
    expect(ctx.caps.maxWorkgroupStorageBytes).toBeGreaterThanOrEqual(16 << 10);
    expect(ctx.caps.adapterDescription.length).toBeGreaterThan(0);
  });

  it('splits a tensor over the binding limit into bindable row blocks and counts arena bytes', async () => {
    const ctx = await gpu();
    const before = ctx.arena.liveBytes;
    const rowBytes = 4 * 1024;
    const rows = Math.floor(ctx.caps.maxBindingBytes / rowBytes) + 37; // just over one binding
    const split = ctx.arena.allocRowSplit([rows, 1024], 'f32', 'big');
    expect(split.parts.length).toBe(2);
    for (const part of split.parts) expect(part.bytes).toBeLessThanOrEqual(ctx.caps.maxBindingBytes);
    expect(split.parts.reduce((s, p) => s + p.shape[0], 0)).toBe(rows);
    expect(ctx.arena.liveBytes - before).toBeGreaterThanOrEqual(rows * rowBytes);
    expect(ctx.arena.peakBytes).toBeGreaterThanOrEqual(ctx.arena.liveBytes);
    ctx.arena.free(split);
    expect(ctx.arena.liveBytes).toBe(before);
    expect(() => ctx.arena.alloc([rows, 1024], 'f32', 'too-big')).toThrow(/binding limit/);
  });

  it('round-trips f16 and i32 tensors', async () => {
    const ctx = await gpu();
    const values = [0, 1, -2.5, 65504, 1e-5, 3.140625, -0.333251953125];
    const t = ctx.tensor([values.length], 'f16', 'h', values);
    const back = await ctx.read(t);
    values.forEach((v, i) => expect(back[i]).toBe(f16BitsToF32(f32ToF16Bits(v))));
    expect(back[5]).toBe(3.140625);
    const ti = ctx.tensor([3], 'i32', 'i', [-1, 0, 7]);
    expect(Array.from(await ctx.read(ti))).toEqual([-1, 0, 7]);
  });

  it('preprocesses conditionals and placeholders and rejects unknown ones', () => {
    const src = 'a\n#if X\nb {{N}}\n#else\nc\n#endif\n#ifdef Y\nd\n#endif\n#ifndef Y\ne\n#endif';
    expect(preprocessWgsl(src, { X: true, N: 3 })).toBe('a\nb 3\ne');
    expect(preprocessWgsl(src, { X: 0, N: 3, Y: 1 })).toBe('a\nc\nd');
    const chain = '#if A\na\n#elif B\nb\n#elif C\nc\n#else\nd\n#endif';
    expect(preprocessWgsl(chain, { A: 1, B: 1 })).toBe('a');
    expect(preprocessWgsl(chain, { B: 1, C: 1 })).toBe('b');
    expect(preprocessWgsl(chain, { C: 1 })).toBe('c');
    expect(preprocessWgsl(chain, {})).toBe('d');
    expect(() => preprocessWgsl('#elif A\n', {})).toThrow(/#elif without #if/);
    expect(() => preprocessWgsl('{{Q}}', {})).toThrow(/\{\{Q\}\} has no define/);
    expect(() => preprocessWgsl('#if A\n', {})).toThrow(/unterminated/);
  });

  it('unrolls nested #unroll blocks with define or literal counts, inside conditionals too', () => {
    const src = 'x\n#unroll i M\n#unroll j 2\nc{{i}}{{j}} {{N}}\n#endunroll\n#endunroll\n#if Z\n#unroll k 2\nz{{k}}\n#endunroll\n#endif\ny';
    expect(preprocessWgsl(src, { M: 3, N: 7, Z: 1 })).toBe('x\nc00 7\nc01 7\nc10 7\nc11 7\nc20 7\nc21 7\nz0\nz1\ny');
    expect(preprocessWgsl(src, { M: 1, N: 7, Z: 0 })).toBe('x\nc00 7\nc01 7\ny');
    expect(preprocessWgsl('#unroll i 0\nz\n#endunroll', {})).toBe('');
    expect(() => preprocessWgsl('#unroll i M\nz', { M: 2 })).toThrow(/#unroll i without #endunroll/);
    expect(() => preprocessWgsl('#endunroll', {})).toThrow(/#endunroll without #unroll/);
    expect(() => preprocessWgsl('#unroll i Q\nz\n#endunroll', {})).toThrow(/count is not a whole number/);
  });

  it('splices #include parts (nested, relative to the including file) and names an include cycle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgsl-'));
    writeFileSync(join(dir, 'k.wgsl'), 'a\n  #include "sub/p.part.wgsl"\nz');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'p.part.wgsl'), 'b\n#include "q.part.wgsl"');
    writeFileSync(join(dir, 'sub', 'q.part.wgsl'), '#if X\nc {{N}}\n#endif');
    const text = loadSource({ name: 'k', url: pathToFileURL(join(dir, 'k.wgsl')) });
    expect(preprocessWgsl(text, { X: 1, N: 2 })).toBe('a\nb\nc 2\nz');
    writeFileSync(join(dir, 'c1.wgsl'), '#include "c2.part.wgsl"');
    writeFileSync(join(dir, 'c2.part.wgsl'), '#include "c1.wgsl"');
    expect(() => loadSource({ name: 'c1', url: pathToFileURL(join(dir, 'c1.wgsl')) })).toThrow(/#include cycle: c1.wgsl → c2.part.wgsl → c1.wgsl/);
  });

  it('raises a shader compile error as a one-line GpuError at the next sync', async () => {
    const ctx = await GpuContext.create(); // its own device: the failure is sticky by design
    ctx.device.createShaderModule({ code: 'fn main( {', label: 'broken-kernel' });
    await expect(ctx.sync()).rejects.toThrow(/^WebGPU error: .*broken-kernel/);
    await expect(ctx.sync()).rejects.toMatchObject({ name: 'GpuError' });
    await ctx.destroy();
  });

  it('captures a rejected shader as a one-line reason under shaderRejection, and the device stays usable', async () => {
    const ctx = await gpu();
    const dir = mkdtempSync(join(tmpdir(), 'ctxbench-rejection-'));
    writeFileSync(join(dir, 'ok.wgsl'), '@compute @workgroup_size(1) fn main() {}\n');
    writeFileSync(join(dir, 'broken.wgsl'), '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }\n');
    const source = (name: string) => ({ name: `test/${name}`, url: pathToFileURL(join(dir, `${name}.wgsl`)) });
    expect(await ctx.shaderRejection(() => ctx.pipelines.get(source('ok'), {}))).toBeUndefined();
    const why = await ctx.shaderRejection(() => ctx.pipelines.get(source('broken'), {}));
    expect(why).toMatch(/^shader rejected: \S/);
    expect(why).not.toContain('\n');
    expect(why!.length).toBeLessThanOrEqual('shader rejected: '.length + 200);
    await expect(ctx.sync()).resolves.toBeUndefined();
  });
});
