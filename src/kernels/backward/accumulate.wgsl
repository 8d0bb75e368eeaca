// Gradient accumulation: dst[i] += src[i] over a flat f32 range. Where a value feeds two consumers
// (the residual block's input: its branch and its skip) the gradients of both are summed into one
// buffer, and weight gradients of micro-batches add up the same way.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: AccumulateParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  dst[i] = dst[i] + src[i];
}
