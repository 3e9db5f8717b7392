// Every suite `webgpu-ebm bench` knows, in the order they run by default.
import { conv2dBackwardSuite } from './conv2d-backward.js';
import { conv2dGemmSuite } from './conv2d-gemm.js';
import { conv2dSuite } from './conv2d.js';
import { imageLangevinSuite } from './image-langevin.js';
import { imageTrainSuite } from './image-train.js';
import { langevinSuite } from './langevin.js';
import { linearSuite } from './linear.js';
import { matmulF16Suite } from './matmul-f16.js';
import { matmulLargeSuite } from './matmul-large.js';
import { matmulSuite } from './matmul.js';
import { mlpSuite } from './mlp.js';
import { mlpStepSuite } from './mlp-step.js';
import { samplersSuite } from './samplers.js';
import { spectralNormSuite } from './spectral-norm.js';
import { trainStepSuite } from './train-step.js';
import type { Suite } from './suite.js';

export const SUITES: readonly Suite[] = [
  matmulSuite(),
  matmulF16Suite(),
  matmulLargeSuite(),
  linearSuite(),
  conv2dSuite(),
  conv2dBackwardSuite(),
  conv2dGemmSuite(),
  spectralNormSuite(),
  mlpSuite(),
  mlpStepSuite(),
  langevinSuite(),
  imageLangevinSuite(),
  samplersSuite(),
  trainStepSuite(),
  imageTrainSuite(),
];
