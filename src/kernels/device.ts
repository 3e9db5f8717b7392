// Finds a WebGPU adapter and device: navigator.gpu in a browser, Dawn (the `webgpu` package)
// in Node. Dawn is imported through a computed specifier so bundlers never pull it into a
// browser build.

/** Optional features webgpu-ebm asks for whenever the adapter offers them. */
export const WANTED_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'] as const;
export type WantedFeature = (typeof WANTED_FEATURES)[number];

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  description: string;
  /** Which of the wanted optional features the device was created with. */
  features: Set<WantedFeature>;
  /** True when the adapter is a CPU implementation (lavapipe, SwiftShader). */
  isSoftware: boolean;
  /** The adapter's subgroup sizes (0 when it does not say). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface AcquiredDevice {
  device: GPUDevice;
  /** The GPU instance the device came from (null once destroyed). */
  readonly gpu: GPU | null;
  info: DeviceInfo;
  /** Releases the device and drops the GPU instance (Node will not exit while Dawn's lives). */
  destroy(): void;
}

export interface DeviceOptions {
  /** Use this GPU (e.g. from `navigator.gpu` or Dawn's `create()`) instead of finding one. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Extra Dawn toggles for Node, e.g. ['enable-dawn-features=...']. */
  dawnFlags?: string[];
  /**
   * Which optional features to ask for (default: every one of WANTED_FEATURES the adapter
   * has). `features: []` makes a device like SwiftShader's, without shader-f16.
   */
  features?: readonly WantedFeature[];
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

const NO_ADAPTER_HELP = isNode
  ? 'On Linux without a GPU, install Mesa\'s lavapipe (software Vulkan) from bookworm-backports: ' +
    '`apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1` (bookworm\'s own Mesa 22 ' +
    'is too old for Dawn), and set XDG_RUNTIME_DIR. With an NVIDIA or AMD GPU, install its Vulkan driver.'
  : 'Use a browser with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu).';

async function nodeGPU(flags: string[]): Promise<GPU> {
  if (!process.env.XDG_RUNTIME_DIR) {
    // Mesa prints an error line at start-up without it; any writable folder will do.
    const { mkdtempSync } = await import(/* @vite-ignore */ ['node', 'fs'].join(':'));
    const { tmpdir } = await import(/* @vite-ignore */ ['node', 'os'].join(':'));
    process.env.XDG_RUNTIME_DIR = mkdtempSync(`${tmpdir()}/xdg-`);
  }
  const specifier = 'webgpu';
  let mod: { create: (flags: string[]) => GPU };
  try {
    mod = await import(/* @vite-ignore */ specifier);
  } catch (e) {
    throw new Error(`webgpu-ebm: the 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}. Run \`npm install webgpu\`.`);
  }
  // On Linux with an NVIDIA GPU Dawn hides shader-f16 unless this toggle is given.
  return mod.create(['enable-dawn-features=vulkan_enable_f16_on_nvidia', ...flags]);
}

export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  let gpu = opts.gpu;
  if (!gpu) {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (nav?.gpu) gpu = nav.gpu;
    else if (isNode) gpu = await nodeGPU(opts.dawnFlags ?? []);
  }
  if (!gpu) throw new Error(`webgpu-ebm: WebGPU is not available here (no navigator.gpu). ${NO_ADAPTER_HELP}`);
  const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  if (!adapter) throw new Error(`webgpu-ebm: no WebGPU adapter found. ${NO_ADAPTER_HELP}`);
  const asked = opts.features ?? WANTED_FEATURES;
  const features = new Set<WantedFeature>(asked.filter((f) => adapter.features.has(f)));
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: [...features],
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  });
  const ai = adapter.info;
  const desc = `${ai.vendor} ${ai.architecture} ${ai.device} ${ai.description}`.trim();
  const info: DeviceInfo = {
    vendor: ai.vendor,
    architecture: ai.architecture,
    description: desc,
    features,
    isSoftware: /llvmpipe|lavapipe|swiftshader|software/i.test(desc) || (ai as { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
    subgroupMinSize: (ai as { subgroupMinSize?: number }).subgroupMinSize ?? 0,
    subgroupMaxSize: (ai as { subgroupMaxSize?: number }).subgroupMaxSize ?? 0,
  };
  // Dawn's instance must stay referenced while its device is in use: if it is collected, the
  // process crashes in native code. It is held here and dropped on destroy().
  let instance: GPU | null = gpu;
  return {
    device,
    info,
    destroy: () => {
      device.destroy();
      instance = null;
    },
    get gpu() {
      return instance;
    },
  } as AcquiredDevice;
}
