// Activation backward, one element per invocation: dx = dy * f'(saved), the local derivative
// written as PyTorch's CPU kernels write it, so the f32 results are torch's own:
// - relu (threshold_backward): x <= 0 ? 0 : dy, so the gradient at exactly 0 is 0;
// - leaky_relu (leaky_relu_backward): x > 0 ? dy : dy * slope, so at exactly 0 it is dy * slope;
// - tanh (tanh_backward), from the forward's output y: dy * (1 - y^2). torch's CPU kernel fuses
//   1 - y * y (one rounding); a WGSL fma need not be fused (lavapipe's is not), and unfused, y * y
//   rounded near |y| = 1 leaves 1 - y^2 wrong by up to ~1e-5 relative. (1 - y)(1 + y) is within
//   ~2 f32 roundings of the exact value on every device.
// `saved` is the forward's input for relu and leaky_relu (its output works too: same sign for
// slope >= 0) and the forward's output for tanh.
// Residual add backward needs no kernel: the gradient of a + b is dy for both branches, and where
// a value feeds two consumers their gradients are summed with accumulate.wgsl.

// ACTIVATION: ids of kernels/activation.ts: 1 relu, 2 leaky_relu, 3 tanh.
override ACTIVATION: u32 = 1u;
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: ActivationBackwardParams;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.z * params.tilesX + wid.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  let g = dy[i];
  let s = saved[i];
  switch ACTIVATION {
    case 1u: { dx[i] = select(g, 0.0, s <= 0.0); }
    case 2u: { dx[i] = select(g * params.slope, g, s > 0.0); }
    default: { dx[i] = g * ((1.0 - s) * (1.0 + s)); }
  }
}
