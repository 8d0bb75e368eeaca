// BatchNorm2d's output over NHWC x with the saved batch statistics (bn-stats.wgsl), one element
// per invocation: y = (x - mean) * invstd * gamma + beta, in torch's order.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: BatchNormMapParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The batch mean at [0, channels), invstd at [channels, 2 channels).
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  let c = i % params.channels;
  y[i] = (x[i] - saved[c]) * saved[params.channels + c] * gamma[c] + beta[c];
}
