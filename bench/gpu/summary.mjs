// Turns bench/gpu/run.sh's JSON lines into a Markdown table: every case's time, GFLOP/s and
// dispatches, the peers' times and ours' speed-up over each, and for matmul-large the fraction
// of the card's peak (f32 against the FP32 peak, f16 against the FP16 one).
//   node bench/gpu/summary.mjs bench.jsonl PEAK_F32_TFLOPS PEAK_F16_TFLOPS
import { readFileSync } from 'node:fs';

const [file, f32Arg, f16Arg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/gpu/summary.mjs bench.jsonl [peak f32 TFLOP/s] [peak f16 TFLOP/s]');
  process.exit(2);
}
const peaks = { f32: Number(f32Arg ?? 67), f16: Number(f16Arg ?? 134) };
const rows = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l));
const fmt = (x, d = 2) => (x == null ? '-' : Number(x).toFixed(d));
const ratio = (x) => (x == null ? '-' : `${Number(x).toFixed(2)}x`);
const out = [
  `peaks: f32 ${peaks.f32} TFLOP/s, f16 ${peaks.f16} TFLOP/s`,
  '',
  '| suite | case | ms | GFLOP/s | of peak | dispatches | tfjs ms | x tfjs | jax ms | x jax |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  if (r.skipped) {
    out.push(`| ${r.suite} | skipped: ${r.skipped} | | | | | | | | |`);
    continue;
  }
  let ofPeak = '-';
  if (r.suite === 'matmul-large' && r.gflops != null) {
    const peak = r.case.endsWith('f16') ? peaks.f16 : peaks.f32;
    ofPeak = `${((100 * r.gflops) / (peak * 1000)).toFixed(1)}%`;
  }
  out.push(`| ${r.suite} | ${r.case} | ${fmt(r.ms)} | ${fmt(r.gflops, 1)} | ${ofPeak} | ${r.dispatches} | ${fmt(r.tfjs_ms)} | ${ratio(r.tfjs_ratio)} | ${fmt(r.jax_ms)} | ${ratio(r.jax_ratio)} |`);
}
if (rows.length === 0) out.push('(no results: see log.txt)');
console.log(out.join('\n'));
