// --devices parsing, GPU list → worker slots, and the per-worker pinning env (pure functions over a given GPU list).
import { describe, expect, it } from 'vitest';
import {
  deviceSelectLayerInstalled, driPrimeTag, normalizePciBusId, parseDevicesSpec, pinningEnv, resolveDeviceSlots, type HostGpu,
} from '../../src/runner/workers/devices.js';
import { summarizeDevices, formatDeviceSummary } from '../../src/runner/workers/device-summary.js';
import type { DeviceStats } from '../../src/runner/workers/pool.js';

// What nvidia-smi reports on an 8× H200 host: identical names, only the PCI address tells them apart.
const host: HostGpu[] = ['18', '2a', '3a', '5d', '9a', 'ab', 'ba', 'db'].map((bus) => ({
  pciBusId: normalizePciBusId(`00000000:${bus.toUpperCase()}:00.0`), name: 'NVIDIA H200',
}));

describe('--devices', () => {
  it('parses all, a count, and a list; rejects the rest in one line', () => {
    expect(parseDevicesSpec('all')).toEqual({ kind: 'all' });
    expect(parseDevicesSpec('3')).toEqual({ kind: 'count', count: 3 });
    expect(parseDevicesSpec('0,2,5')).toEqual({ kind: 'list', indices: [0, 2, 5] });
    expect(parseDevicesSpec('4,')).toEqual({ kind: 'list', indices: [4] });
    expect(() => parseDevicesSpec('0')).toThrow(/for GPU 0 alone write 0,/);
    expect(() => parseDevicesSpec('1,1')).toThrow(/twice/);
    expect(() => parseDevicesSpec('gpu0')).toThrow(/all, a count/);
  });

  it('maps choices to pinned slots on a GPU host and to unpinned workers without one', () => {
    expect(resolveDeviceSlots({ kind: 'all' }, host)).toHaveLength(8);
    expect(resolveDeviceSlots({ kind: 'list', indices: [0, 2, 5] }, host).map((s) => [s.index, s.pciBusId]))
      .toEqual([[0, '0000:18:00.0'], [2, '0000:3a:00.0'], [5, '0000:ab:00.0']]);
    expect(resolveDeviceSlots({ kind: 'count', count: 2 }, host).map((s) => s.pciBusId)).toEqual(['0000:18:00.0', '0000:2a:00.0']);
    expect(() => resolveDeviceSlots({ kind: 'count', count: 9 }, host)).toThrow(/has 8 GPU/);
    expect(() => resolveDeviceSlots({ kind: 'list', indices: [8] }, host)).toThrow(/no GPU 8/);
    expect(resolveDeviceSlots({ kind: 'count', count: 3 }, []).map((s) => s.pciBusId)).toEqual([null, null, null]);
    expect(() => resolveDeviceSlots({ kind: 'all' }, [])).toThrow(/no GPU found/);
    // "99" on a CPU host forked 99 engines on lavapipe and the run never started: bounded, one line.
    expect(resolveDeviceSlots({ kind: 'count', count: 8 }, [])).toHaveLength(8);
    expect(() => resolveDeviceSlots({ kind: 'count', count: 99 }, [])).toThrow(/--devices 99: no GPU found on this host.*at most 8/);
  });

  it('pins each worker through the device-select layer by PCI address', () => {
    expect(driPrimeTag('00000000:AB:00.0')).toBe('pci-0000_ab_00_0');
    const [slot] = resolveDeviceSlots({ kind: 'list', indices: [5] }, host);
    expect(pinningEnv(slot)).toEqual({ DRI_PRIME: 'pci-0000_ab_00_0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1', CTXBENCH_WORKER_PCI: '0000:ab:00.0' });
    expect(pinningEnv({ index: 0, pciBusId: null, label: 'default adapter' })).toEqual({});
    // mesa-vulkan-drivers is installed on this machine (lavapipe), and with it the layer; its off switch is honoured.
    expect(deviceSelectLayerInstalled({ ...process.env, NODEVICE_SELECT: undefined })).toBe(true);
    expect(deviceSelectLayerInstalled({ ...process.env, NODEVICE_SELECT: '1' })).toBe(false);
  });

  it('summarises per-device throughput, idle time and the one-device estimate', () => {
    const stat = (device: number, samples: number, busyMs: number, liveMs: number): DeviceStats => ({
      device, pciBusId: null, label: 'x', adapter: 'llvmpipe', samples, errors: 0, crashes: 0, restarts: 0, retired: false,
      liveMs, busyMs, promptTokens: 0, completionTokens: samples * 10,
    });
    const s = summarizeDevices([stat(0, 4, 2000, 2500), stat(1, 2, 1000, 2500)], 2000);
    expect(s.devices.map((d) => [d.samplesPerS, d.idleMs, d.completionTokPerS])).toEqual([[2, 500, 20], [2, 1500, 20]]);
    expect(s.oneDeviceEstimateMs).toBe(3000);
    expect(s.speedupVsOneDevice).toBe(1.5);
    expect(formatDeviceSummary(s)).toMatch(/speedup 1\.50×/);
  });
});
