// Batch statistics of BatchNorm2d in training mode over NHWC x ([rows = N*H*W, channels]), two
// passes of this shader with one bind group. Statistics are (count, mean, M2) triples: each lane
// folds its rows with Welford's update and triples meet by Chan's combine, so the deviations are
// summed, never x and x^2, and a mean of 1000 with a spread of 1 does not cancel away the variance.
// Values are shifted by the channel's first value before they are folded, so the running means
// are of the spread's size and the mean is rounded once, at the end, not at every update.
// The first pass (FINAL false) writes each tile's triple per channel to the partials; the final
// pass (one workgroup per channel block) combines a channel's tiles, saves the mean and
// 1 / sqrt(biased variance + eps) for the normalisation and the backward pass, and updates the
// running statistics as torch does: the running variance takes the unbiased variance.

override FINAL: bool = false;

@group(0) @binding(0) var<uniform> params: BatchNormStatsParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The triple of (channel, tile) at 3 * (channel * tiles + tile).
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
// The batch mean at [0, channels), invstd at [channels, 2 channels).
@group(0) @binding(3) var<storage, read_write> saved: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runningVar: array<f32>;

var<workgroup> stats: array<vec3f, CB * RL>;

fn combine(a: vec3f, b: vec3f) -> vec3f {
  if (b.x == 0.0) {
    return a;
  }
  let n = a.x + b.x;
  let delta = b.y - a.y;
  let share = b.x / n;
  return vec3f(n, a.y + delta * share, a.z + b.z + delta * delta * a.x * share);
}

@compute @workgroup_size(CB * RL)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let lane = laneOf(wid, lid, params.channels);
  let tile = wid.z * params.tilesX + wid.x;
  var acc = vec3f(0.0);
  // The channel's value in row 0 (clamped for lanes past the last channel, which fold nothing).
  let shift = x[min(lane.channel, params.channels - 1u)];
  if (lane.live) {
    if (FINAL) {
      for (var t = lane.row; t < params.tiles; t += RL) {
        let at = 3u * (lane.channel * params.tiles + t);
        acc = combine(acc, vec3f(partials[at], partials[at + 1u], partials[at + 2u]));
      }
    } else {
      for (var q = 0u; q < ITEMS; q++) {
        let row = tile * TILE_ROWS + q * RL + lane.row;
        if (row < params.rows) {
          let value = x[row * params.channels + lane.channel] - shift;
          acc.x += 1.0;
          let delta = value - acc.y;
          acc.y += delta / acc.x;
          acc.z += delta * (value - acc.y);
        }
      }
    }
  }
  stats[lid] = acc;
  workgroupBarrier();
  for (var width = RL / 2u; width > 0u; width /= 2u) {
    if (lane.row < width) {
      stats[lid] = combine(stats[lid], stats[lid + width * CB]);
    }
    workgroupBarrier();
  }
  if (lane.row != 0u || !lane.live) {
    return;
  }
  let s = stats[lid];
  if (FINAL) {
    let c = lane.channel;
    let mean = shift + s.y;
    saved[c] = mean;
    saved[params.channels + c] = 1.0 / sqrt(s.z / s.x + params.eps);
    runningMean[c] = params.keep * runningMean[c] + params.momentum * mean;
    runningVar[c] = params.keep * runningVar[c] + params.momentum * (s.z / (s.x - 1.0));
  } else if (tile < params.tiles) {
    let at = 3u * (lane.channel * params.tiles + tile);
    partials[at] = s.x;
    partials[at + 1u] = s.y;
    partials[at + 2u] = s.z;
  }
}
