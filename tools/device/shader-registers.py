#!/usr/bin/env python3
"""Registers, spills and instruction mix of the NVIDIA driver's compiled WebGPU shaders.

Dawn's Vulkan pipelines are compiled by the NVIDIA driver, which keeps the machine code in its shader disk cache.
On the GPU machine, run the kernels with that cache pointed at an empty folder and copy its files out flat:

    D=/tmp/nvcache; rm -rf $D; mkdir -p $D
    __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_PATH=$D __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 node …
    cp $D/GLCache/*/*/*.bin $OUT/
    cp "$(python3 -c 'import triton, os; print(os.path.dirname(triton.__file__))')/backends/nvidia/bin/nvdisasm" $OUT/

Then here: `python3 tools/device/shader-registers.py DIR --nvdisasm PATH [--sass OUTDIR]`.
The cache files hold zstd frames (decompressed with the `zstd` tool); a frame that starts with NVDANVVM holds
one pipeline's SASS as raw sm_90 instructions, which nvdisasm reads with `-b SM90` once the start is found.
For each pipeline this prints the registers it uses (highest R index + 1: 65536 / (threads · registers) bounds
the workgroups an SM runs at once), spills (STL / LDL), and the count of the instructions that matter here.
"""
import collections
import os
import re
import subprocess
import sys

ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
NOP = bytes.fromhex('1879000000000000')


def frames(blob):
    """Decompressed zstd frames found anywhere in blob."""
    starts = []
    at = blob.find(ZSTD_MAGIC)
    while at >= 0:
        starts.append(at)
        at = blob.find(ZSTD_MAGIC, at + 1)
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(blob)
        out = subprocess.run(['zstd', '-d', '-c', '-q'], input=blob[start:end], capture_output=True).stdout
        if out:
            yield out


def code_region(payload):
    """The raw instructions of an NVDANVVM payload: from the first run of 20 plausible 16-byte instructions to
    the end of the NOP padding after the last one."""
    last_nop = payload.rfind(NOP)
    if last_nop < 0:
        return None
    end = last_nop + 16
    phase = last_nop % 16
    run = 0
    for at in range(phase, end, 16):
        run = run + 1 if 0x70 <= payload[at + 1] <= 0x7f else 0
        if run == 20:
            return at - 19 * 16, end
    return None


def disassemble(nvdisasm, code, tries=8):
    """SASS text of raw code, stepping the start forward until nvdisasm accepts it."""
    for skip in range(tries):
        path = '/tmp/shader-registers.bin'
        open(path, 'wb').write(code[skip * 16:])
        run = subprocess.run([nvdisasm, '-b', 'SM90', path], capture_output=True, text=True)
        if run.returncode == 0 and 'error' not in run.stderr:
            return run.stdout
    return None


def summary(sass):
    ops = collections.Counter()
    for line in sass.split('\n'):
        m = re.match(r'\s*/\*[0-9a-f]+\*/\s+(@!?U?P\w+\s+)?([A-Z0-9]+)', line)
        if m:
            ops[m.group(2)] += 1
    regs = max((int(r) for r in re.findall(r'\bR(\d+)\b', sass)), default=-1) + 1
    return regs, ops


def main():
    if len(sys.argv) < 2 or '--nvdisasm' not in sys.argv:
        sys.exit(__doc__)
    root = sys.argv[1]
    nvdisasm = sys.argv[sys.argv.index('--nvdisasm') + 1]
    sass_dir = sys.argv[sys.argv.index('--sass') + 1] if '--sass' in sys.argv else None
    count = 0
    for folder, _, files in os.walk(root):
        for file in sorted(files):
            if not file.endswith('.bin'):
                continue
            for payload in frames(open(os.path.join(folder, file), 'rb').read()):
                if not payload.startswith(b'NVDANVVM'):
                    continue
                region = code_region(payload)
                sass = region and disassemble(nvdisasm, payload[region[0]:region[1]])
                if not sass:
                    continue
                count += 1
                regs, ops = summary(sass)
                shown = ' '.join(f'{op} {ops[op]}' for op in ('HMMA', 'LDSM', 'LDS', 'STS', 'BAR', 'LDG', 'STG', 'MUFU', 'IMAD', 'BRA'))
                print(f'shader-registers | {file} #{count} | regs {regs} | STL {ops["STL"]} LDL {ops["LDL"]} | '
                      f'{sum(ops.values())} instructions | {shown}')
                if sass_dir:
                    os.makedirs(sass_dir, exist_ok=True)
                    open(os.path.join(sass_dir, f'pipeline-{count}.sass'), 'w').write(sass)
    print(f'shader-registers | {count} pipelines')


if __name__ == '__main__':
    main()
