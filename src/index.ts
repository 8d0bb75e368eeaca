// rcae-webgpu public API in Node: the platform-neutral core plus Dawn adapters, files and sharp.
import './node/node-platform.js';

export * from './core.js';
export { listAdapters } from './node/dawn.js';
export { loadImageSample, loadImageTensor, type ImageSample } from './image/preprocess.js';
export { readNpy } from './io/npy.js';
export { writeNpy } from './node/npy-file.js';
export { readThresholds, writeThresholds } from './detect/thresholds-file.js';
export { fitAtypical } from './detect/atypical-fit.js';
