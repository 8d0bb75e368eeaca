// The input gradient of BatchNorm2d in training mode, one element per invocation, from the
// parameter gradients (bn-grad-reduce.wgsl): torch's dx = gamma * invstd / M * (M * dy - dbeta -
// xhat * dgamma) over M rows, written as gamma * invstd * (dy - (dbeta + xhat * dgamma) / M).

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: BatchNormMapParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
// The batch mean at [0, channels), invstd at [channels, 2 channels).
@group(0) @binding(3) var<storage, read> saved: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read> dbeta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  let c = i % params.channels;
  let invstd = saved[params.channels + c];
  let xhat = (x[i] - saved[c]) * invstd;
  dx[i] = gamma[c] * invstd * (dy[i] - (dbeta[c] + xhat * dgamma[c]) * params.invRows);
}
