// One Dawn GPU object for the whole bench, so our engine and the peers (tfjs, jax-js) request
// their devices from the same adapter in the same process. It is made once per process and
// kept: jax-js cannot release its device (jax-peer.ts), and Dawn must outlive every device
// drawn from it (a collected GPU object under a live device crashes in native code).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'webgpu';

let shared: GPU | null = null;

/** Dawn's GPU with the same toggles the engine uses when it creates Dawn itself, and full-resolution timestamps. */
export function createDawnGPU(): GPU {
  // Mesa prints an error line at start-up without a runtime dir; any writable folder will do.
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'xdg-'));
  // On Linux with an NVIDIA GPU Dawn hides shader-f16 without this toggle (see device.ts).
  // Dawn rounds timestamps down to 2^16 ns (65.5 us) against timing attacks unless told not
  // to; --profile times single dispatches, many far shorter than that.
  shared ??= create(['enable-dawn-features=vulkan_enable_f16_on_nvidia', 'disable-dawn-features=timestamp_quantization']);
  return shared;
}
