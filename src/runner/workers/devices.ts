// Which GPUs a data-parallel run uses and how each worker is pinned to one of them.
//
// WebGPU hands out one adapter per request and identical GPUs share a name, so pinning happens below Dawn, in
// the Vulkan loader's layer chain: Mesa's device-select layer (VK_LAYER_MESA_device_select, an implicit layer
// shipped in mesa-vulkan-drivers; it wraps every driver, NVIDIA's included) picks the default device from
// DRI_PRIME=pci-DDDD_BB_DD_F (matched through VK_EXT_pci_bus_info) and, with
// MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1, enumerates only that one. Each worker process gets its own env,
// so each Dawn instance sees exactly one physical GPU. (Bookworm's loader 1.3.239 has VK_LOADER_DEVICE_SELECT,
// but it matches vendor:device ids, which identical GPUs share, and only reorders; it cannot tell 8 H200s apart.)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export class DeviceSpecError extends Error {
  override name = 'DeviceSpecError';
}

/** One worker's place: a physical GPU (pinned) or, with no PCI GPU here, the default adapter (lavapipe). */
export interface DeviceSlot {
  /** Position in the host's GPU list (nvidia-smi index order), or the worker number when unpinned. */
  index: number;
  /** PCI address `0000:18:00.0`; null = unpinned (the default adapter, shared). */
  pciBusId: string | null;
  /** What the host tools call it (nvidia-smi name), for the summary. */
  label: string;
}

export interface HostGpu {
  pciBusId: string;
  name: string;
}

/** `all`, a count `N`, or a list of GPU indices `0,2,5`. */
export type DevicesSpec = { kind: 'all' } | { kind: 'count'; count: number } | { kind: 'list'; indices: number[] };

export function parseDevicesSpec(value: string): DevicesSpec {
  const v = value.trim();
  if (v === 'all') return { kind: 'all' };
  if (/^\d+$/.test(v)) {
    const count = Number(v);
    if (count < 1) throw new DeviceSpecError(`--devices ${value}: a count must be ≥ 1 (for GPU 0 alone write 0,)`);
    return { kind: 'count', count };
  }
  if (/^\d+(,\d+)+$/.test(v) || /^\d+,$/.test(v)) {
    const indices = v.split(',').filter(Boolean).map(Number);
    if (new Set(indices).size !== indices.length) throw new DeviceSpecError(`--devices lists a GPU twice ("${value}")`);
    return { kind: 'list', indices };
  }
  throw new DeviceSpecError(`--devices must be all, a count ≥ 1 or a list like 0,2,5 (got "${value}")`);
}

