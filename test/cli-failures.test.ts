// The CLI's failure paths keep the user's work and say what went wrong in one line: run configs
// and checkpoint metadata are checked against their schema before anything is built, duplicate
// JSON keys are refused, an interrupted save's leftovers go with the next save, a NaN stop saves
// the intact state, NaN samples are an error, run folders are locked, an unwritable --out fails
// at once, and numbers on the command line are decimal. Tiny runs (a 2-8-8-1 MLP, a few steps).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { run, type RunIO } from '../src/cli/main.js';
import { LOCK_FILE } from '../src/cli/run-folder.js';
import { NONFINITE_CHECKPOINT, runTrain } from '../src/cli/train.js';
import { duplicateJsonKey, parseJson } from '../src/nn/json.js';
import * as ebm from '../src/index.js';

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: RunIO = { write: (l) => out.push(l), error: (l) => err.push(l) };
  const code = await run(args, io, undefined, { keepDevice: true });
  return { code, out, err };
}

/** A failing command: its status, and exactly one stderr line matching `re`. */
async function fails(args: string[], code: number, re: RegExp): Promise<string[]> {
  const r = await cli(args);
  expect(r.err).toHaveLength(1);
  expect(r.err[0]).toMatch(re);
  expect(r.code).toBe(code);
  return r.out;
}

const TINY = ['--hidden', '8,8', '--batch-size', '16', '--k-steps', '2', '--sample-steps', '2', '--log-every', '2', '--quiet'];

let root: string;
let runDir: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ebm-cli-failures-'));
  runDir = join(root, 'run');
  const r = await cli(['train', '--steps', '2', '--out', runDir, ...TINY]);
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the run's checkpoint (or model file) with its metadata changed by `edit`. */
async function edited(file: string, name: string, edit: (meta: Record<string, string>) => Record<string, string>, tensors?: (t: Map<string, ebm.Tensor>) => Map<string, ebm.Tensor>): Promise<string> {
  await ebm.init();
  const read = await ebm.readSafetensors(join(runDir, file));
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  const out = tensors ? tensors(read.tensors) : read.tensors;
  await ebm.saveSafetensors(out, path, { metadata: edit(read.metadata) });
  for (const t of read.tensors.values()) t.dispose();
  for (const t of out.values()) if (!t.isDisposed) t.dispose();
  ebm.shutdown();
  return path;
}

/** Edits the run config in a checkpoint's metadata. */
const withRun = (edit: (run: Record<string, unknown>) => void) => (meta: Record<string, string>) => {
  const cfg = JSON.parse(meta['webgpu-ebm.run']!) as Record<string, unknown>;
  edit(cfg);
  return { ...meta, 'webgpu-ebm.run': JSON.stringify(cfg) };
};

