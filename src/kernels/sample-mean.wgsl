// The end of each per-sample statistics kernel (mse, hf, ssim; one workgroup per sample): the WG
// invocations' partial sums meet in a pairwise tree, so no sequential f32 sum grows long, and
// invocation 0 stores the sample's mean. Expects `override WG` (a power of two) and the binding
// `output: array<f32>`; called from uniform control flow, since it holds barriers.

var<workgroup> partial: array<f32, WG>;

fn storeSampleMean(lid: u32, total: f32, live: bool, sample: u32, count: u32) {
  partial[lid] = total;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) {
      partial[lid] += partial[lid + width];
    }
    workgroupBarrier();
  }
  if (live && lid == 0u) {
    output[sample] = partial[0] / f32(count);
  }
}
