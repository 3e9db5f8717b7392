// How energies become colours, for the CLI's PNGs (plots.ts) and the browser demo's heat map
// (demo/heatmap.ts) alike: viridis (d3-scale-chromatic) reversed, so low energy is bright and the
// wells a model learned glow, over the energy's rank among the grid's values (histogram
// equalisation, d3-array's bisect and quantiles), so shallow wells on a steep landscape still
// show. Browser-safe: no Node import here, the demo bundles this file.
import { bisectLeft, quantileSorted } from 'd3-array';
import { interpolateViridis } from 'd3-scale-chromatic';

export type RGB = readonly [number, number, number];

/** Drawn where an energy is NaN or infinite. */
const GREY: RGB = [128, 128, 128];

/** d3's viridis is a ramp of 256 colours; read once as bytes, not parsed per pixel. */
const VIRIDIS: readonly RGB[] = Array.from({ length: 256 }, (_, i) => {
  const hex = interpolateViridis(i / 255);
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)] as const;
});

/** viridis(t) for t in [0, 1] (clamped): dark blue (0) to yellow (1); NaN draws grey. */
export function viridis(t: number): RGB {
  if (Number.isNaN(t)) return GREY;
  return VIRIDIS[Math.round(Math.min(1, Math.max(0, t)) * 255)]!;
}

/** Maps an energy to [0, 1] (0 = lowest) and gives the energy at a position of the colour bar. */
export interface EnergyScale {
  t(e: number): number;
  energyAt(t: number): number;
}

/**
 * The scale of a grid's energies: 'rank' (default) places an energy at the fraction of the grid's
 * finite values below it, with the colour bar labelled by the energies at its quantiles;
 * 'linear' maps [min, 90th percentile] linearly.
 */
export function energyScale(values: ArrayLike<number>, kind: 'rank' | 'linear' = 'rank'): EnergyScale {
  const sorted = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { t: () => NaN, energyAt: () => NaN };
  const at = (q: number) => quantileSorted(sorted, Math.min(1, Math.max(0, q)))!;
  if (kind === 'linear') {
    const lo = sorted[0]!;
    const hi = at(0.9) > lo ? at(0.9) : lo + 1;
    return { t: (e) => (e - lo) / (hi - lo), energyAt: (t) => lo + t * (hi - lo) };
  }
  return {
    t: (e) => (!Number.isFinite(e) ? NaN : n > 1 ? Math.min(1, bisectLeft(sorted, e) / (n - 1)) : 0.5),
    energyAt: at,
  };
}

/** The colour of energy `e` on `scale`: low energy bright (viridis reversed). */
export function energyColour(scale: EnergyScale, e: number): RGB {
  return viridis(1 - scale.t(e));
}
