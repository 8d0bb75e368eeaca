// Dropout2d backward over NHWC f32 activations [N, H, W, C]: dx = dy * mask[n, c], with the
// [N, C] mask random/dropout-mask.wgsl drew for the forward pass. Its values are 0 for a dropped
// channel and 1 / (1 - p) for a kept one: the scale is in the mask already, as in torch, whose
// Dropout2d backward multiplies by the same scaled mask. (The forward pass is the same product.)

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: DropoutBackwardParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  // NHWC: the sample is the row of H * W * C, the channel the innermost index.
  let m = (i / params.perSample) * params.channels + i % params.channels;
  dx[i] = dy[i] * mask[m];
}
