// Backward of the training loss, torch.nn.MSELoss(reduction='mean') over all `count` elements
// (N * C * H * W): d loss / d recon[i] = 2 / count * (recon[i] - truth[i]), times the upstream
// gradient of the loss (1, or the loss scale of mixed precision). The order of the f32 operations
// is torch's mse_backward kernel: (norm * (recon - truth)) * upstream, with norm = f32(2 / count),
// which is 2 * f32(1 / count) exactly.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: MseBackwardParams;
@group(0) @binding(1) var<storage, read> recon: array<f32>;
@group(0) @binding(2) var<storage, read> truth: array<f32>;
@group(0) @binding(3) var<storage, read_write> dRecon: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  let norm = 2.0 * params.invCount;
  dRecon[i] = norm * (recon[i] - truth[i]) * params.upstream;
}
