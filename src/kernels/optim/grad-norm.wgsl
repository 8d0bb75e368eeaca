// The sum of squares of a flat f32 buffer and the count of its non-finite values (NaN, +-Inf):
// what gradient clipping (the global norm) and dynamic loss scaling (skip a step that overflowed)
// need. Two passes of this shader: the first (FINAL false) reduces each tile of WG * ITEMS values to
// a partial sum and count; the second (FINAL true, one workgroup) combines the partials. Each
// invocation sums its ITEMS values in chunks of CHUNK (a short sequential sum per chunk, then one
// add per chunk into its total) and the WG totals meet in a pairwise tree, so no sequential f32 sum
// grows long. Tiles are large because each workgroup's barriers dominate on lavapipe (bench/NOTES.md). Non-finite values are told by their exponent bits: WGSL lets a compiler
// assume floats are finite, so `x != x` may fold to false.

override WG: u32 = 256u;
override FINAL: bool = false;
const ITEMS = 128u;
const CHUNK = 16u;

@group(0) @binding(0) var<uniform> params: GradNormParams;
// First pass: the values. Final pass: the partial sums at [0, count), their counts at [count, 2 count).
@group(0) @binding(1) var<storage, read> input: array<f32>;
// First pass: partial sums at [0, tiles), counts at [tiles, 2 tiles). Final: [sum of squares, count].
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

var<workgroup> sums: array<f32, WG>;
var<workgroup> counts: array<u32, WG>;

fn nonFinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.z * params.tilesX + wid.x;
  var sum = 0.0;
  var count = 0u;
  if (FINAL) {
    for (var i = lid; i < params.count; i += WG) {
      sum += input[i];
      count += u32(input[params.count + i]);
    }
  } else {
    let start = tile * WG * ITEMS;
    for (var chunk = 0u; chunk < ITEMS; chunk += CHUNK) {
      var part = 0.0;
      for (var q = chunk; q < chunk + CHUNK; q++) {
        let i = start + q * WG + lid;
        if (i < params.count) {
          let x = input[i];
          count += select(0u, 1u, nonFinite(x));
          part += x * x;
        }
      }
      sum += part;
    }
  }
  sums[lid] = sum;
  counts[lid] = count;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) {
      sums[lid] += sums[lid + width];
      counts[lid] += counts[lid + width];
    }
    workgroupBarrier();
  }
  if (lid == 0u && tile < params.tiles) {
    output[tile] = sums[0];
    output[params.tiles + tile] = f32(counts[0]);
  }
}