/** `00000000:18:00.0` (nvidia-smi) or `0000:18:00.0` (sysfs) → `0000:18:00.0`. */
export function normalizePciBusId(id: string): string {
  const m = /^([0-9a-f]+):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(id.trim());
  if (!m) throw new DeviceSpecError(`unrecognised PCI bus id "${id}"`);
  return `${m[1].slice(-4).padStart(4, '0')}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

/** The device-select layer's tag for one PCI address: `pci-0000_18_00_0`. */
export function driPrimeTag(pciBusId: string): string {
  const [domain, bus, rest] = normalizePciBusId(pciBusId).split(':');
  const [dev, fn] = rest.split('.');
  return `pci-${domain}_${bus}_${dev}_${fn}`;
}

/** GPUs of this host in nvidia-smi index order; else display-class PCI devices from sysfs; else none. */
export function listHostGpus(): HostGpu[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index,pci.bus_id,name', '--format=csv,noheader'],
      { stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 }).toString();
    const gpus = out.split('\n').map((l) => l.split(',').map((s) => s.trim())).filter((f) => f.length >= 3)
      .sort((a, b) => Number(a[0]) - Number(b[0])).map((f) => ({ pciBusId: normalizePciBusId(f[1]), name: f[2] }));
    if (gpus.length) return gpus;
  } catch { /* no NVIDIA tools: fall back to sysfs */ }
  const root = '/sys/bus/pci/devices';
  if (!existsSync(root)) return [];
  // Class 0x0300 VGA / 0x0302 3D controller (datacentre GPUs); skip 0x0380 and on-board BMC VGA of vendor ASPEED/Matrox.
  const skipVendors = new Set(['0x1a03', '0x102b']);
  return readdirSync(root).sort().flatMap((addr) => {
    try {
      const cls = readFileSync(join(root, addr, 'class'), 'utf8').trim();
      const vendor = readFileSync(join(root, addr, 'vendor'), 'utf8').trim();
      if (!/^0x030[02]/.test(cls) || skipVendors.has(vendor)) return [];
      return [{ pciBusId: normalizePciBusId(addr), name: `PCI ${vendor}:${readFileSync(join(root, addr, 'device'), 'utf8').trim()}` }];
    } catch {
      return [];
    }
  });
}

/** Workers allowed on the default adapter of a host without a PCI GPU (they all share it). */
export const MAX_UNPINNED_WORKERS = 8;

/**
 * The slots for a spec. With host GPUs: one pinned slot per chosen GPU. Without (CPU machines, CI): `N` gives N
 * unpinned workers on the default adapter, which tests the pool but not pinning; `all` and lists are errors.
 */
export function resolveDeviceSlots(spec: DevicesSpec, gpus: HostGpu[] = listHostGpus()): DeviceSlot[] {
  if (gpus.length === 0) {
    if (spec.kind !== 'count') {
      throw new DeviceSpecError('--devices: no GPU found on this host (nvidia-smi, /sys/bus/pci); give a count to run that many workers on the default adapter');
    }
    // Every unpinned worker loads its own engine on the same adapter: a count meant as "GPU 99" used to fork 99
    // engines on lavapipe and never start the run. More than a few only multiply memory on one device.
    if (spec.count > MAX_UNPINNED_WORKERS) {
      throw new DeviceSpecError(`--devices ${spec.count}: no GPU found on this host, so all workers would share the default adapter; at most ${MAX_UNPINNED_WORKERS} there`);
    }
    return Array.from({ length: spec.count }, (_, i) => ({ index: i, pciBusId: null, label: 'default adapter' }));
  }
  let indices: number[];
  if (spec.kind === 'all') indices = gpus.map((_, i) => i);
  else if (spec.kind === 'count') {
    if (spec.count > gpus.length) throw new DeviceSpecError(`--devices ${spec.count}: this host has ${gpus.length} GPU(s)`);
    indices = gpus.slice(0, spec.count).map((_, i) => i);
  } else {
    const bad = spec.indices.filter((i) => i >= gpus.length);
    if (bad.length) throw new DeviceSpecError(`--devices: no GPU ${bad.join(', ')} (this host has 0–${gpus.length - 1})`);
    indices = spec.indices;
  }
  return indices.map((i) => ({ index: i, pciBusId: gpus[i].pciBusId, label: gpus[i].name }));
}

/** True when the device-select layer's manifest sits where the Linux loader looks for implicit layers. */
export function deviceSelectLayerInstalled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NODEVICE_SELECT === '1') return false; // the layer's own off switch
  const dataDirs = [env.XDG_DATA_HOME ?? (env.HOME ? join(env.HOME, '.local/share') : ''),
    ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':')].filter(Boolean);
  const dirs = ['/etc/vulkan', ...dataDirs.map((d) => join(d, 'vulkan'))].map((d) => join(d, 'implicit_layer.d'));
  return dirs.some((d) => existsSync(join(d, 'VkLayer_MESA_device_select.json')));
}

/** The env that pins one worker (empty for an unpinned slot). */
export function pinningEnv(slot: DeviceSlot): Record<string, string> {
  if (!slot.pciBusId) return {};
  return { DRI_PRIME: driPrimeTag(slot.pciBusId), MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1', CTXBENCH_WORKER_PCI: slot.pciBusId };
}
