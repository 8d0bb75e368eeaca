// The parameter gradients of BatchNorm2d in training mode: dbeta = sum of dy and dgamma = sum of
// dy * xhat over the rows (xhat = (x - mean) * invstd, recomputed from x and the saved statistics),
// two passes of this shader with one bind group. The first pass (FINAL false) writes each tile's
// two sums per channel to the partials; the final pass (one workgroup per channel block) adds a
// channel's tiles. Each lane's sequential run is at most ITEMS (first) or tiles / RL (final) adds
// before the tree.

override FINAL: bool = false;

@group(0) @binding(0) var<uniform> params: BatchNormGradParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
// The batch mean at [0, channels), invstd at [channels, 2 channels).
@group(0) @binding(3) var<storage, read> saved: array<f32>;
// The sums of (channel, tile) at 2 * (channel * tiles + tile): dy, then dy * xhat.
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbeta: array<f32>;

var<workgroup> sums: array<vec2f, CB * RL>;

@compute @workgroup_size(CB * RL)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let lane = laneOf(wid, lid, params.channels);
  let tile = wid.z * params.tilesX + wid.x;
  var acc = vec2f(0.0);
  if (lane.live) {
    if (FINAL) {
      for (var t = lane.row; t < params.tiles; t += RL) {
        let at = 2u * (lane.channel * params.tiles + t);
        acc += vec2f(partials[at], partials[at + 1u]);
      }
    } else {
      let mean = saved[lane.channel];
      let invstd = saved[params.channels + lane.channel];
      for (var q = 0u; q < ITEMS; q++) {
        let row = tile * TILE_ROWS + q * RL + lane.row;
        if (row < params.rows) {
          let i = row * params.channels + lane.channel;
          let g = dy[i];
          acc += vec2f(g, g * ((x[i] - mean) * invstd));
        }
      }
    }
  }
  sums[lid] = acc;
  workgroupBarrier();
  for (var width = RL / 2u; width > 0u; width /= 2u) {
    if (lane.row < width) {
      sums[lid] += sums[lid + width * CB];
    }
    workgroupBarrier();
  }
  if (lane.row != 0u || !lane.live) {
    return;
  }
  let s = sums[lid];
  if (FINAL) {
    dbeta[lane.channel] = s.x;
    dgamma[lane.channel] = s.y;
  } else if (tile < params.tiles) {
    let at = 2u * (lane.channel * params.tiles + tile);
    partials[at] = s.x;
    partials[at + 1u] = s.y;
  }
}
