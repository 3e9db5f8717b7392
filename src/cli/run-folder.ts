// A run folder's housekeeping: making it (and finding out early that it cannot be written), and
// the lock that keeps two runs from writing one folder's files at once.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError } from './errors.js';

/**
 * Makes folder `dir` and any missing parents, one level at a time: Node's recursive mkdir never
 * returns for a path under /proc (it retries the ENOENT it gets there forever), so `--out /proc/x`
 * hung; one level at a time it is an error naming the folder.
 */
export function makeFolder(dir: string, what: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  try {
    if (existsSync(d) && !statSync(d).isDirectory()) throw new Error(`'${d}' is a file, not a folder`);
    for (const m of missing.reverse()) mkdirSync(m);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CliError(`cannot create ${what} '${dir}': ${err.code ? `${err.code} (${err.message.replace(/^\w+: /, '')})` : err.message}`);
  }
}

/** The lock file's name in a run folder; it holds the pid of the run using the folder. */
export const LOCK_FILE = '.webgpu-ebm.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // it exists, as another user's
  }
}

/**
 * Takes the folder's lock, or says which live process holds it. A lock left by a process that is
 * gone (killed, crashed) is taken over. Creating the lock is also the first write into the
 * folder, so an unwritable folder fails here, before any training. Returns the release function
 * (also run at process exit, so a normal exit never leaves a lock behind).
 */
export function lockFolder(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'EEXIST') throw new CliError(`cannot write into the run folder '${dir}': ${err.code ?? err.message}`);
      let pid = NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // removed in between: try again
      }
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid) && attempt < 3)
        throw new CliError(`the run folder '${dir}' is in use by another run (process ${pid}, lock file ${path}); wait for it to end or choose another --out (if no such run is alive, remove the lock file)`);
      if (attempt >= 3) throw new CliError(`cannot take the lock ${path} of the run folder '${dir}'`);
      rmSync(path, { force: true }); // a dead run's lock
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    try {
      // Only our own lock: never one another run took over after us.
      if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return release;
}
