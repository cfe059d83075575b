// WebGPU device bring-up on dawn.node: toggles, features, adapter-maximum limits, error and loss handling.
import { create, globals } from 'webgpu';

/** Raised for any device-level failure (no adapter, validation error, device lost). */
export class GpuError extends Error {
  override name = 'GpuError';
}

/** Capabilities the kernels derive their tile choices from; never hard-code a device's numbers. */
export interface GpuCaps {
  adapterDescription: string;
  isFallbackAdapter: boolean;
  /** Lanes per subgroup (8 on lavapipe, 32 on NVIDIA); kernels size reductions from it. */
  subgroupSize: number;
  subgroupMinSize: number;
  hasF16: boolean;
  hasSubgroups: boolean;
  hasTimestamps: boolean;
  /** Subgroup-matrix configurations offered (empty on lavapipe). */
  subgroupMatrixConfigs: unknown[];
  maxBindingBytes: number;
  maxBufferBytes: number;
  maxWorkgroupStorageBytes: number;
  maxInvocationsPerWorkgroup: number;
  maxWorkgroupSizeX: number;
  maxWorkgroupsPerDimension: number;
  maxStorageBuffersPerStage: number;
  minStorageOffsetAlignment: number;
  minUniformOffsetAlignment: number;
}

export interface GpuDeviceHandle {
  device: GPUDevice;
  caps: GpuCaps;
  /** Throws the first uncaptured error or loss seen since the last check (called at every sync point). */
  throwIfFailed(): void;
  destroy(): Promise<void>;
}

// Adapter stage needs the NVIDIA f16 toggle before shader-f16 shows up; the rest are speed toggles others ship.
const DEFAULT_TOGGLES = ['vulkan_enable_f16_on_nvidia', 'use_vulkan_memory_model', 'allow_unsafe_apis'];
const DEFAULT_DISABLED_TOGGLES = ['timestamp_quantization'];
const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'];
// Dawn rejects unknown names in requiredLimits, so only these known keys are copied from the adapter.
const LIMITS_TO_RAISE = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize', 'maxBindingsPerBindGroup',
  // Alignment limits are minima: the adapter's (smaller) value is the better one to ask for.
  'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
] as const;

// dawn.node frees its instance when the create() result is collected and then crashes on the next tick:
// the GPU object lives in this module field for the whole process.
let gpuInstance: GPU | undefined;

function instance(): GPU {
  if (!gpuInstance) {
    Object.assign(globalThis, globals);
    const toggles = process.env.DAWN_ENABLE_FEATURES ?? DEFAULT_TOGGLES.join(',');
    const flags = [`enable-dawn-features=${toggles}`];
    // Fine GPU timestamps: Dawn rounds them to 2^16 ns by default, which turns µs kernels into multiples of 65.5 µs.
    flags.push(`disable-dawn-features=${process.env.DAWN_DISABLE_FEATURES ?? DEFAULT_DISABLED_TOGGLES.join(',')}`);
    if (process.env.DAWN_BACKEND) flags.push(`backend=${process.env.DAWN_BACKEND}`);
    if (process.env.DAWN_VALIDATE === '1') flags.push('validate=1');
    gpuInstance = create(flags);
  }
  return gpuInstance;
}

/** Opens the best adapter with every useful feature and the adapter's own maxima as limits. */
export async function openGpuDevice(): Promise<GpuDeviceHandle> {
  const adapter = await instance().requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new GpuError('no WebGPU adapter: install a Vulkan driver (Mesa lavapipe on CPU-only machines, see docs/engine.md)');
  }
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const key of LIMITS_TO_RAISE) {
    if (typeof adapterLimits[key] === 'number') requiredLimits[key] = adapterLimits[key];
  }
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });

  let failure: GpuError | undefined;
  let destroyed = false;
  device.lost.then((info) => {
    if (!destroyed) failure ??= new GpuError(`WebGPU device lost (${info.reason}): ${info.message}`);
  });
  device.addEventListener('uncapturederror', (event) => {
    // Dawn's message spans lines (error, then the object labels it came from): keep one line.
    const message = (event as GPUUncapturedErrorEvent).error.message.split('\n').map((l) => l.trim()).filter(Boolean).join('; ').slice(0, 600);
    failure ??= new GpuError(`WebGPU error: ${message}`);
  });

  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: unknown[];
  };
  const limits = device.limits;
  const caps: GpuCaps = {
    adapterDescription: [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' / '),
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    subgroupSize: info.subgroupMaxSize ?? 32,
    subgroupMinSize: info.subgroupMinSize ?? 4,
    hasF16: features.includes('shader-f16'),
    hasSubgroups: features.includes('subgroups'),
    hasTimestamps: features.includes('timestamp-query'),
    subgroupMatrixConfigs: features.includes('chromium-experimental-subgroup-matrix' as GPUFeatureName)
      ? [...(info.subgroupMatrixConfigs ?? [])] : [],
    maxBindingBytes: limits.maxStorageBufferBindingSize,
    maxBufferBytes: limits.maxBufferSize,
    maxWorkgroupStorageBytes: limits.maxComputeWorkgroupStorageSize,
    maxInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerStage: limits.maxStorageBuffersPerShaderStage,
    minStorageOffsetAlignment: limits.minStorageBufferOffsetAlignment,
    minUniformOffsetAlignment: limits.minUniformBufferOffsetAlignment,
  };
  if (process.env.CTXBENCH_SUBGROUP_SIZE) caps.subgroupSize = Number(process.env.CTXBENCH_SUBGROUP_SIZE);

  return {
    device,
    caps,
    throwIfFailed() {
      if (failure) throw failure;
    },
    async destroy() {
      if (destroyed) return;
      await device.queue.onSubmittedWorkDone();
      destroyed = true;
      device.destroy();
    },
  };
}
