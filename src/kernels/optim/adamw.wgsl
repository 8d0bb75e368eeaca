// One AdamW step (torch.optim.AdamW, amsgrad and maximize off) over flat f32 buffers, one element
// per invocation. The operations and their order are torch's float32 tensor ops: decay the
// parameter, update the moments, then p += -step_size * m / (sqrt(v) / sqrt(bc2) + eps). The step's
// scalars come from the host in the uniform block (see optim/hyper.ts), already in float64-exact form.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: AdamWParams;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(4) var<storage, read_write> expAvgSq: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  // gradScale undoes a loss scale or applies a clipping coefficient; it is 1 otherwise.
  let g = grad[i] * params.gradScale;
  let p = param[i] * params.decay;
  let m = expAvg[i] * params.beta1 + g * params.oneMinusBeta1;
  let v = expAvgSq[i] * params.beta2 + params.oneMinusBeta2 * g * g;
  let denom = sqrt(v) / params.bc2Sqrt + params.eps;
  expAvg[i] = m;
  expAvgSq[i] = v;
  param[i] = p + params.negStepSize * m / denom;
}
