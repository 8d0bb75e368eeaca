// Applies the ACTIVATION epilogue of kernels/activation.wgsl element by element: output[i] = act(input[i]).
// One element per invocation; tiles past the end of the grid (see kernels/grid.ts) write nothing.

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i < params.count) {
    output[i] = activate(input[i], params.slope);
  }
}
