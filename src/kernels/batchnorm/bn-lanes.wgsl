// The layout both BatchNorm reductions share (bn-stats.wgsl, bn-grad-reduce.wgsl) over NHWC rows of
// `channels` values. A workgroup is CB channels by RL row lanes: adjacent invocations read adjacent
// channels of a row (adjacent addresses), and a channel's RL lanes meet in a tree at the end. In
// the first pass a workgroup folds one tile of TILE_ROWS rows for one block of CB channels (tile in
// x and z of the grid, channel block in y); lane r takes rows r, r + RL, ... of the tile.

const CB = 16u;
const RL = 16u;
const ITEMS = 64u;
const TILE_ROWS = RL * ITEMS;

struct Lane {
  // This invocation's channel and row lane, and whether the channel exists.
  channel: u32,
  row: u32,
  live: bool,
}

fn laneOf(wid: vec3u, lid: u32, channels: u32) -> Lane {
  let channel = wid.y * CB + lid % CB;
  return Lane(channel, lid / CB, channel < channels);
}
