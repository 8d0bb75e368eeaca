// rcae-webgpu public API.
export { loadModel, resolveWeights, Model, ARCHITECTURE_METADATA_KEY, type LoadOptions, type ResolvedWeights } from './model.js';
export { Gpu, GpuError, listAdapters, gpuInfo, type AdapterSummary, type OpenOptions } from './gpu/device.js';
export {
  referenceArchitecture,
  validateArchitecture,
  parameterList,
  parameterCount,
  type Architecture,
  type StageSpec,
  type Activation,
  type ParamSpec,
} from './graph/architecture.js';
export { readCheckpoint } from './weights/checkpoint.js';
export { loadImageTensor } from './image/preprocess.js';
export { readNpy, writeNpy } from './io/npy.js';
export { calibrateThresholds, readThresholds, writeThresholds, pickThreshold, thresholdsDocument } from './detect/thresholds.js';
export { evaluateDetector, type Evaluation } from './detect/evaluate.js';
export { auroc, averagePrecision, eer, tprAtFpr, rocCurve, percentile } from './detect/metrics.js';
