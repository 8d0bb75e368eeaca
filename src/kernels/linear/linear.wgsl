// Fully connected layer: output[b, o] = act(sum_i input[b, i] * W[o, i] + bias[o]).
// Lanes run along the output features and every lane owns TO groups of 4 consecutive features, read
// as vec4 (one 16-byte load per group: on CPU-emulated adapters a per-lane vec4 load costs about
// what a scalar one does, so this quarters the load count; on GPUs the lanes' loads coalesce). A
// batch-1 call streams the weight matrix once. TB samples share each weight load; their inputs
// have the same address in every lane. No workgroup memory.
// Weights are packed [in][out padded to 16] (as a 1x1 convolution's), biases [out padded to 16].
// Feature group g of invocation l is (tile * TO + t) * WG + l for t < TO.

override WG: u32 = 8u;
override TO: u32 = 4u;
override TB: u32 = 1u;

const MAX_TO = 4u;
const MAX_TB = 4u;

@group(0) @binding(0) var<uniform> params: LinearParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.z * params.tilesX + wid.x;
  let firstSample = wid.y * TB;
  let rowGroups = params.outPadded / 4u;
  // Groups past the padded row and samples past the batch read in-bounds stand-ins and are never
  // stored, which keeps the loop free of divergent branches.
  var group: array<u32, MAX_TO>;
  for (var t = 0u; t < TO; t++) {
    group[t] = min((tile * TO + t) * WG + lid, rowGroups - 1u);
  }
  var row: array<u32, MAX_TB>;
  for (var u = 0u; u < TB; u++) {
    row[u] = min(firstSample + u, params.batch - 1u) * params.inFeatures;
  }

  var acc: array<array<vec4f, MAX_TB>, MAX_TO>;
  for (var i = 0u; i < params.inFeatures; i++) {
    var x: array<f32, MAX_TB>;
    for (var u = 0u; u < TB; u++) {
      x[u] = input[row[u] + i];
    }
    let at = i * rowGroups;
    for (var t = 0u; t < TO; t++) {
      let w = weight[at + group[t]];
      for (var u = 0u; u < TB; u++) {
        acc[t][u] = fma(w, vec4f(x[u]), acc[t][u]);
      }
    }
  }

  for (var t = 0u; t < TO; t++) {
    let g = (tile * TO + t) * WG + lid;
    let b = bias[group[t]];
    for (var c = 0u; c < 4u; c++) {
      let o = g * 4u + c;
      for (var u = 0u; u < TB; u++) {
        let sample = firstSample + u;
        if (o < params.outFeatures && sample < params.batch) {
          output[sample * params.outFeatures + o] = activate(acc[t][u][c] + b[c], params.slope);
        }
      }
    }
  }
}
