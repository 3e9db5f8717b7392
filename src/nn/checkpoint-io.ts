// Getting checkpoint bytes in and out: a file path in Node, bytes or a Blob in the browser.
// node:fs is imported through a computed specifier (as src/kernels/device.ts imports Dawn), so
// a browser bundle never pulls it in.

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** What writeFileAtomic needs from a file system; tests substitute one that fails part-way. */
export interface FileIO {
  /** Creates `path` (which must not exist), writes all of `bytes` and flushes them to disk. */
  writeNew(path: string, bytes: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes `path` if it exists. */
  remove(path: string): Promise<void>;
  /** The names of the files in folder `dir` (for finding an interrupted save's leftovers). */
  list?(dir: string): Promise<string[]>;
}

type NodeFs = typeof import('node:fs/promises');

async function nodeFs(who: string): Promise<NodeFs> {
  if (!isNode)
    throw new Error(`${who}: file paths work in Node only; in a browser ${who === 'saveSafetensors' ? 'call it without a path for the bytes (and offer them as a Blob)' : 'pass bytes, an ArrayBuffer or a Blob'}`);
  return import(/* @vite-ignore */ ['node', 'fs/promises'].join(':'));
}

export async function nodeFileIO(): Promise<FileIO> {
  const fs = await nodeFs('saveSafetensors');
  return {
    async writeNew(path, bytes) {
      const handle = await fs.open(path, 'wx');
      try {
        await handle.writeFile(bytes);
        // On disk before the rename makes it visible, or a crash could leave a renamed empty file.
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    rename: (from, to) => fs.rename(from, to),
    remove: (path) => fs.rm(path, { force: true }),
    list: (dir) => fs.readdir(dir),
  };
}

/** The temporary names of this process's saves in progress (never stale, whatever their age). */
const inFlight = new Set<string>();

function split(path: string): { dir: string; base: string } {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return cut < 0 ? { dir: '.', base: path } : { dir: path.slice(0, cut) || '/', base: path.slice(cut + 1) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but is another user's.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what an interrupted save of `path` left behind: its `<name>.<pid>.<random>.tmp` files
 * whose process is gone or, for this process, whose save is not in progress (and the older
 * `<name>.<random>.tmp`, which named no process). A save of another live process is left alone.
 */
async function removeStale(path: string, fio: FileIO): Promise<void> {
  if (!fio.list) return;
  const { dir, base } = split(path);
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(?:(\\d+)\\.)?[a-z0-9]+\\.tmp$`);
  let names: string[];
  try {
    names = await fio.list(dir);
  } catch {
    return; // the write itself will report an unreadable folder
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const full = dir === '.' ? name : `${dir}/${name}`;
    const pid = m[1] === undefined ? null : Number(m[1]);
    const stale = pid === null || (pid === process.pid ? !inFlight.has(full) : !alive(pid));
    if (stale) await fio.remove(full).catch(() => {});
  }
}

/**
 * Writes `bytes` to `path` so that `path` is either untouched or complete: the bytes go to a
 * temporary name in the same folder (a rename is only atomic within one file system), which is
 * then renamed over `path`. On failure the temporary file is removed.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, io?: FileIO): Promise<void> {
  const fio = io ?? (await nodeFileIO());
  // Not ending in .safetensors, so nothing that globs for checkpoints picks up a partial one.
  // The pid says whose save it is, so the next save can tell an interrupted one from a running one.
  const pid = typeof process !== 'undefined' && typeof process.pid === 'number' ? `${process.pid}.` : '';
  const tmp = `${path}.${pid}${Math.random().toString(36).slice(2, 12) || '0'}.tmp`;
  if (pid) await removeStale(path, fio);
  inFlight.add(tmp);
  try {
    await fio.writeNew(tmp, bytes);
    await fio.rename(tmp, path);
  } catch (e) {
    await fio.remove(tmp).catch(() => {});
    throw new Error(`saveSafetensors: could not write '${path}': ${(e as Error).message}`, { cause: e });
  } finally {
    inFlight.delete(tmp);
  }
}

export type SafetensorsSource = string | Uint8Array | ArrayBuffer | Blob;

/** The bytes of a checkpoint: read from a path (Node), or taken from bytes or a Blob. */
export async function readSource(source: SafetensorsSource, who: string): Promise<Uint8Array> {
  if (typeof source === 'string') {
    const fs = await nodeFs(who);
    try {
      const buf = await fs.readFile(source);
      // A plain Uint8Array over the Buffer's bytes: Buffer's slice() shares memory, Uint8Array's copies.
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      throw new Error(`${who}: could not read '${source}': ${(e as Error).message}`, { cause: e });
    }
  }
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  const what = source === null ? 'null' : typeof source === 'object' ? (Object.getPrototypeOf(source)?.constructor?.name ?? 'object') : typeof source;
  throw new Error(`${who}: expected a file path, a Uint8Array, an ArrayBuffer or a Blob, got ${what}`);
}
