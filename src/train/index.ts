// The train layer's public surface: one line per module.
export * from './optim/optimizer.js';
export * from './optim/sgd.js';
export * from './optim/adam.js';
export * from './optim/lr-scheduler.js';
export * from './schedulers.js';
export * from './grad-scaler.js';
export * from './samplers/index.js';
export * from './integrators/index.js';
export * from './interpolants/index.js';
export * from './datasets.js';
export * from './data-loader.js';
export * from './losses/index.js';
export * from './trainers/index.js';
