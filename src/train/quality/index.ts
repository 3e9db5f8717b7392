// Sample quality for image EBMs: the committed digit classifier and the figures it gives.
export * from './digit-classifier.js';
export * from './sample-quality.js';
