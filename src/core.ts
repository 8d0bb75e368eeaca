// The platform-neutral API: everything here uses only WebGPU types, typed arrays and fetch/Blob, so
// it runs unchanged in Node (src/index.ts adds Dawn, files and sharp) and in a browser
// (src/browser/index.ts adds image decoding on a canvas). test/core/imports.test.ts keeps it so.
export {
  loadModel,
  resolveWeights,
  resolveCheckpoint,
  Model,
  ARCHITECTURE_METADATA_KEY,
  type LoadOptions,
  type ModelSource,
  type ResolvedWeights,
} from './model.js';
export { setPlatform, type Platform } from './platform.js';
export { RcaeError, InputError, ERROR_KINDS, kindOf, type ErrorKind, type ErrorDetails } from './errors.js';
export { Gpu, GpuError, gpuInfo, setGpuProvider, type AdapterSummary, type GpuProvider, type OpenOptions } from './gpu/device.js';
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
export { readCheckpoint, parseCheckpoint } from './weights/checkpoint.js';
export { gateCases, runGate, GATE_FRAGMENTS, type GateCase, type GateFailure, type GateOptions, type GateReport } from './graph/compile-gate.js';
export { resizeBilinearPil } from './image/resize.js';
export { rgb8ToTensor, rgbaToRgb8, toNormalizedChw } from './image/normalize.js';
export {
  calibrateThresholds,
  defaultThresholds,
  parseThresholds,
  parseThresholdsBytes,
  pickThreshold,
  thresholdsDocument,
  scoreOfThresholds,
  fitOfThresholds,
  LEVELS,
  type ThresholdsDocument,
} from './detect/thresholds.js';
export { scoreMeasure, parseScore, SCORES, SCORE_DESCRIPTIONS, type ScoreName, type AtypicalFit } from './detect/scores.js';
export { fitGaussian, mahalanobis, mahalanobisRows, type GaussianFit } from './detect/gaussian.js';
export { errorMaps, heatMap, mapAtSize, MAP_FULL_SCALE, MAP_SCORES, type MapScore } from './image/anomaly-maps.js';
export { evaluateDetector, type Evaluation } from './detect/evaluate.js';
export { auroc, averagePrecision, eer, tprAtFpr, rocCurve, percentile } from './detect/metrics.js';