describe('checkpoint metadata and run configs are checked before use', () => {
  test('--resume of a checkpoint whose config says kSteps 1e9 names the field and its range', async () => {
    const path = await edited('checkpoint.safetensors', 'ksteps', withRun((c) => ((c.loss as Record<string, unknown>).kSteps = 1e9)));
    await fails(['train', '--resume', path, '--steps', '4'], 1, /checkpoint '.*ksteps.*', run config: 'loss\.kSteps' must be an integer in \[1, 100000\], got 1000000000$/);
  });

  test('--resume of a checkpoint without a sampler names the sampler', async () => {
    const path = await edited('checkpoint.safetensors', 'nosampler', withRun((c) => delete c.sampler));
    await fails(['train', '--resume', path, '--steps', '4'], 1, /run config: 'sampler' must be a sampler config .*got undefined$/);
  });

  test("--resume of a checkpoint with loss {type: 'evil'} lists the valid losses and prints nothing else", async () => {
    const path = await edited('checkpoint.safetensors', 'evil', withRun((c) => (c.loss = { type: 'evil' })));
    const out = await fails(['train', '--resume', path, '--steps', '4'], 1, /run config: 'loss\.type' must be one of cd, pcd, dsm, ssm, nce, eqm, got "evil"$/);
    expect(out.join('\n')).not.toMatch(/SSM|run:/);
  });

  test('model metadata hiddenDims [1e5, 1e5] is refused before the model is built', async () => {
    const huge = await edited('model.safetensors', 'huge', (m) => ({ ...m, 'webgpu-ebm.config': JSON.stringify({ ...JSON.parse(m['webgpu-ebm.config']!), hiddenDims: [1e5, 1e5] }) }));
    await fails(['sample', '--checkpoint', huge, '--n', '4', '--steps', '1', '--out', join(root, 'huge.npy')], 1, /'model\.hiddenDims' must be a list of 1 to 64 integers in \[1, 65536\], got \[100000,100000\]$/);
    // Within the width range but over the device's binding size: named by the layer and the limit.
    const wide = await edited('model.safetensors', 'wide', (m) => ({ ...m, 'webgpu-ebm.config': JSON.stringify({ ...JSON.parse(m['webgpu-ebm.config']!), hiddenDims: [60000, 60000] }) }));
    await fails(['sample', '--checkpoint', wide, '--n', '4', '--steps', '1', '--out', join(root, 'wide.npy')], 1, /the model's layer 1 \(60000x60000\) weight takes 14400000000 bytes, over this device's largest buffer binding \(\d+ bytes\)/);
    expect(existsSync(join(root, 'wide.npy'))).toBe(false);
    // The same check for a command line's --hidden, before the run folder gets any file.
    const dir = join(root, 'wide-run');
    await fails(['train', '--hidden', '60000,60000', '--steps', '1', '--out', dir, '--quiet'], 1, /the model's layer 1 \(60000x60000\) weight takes 14400000000 bytes, over this device's largest buffer binding/);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('duplicate JSON keys are refused: in a metadata value, in config.json, in a safetensors header', async () => {
    expect(duplicateJsonKey('{"a": 1, "b": {"a": 2, "c": [{"a": 3}, {"a": 4}]}}')).toBeNull();
    expect(duplicateJsonKey('{"a": 1, "b": {"c": 2, "c": 3}}')).toBe('c');
    expect(duplicateJsonKey('{"x\\"y": 1, "x\\u0022y": 2}')).toBe('x"y');
    expect(duplicateJsonKey('["a", "a", {"k": "a", "v": "a"}]')).toBeNull();
    expect(() => parseJson('{"lr": 0.001, "lr": 1e6}')).toThrow(/the key "lr" is given twice in one object/);
    // A checkpoint whose run config says lr twice.
    const path = await edited('checkpoint.safetensors', 'dup', (m) => ({ ...m, 'webgpu-ebm.run': m['webgpu-ebm.run']!.replace('"lr":', '"lr":1000000,"lr":') }));
    await fails(['train', '--resume', path, '--steps', '4'], 1, /its metadata 'webgpu-ebm\.run' is not valid JSON: the key "lr" is given twice/);
    // A model file without metadata takes config.json beside it: a duplicate key there is refused too.
    const bare = await edited('model.safetensors', 'dupconfig', () => ({}));
    writeFileSync(join(root, 'dupconfig', 'config.json'), readFileSync(join(runDir, 'config.json'), 'utf8').replace('"model": {', '"model": {"type": "resnet",'));
    await fails(['sample', '--checkpoint', bare, '--n', '4', '--steps', '1', '--out', join(root, 'dup.npy')], 1, /config\.json' is not valid JSON: the key "type" is given twice/);
    // A safetensors header with a tensor named twice.
    const header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const bytes = new Uint8Array(8 + header.length + 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    expect(() => ebm.parseSafetensors(bytes)).toThrow(/the key "w" is given twice/);
  });

  test("the next save removes an interrupted save's *.tmp files, not a live process's", async () => {
    const dir = join(root, 'tmps');
    mkdirSync(dir);
    const path = join(dir, 'checkpoint.safetensors');
    const older = `${path}.k3j4h5g6f7.tmp`; // the format before tmp names carried a pid
    const dead = `${path}.999999999.abc.tmp`; // over pid_max: no such process
    const mine = `${path}.${process.pid}.zzz.tmp`; // this process, no save in flight
    const live = `${path}.${process.ppid}.abc.tmp`; // the parent is alive: its save may be running
    const other = join(dir, 'model.safetensors.999999999.abc.tmp'); // another file's: not this save's business
    for (const f of [older, dead, mine, live, other]) writeFileSync(f, 'partial');
    await ebm.init();
    await ebm.saveSafetensors(new Map([['w', ebm.ones([2])]]), path);
    ebm.shutdown();
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.safetensors', `checkpoint.safetensors.${process.ppid}.abc.tmp`, 'model.safetensors.999999999.abc.tmp'].sort());
  });
});

describe('CLI failure paths keep the work', () => {
  test('numbers are decimal: --lr 0x10, 1e, " 1", 0b1 and --steps 0o7 are errors', async () => {
    for (const v of ['0x10', '0b1', ' 1', '0o7']) await fails(['train', '--lr', v], 2, new RegExp(`--lr must be a positive number, got '${v}' \\(plain decimal only`));
    await fails(['train', '--lr', '1e'], 2, /--lr must be a positive number, got '1e'$/);
    await fails(['train', '--steps', '0o7'], 2, /--steps must be an integer >= 1, got '0o7' \(plain decimal only/);
    await fails(['train', '--hidden', '0x10,8'], 2, /--hidden must be a comma-separated list of at most 64 decimal integers/);
    await fails(['train', '--k-steps', '1e9'], 2, /--k-steps must be an integer <= 100000, got '1e9'$/);
  });

  test('an unwritable --out is an error at once, not a hang', async () => {
    const t0 = performance.now();
    await fails(['train', '--steps', '1', '--out', '/proc/x', ...TINY], 1, /cannot create the run folder '\/proc\/x': ENOENT/);
    await fails(['train', '--steps', '1', '--out', '/proc/x/y/z', ...TINY], 1, /cannot create the run folder '\/proc\/x\/y\/z': ENOENT/);
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    await fails(['train', '--steps', '1', '--out', join(file, 'run'), ...TINY], 1, /cannot create the run folder .*is a file, not a folder/);
    await fails(['sample', '--checkpoint', join(runDir, 'model.safetensors'), '--n', '4', '--steps', '1', '--out', '/proc/x/s.npy'], 1, /cannot create --out folder '\/proc\/x': ENOENT/);
    expect(performance.now() - t0).toBeLessThan(60_000);
  });

  test('a second run into a folder that holds a run refuses; --force says what it replaces', async () => {
    const before = readFileSync(join(runDir, 'config.json'), 'utf8');
    await fails(['train', '--steps', '2', '--out', runDir, ...TINY], 2, /the run folder '.*run' already holds a run \(config\.json, checkpoint\.safetensors, metrics\.jsonl, model\.safetensors\); continue it with --resume .*run, choose another --out, or replace it with --force$/);
    expect(readFileSync(join(runDir, 'config.json'), 'utf8')).toBe(before);
    // A folder holding a whole run: a copy of the shared one (a run of its own would cost a
    // device and a pipeline compile for the same files).
    const dir = join(root, 'forced');
    cpSync(runDir, dir, { recursive: true });
    const r = await cli(['train', '--steps', '2', '--seed', '5', '--out', dir, '--force', ...TINY]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`--force: replacing the run in ${dir}/ (config.json, checkpoint.safetensors, metrics.jsonl, model.safetensors)`);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).seed).toBe(5);
    // Metrics of one run only: steps 2 and the final line.
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  }, 120_000);

  test('a run folder is locked while a run uses it; a dead run’s lock is taken over and released', async () => {
    const dir = join(root, 'locked');
    mkdirSync(dir);
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`); // a live process
    await fails(['train', '--steps', '2', '--out', dir, ...TINY], 1, new RegExp(`the run folder '.*locked' is in use by another run \\(process ${process.ppid}, lock file`));
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.ppid}\n`);
    writeFileSync(join(dir, LOCK_FILE), '999999999\n'); // a dead one
    let seen = '';
    const out: string[] = [];
    const code = await run(['train', '--steps', '2', '--out', dir, ...TINY], {
      write: (l) => {
        out.push(l);
        if (l.startsWith('writing to')) seen = readFileSync(join(dir, LOCK_FILE), 'utf8');
      },
      error: (l) => out.push(l),
    });
    expect(out.filter((l) => l.includes('webgpu-ebm'))).toEqual([]);
    expect(code).toBe(0);
    expect(seen).toBe(`${process.pid}\n`); // held by this run while it ran
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false); // and released at its end
  }, 120_000);

  test('two runs into one --out at once: the second refuses while the first holds the folder', async () => {
    const dir = join(root, 'concurrent');
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = run(['train', '--steps', '4', '--out', dir, ...TINY], { write: (l) => l.startsWith('writing to') && started(), error: () => {} });
    await running;
    // runTrain, not run(): run() releases the process's one device at its end, which in one process
    // would pull it from under the first run (two processes each have their own).
    const second = runTrain({ steps: '4', seed: '3', out: dir, quiet: true }, new Set(['steps', 'seed', 'out', 'quiet']), { write: () => {} });
    await expect(second).rejects.toThrow(new RegExp(`^the run folder '.*concurrent' is in use by another run \\(process ${process.pid}, lock file`));
    expect(await first).toBe(0);
    // The folder holds the first run alone: its config, and its metrics (steps 2, 4 and the final line).
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).seed).toBe(0);
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
  }, 120_000);

  test('a NaN stop saves the intact parameters and optimizer state to a named file that exists', async () => {
    const dir = join(root, 'nan');
    const r = await cli(['train', '--lr', '1e30', '--steps', '6', '--checkpoint-every', '6', '--out', dir, ...TINY]);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    const named = /saved in (\S+)\.( |$)/.exec(r.err[0]!)?.[1];
    expect(r.err[0]).toMatch(/^webgpu-ebm train: training failed at step \d+: .*NaN or inf.*The parameters and optimizer state from before the bad step are saved in /);
    expect(named).toBe(join(dir, NONFINITE_CHECKPOINT));
    expect(existsSync(named!)).toBe(true);
    // No periodic checkpoint was due yet (--checkpoint-every 6), so none is named.
    expect(existsSync(join(dir, 'checkpoint.safetensors'))).toBe(false);
    expect(r.err[0]).not.toMatch(/last periodic checkpoint/);
    await ebm.init();
    const { tensors, metadata } = await ebm.readSafetensors(named!);
    expect(metadata['webgpu-ebm.kind']).toBe('checkpoint');
    const names = [...tensors.keys()];
    expect(names.some((k) => k.startsWith('optimizer.state.'))).toBe(true);
    for (const [k, t] of tensors) if (t.dtype === 'f32') expect((await t.data()).every(Number.isFinite), k).toBe(true);
    for (const t of tensors.values()) t.dispose();
    ebm.shutdown();
  }, 120_000);

  test('sample exits non-zero and writes nothing when the samples are not finite (all-NaN weights)', async () => {
    const path = await edited('model.safetensors', 'nanweights', (m) => m, (t) => new Map([...t].map(([k, v]) => [k, ebm.full(v.shape, NaN)])));
    const out = join(root, 'nan.npy');
    await fails(['sample', '--checkpoint', path, '--n', '8', '--steps', '2', '--out', out], 1, /8 of 8 samples are not finite \(NaN or inf\).*nothing written to '.*nan\.npy'/);
    expect(existsSync(out)).toBe(false);
  });

  test('sample exits non-zero when the samples are finite but their energy is not (an output bias of +inf)', async () => {
    // The bias does not enter the energy's gradient, so the chains stay finite; the energies do not.
    const path = await edited('model.safetensors', 'infbias', (m) => m, (t) => new Map([...t].map(([k, v]) => [k, v.shape.length === 1 && v.shape[0] === 1 ? ebm.full([1], Infinity) : v])));
    const out = join(root, 'inf.npy');
    await fails(['sample', '--checkpoint', path, '--n', '8', '--steps', '2', '--out', out], 1, /the model's mean energy over the 8 samples is Infinity, not finite.*nothing written to '.*inf\.npy'/);
    expect(existsSync(out)).toBe(false);
  });
});
