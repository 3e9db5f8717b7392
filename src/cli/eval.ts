// `webgpu-ebm eval --checkpoint <file> [--dataset NAME]`: loads a trained model and prints its
// quality metrics, one human line and one JSON line. What a model is evaluated by depends on its
// kind (EVALUATORS): a 2-D energy gets the held-out log-likelihood of its dataset (log Z by
// annealed importance sampling, with its standard error). Another kind (an image model's sample
// quality, say) adds a row to EVALUATORS and a case to kindOf.
import * as ebm from '../index.js';
import { loadModel, type LoadedModel } from './checkpoint.js';
import { choice, DATASET_EXTENT, EVAL_DEFAULTS, posInt, RANGES } from './config.js';
import { CliError, UsageError } from './errors.js';
import type { Output } from './progress.js';

export interface EvalCliOptions {
  checkpoint?: string;
  dataset?: string;
  n?: string;
  aisChains?: string;
  aisTemperatures?: string;
  seed?: string;
  activation?: string;
}

/** The kinds of model eval knows. */
export type ModelKind = 'energy-2d';

export interface EvalResult {
  kind: ModelKind;
  /** The metrics, by name (also printed as JSON). */
  metrics: Record<string, number | string>;
}

/** Held-out points per evaluation (default), and the seed streams eval derives from --seed. */
const EVAL_POINTS = 1000;
const STREAM = { data: 1, ais: 2 } as const;

/** The held-out log-likelihood's AIS sizes: EVAL_DEFAULTS unless a config or the command line sets them. */
export interface LogLikelihoodSizes {
  /** The plot's half-width for the dataset: the HMC step is a fraction of it. */
  extent: number;
  aisChains?: number;
  aisTemperatures?: number;
  seed: number;
}

/**
 * Mean log p(x) of held-out points (nats per point; p = exp(-E) / Z), log Z by AIS from a
 * Gaussian fitted to them, twice as wide. Seeded: it draws from no other stream (train's final
 * metrics use it after the model is saved, with the run's 'eval' stream).
 */
export function heldOutLogLikelihood(model: ebm.BaseEnergyFunction, data: ebm.Tensor, s: LogLikelihoodSizes): Promise<ebm.LogLikelihoodResult> {
  return ebm.logLikelihood(model, data, {
    nChains: s.aisChains ?? EVAL_DEFAULTS.aisChains,
    nTemperatures: s.aisTemperatures ?? EVAL_DEFAULTS.aisTemperatures,
    stepSize: EVAL_DEFAULTS.aisStepFraction * s.extent,
    nLeapfrogSteps: EVAL_DEFAULTS.nLeapfrogSteps,
    seed: s.seed,
  });
}

/** The model's kind, from its config; a kind eval cannot evaluate is an error naming what it can. */
function kindOf(loaded: LoadedModel): ModelKind {
  const dim = loaded.modelConfig.inputDim;
  if (dim === 2) return 'energy-2d';
  throw new CliError(`eval: no evaluation for a ${loaded.modelConfig.type} of input dimension ${dim} (eval knows 2-D energies: held-out log-likelihood)`);
}

type Evaluator = (loaded: LoadedModel, o: EvalCliOptions, out: Output) => Promise<Record<string, number | string>>;

const EVALUATORS: Record<ModelKind, Evaluator> = {
  'energy-2d': async (loaded, o, out) => {
    const meta = loaded.metadata[ebm.CHECKPOINT_METADATA.dataset];
    const trained = (ebm.DATASETS as readonly string[]).includes(meta ?? '') ? (meta as ebm.DatasetName) : undefined;
    if (o.dataset === undefined && trained === undefined) throw new UsageError(`eval: the checkpoint does not say which dataset it was trained on; give --dataset (${ebm.DATASETS.join(', ')})`);
    const dataset = choice('dataset', o.dataset, ebm.DATASETS, trained!);
    const n = posInt('n', o.n, EVAL_POINTS, 2, RANGES.datasetSize[1]);
    const seed = posInt('seed', o.seed, 0, ...RANGES.seed);
    const sizes: LogLikelihoodSizes = {
      extent: DATASET_EXTENT[dataset],
      aisChains: posInt('ais-chains', o.aisChains, EVAL_DEFAULTS.aisChains, ...RANGES.aisChains),
      aisTemperatures: posInt('ais-temperatures', o.aisTemperatures, EVAL_DEFAULTS.aisTemperatures, ...RANGES.aisTemperatures),
      seed: ebm.deriveSeed(seed, STREAM.ais)!,
    };
    const data = ebm.keep(ebm.makeDataset(dataset, { nSamples: n, seed: ebm.deriveSeed(seed, STREAM.data) }));
    try {
      const r = await heldOutLogLikelihood(loaded.model, data, sizes);
      out.write(
        `${dataset}: held-out log-likelihood ${r.logLikelihood.toFixed(4)} +- ${r.standardError.toFixed(4)} nats per point (${n} points; log Z ${r.logZ.toFixed(4)} by AIS, ` +
          `${sizes.aisChains} chains x ${sizes.aisTemperatures} temperatures, ESS ${r.effectiveSampleSize.toFixed(0)}, HMC acceptance ${(100 * r.acceptanceRate).toFixed(0)}%)`,
      );
      return {
        dataset,
        heldout_log_likelihood: r.logLikelihood,
        heldout_log_likelihood_se: r.standardError,
        log_z: r.logZ,
        energy_data: r.meanEnergy,
        ais_ess: r.effectiveSampleSize,
        ais_acceptance: r.acceptanceRate,
      };
    } finally {
      data.dispose();
    }
  },
};

export async function runEval(o: EvalCliOptions, out: Output, deviceOptions?: ebm.DeviceOptions): Promise<EvalResult> {
  if (!o.checkpoint) throw new UsageError('eval needs --checkpoint PATH (a model.safetensors or checkpoint.safetensors)');
  await ebm.init(deviceOptions);
  const loaded = await loadModel(o.checkpoint, { activation: o.activation });
  const kind = kindOf(loaded);
  out.write(`model: ${loaded.model.constructor.name} (config from ${loaded.configSource}), evaluated as ${kind}`);
  const metrics = await EVALUATORS[kind](loaded, o, out);
  out.write(`metrics: ${JSON.stringify(metrics)}`);
  return { kind, metrics };
}
