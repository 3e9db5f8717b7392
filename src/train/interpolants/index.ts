// The interpolants: TorchEBM's paths between noise (t = 0) and data (t = 1).
export { BaseInterpolant, expandTLikeX, type Interpolated, type TimeLike } from './base.js';
export { LinearInterpolant } from './linear.js';
export { CosineInterpolant } from './cosine.js';
export { VariancePreservingInterpolant, type VariancePreservingOptions } from './variance-preserving.js';
