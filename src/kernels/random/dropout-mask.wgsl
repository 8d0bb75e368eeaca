// Dropout2d channel masks: mask[s, c] = 0 or 1 / (1 - p), one invocation per (sample, channel),
// drawn from Philox4x32-10 as dropout-spec.ts states. A layer multiplies its activations by the
// mask of their (sample, channel) in the forward pass and its gradients by the same mask backward.

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: DropoutParams;
@group(0) @binding(1) var<storage, read_write> mask: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.samples * params.channels) {
    return;
  }
  let sample = i / params.channels;
  let channel = i % params.channels;
  let word = philox4x32(vec4u(channel, sample, params.step, params.stream), vec2u(params.seedLo, params.seedHi)).x;
  mask[i] = select(params.scale, 0.0, (word >> 8u) < params.threshold);
}
