/** The WGSL snippet that ends each per-sample statistics kernel (mse, hf, ssim): the tree and the mean. */
export const sampleMeanInclude = 'kernels/sample-mean.wgsl';
