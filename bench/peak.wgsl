// Arithmetic peak probe: every invocation runs CHAINS independent vec4 FMA chains for `iterations`
// steps (enough independent work to hide FMA latency on any adapter), then folds them into one
// store so the compiler cannot drop the loop. The multiplier is just below 1 so values stay finite.

override WG: u32 = 64u;
const CHAINS = 8u;

@group(0) @binding(0) var<uniform> params: PeakParams;
@group(0) @binding(1) var<storage, read_write> sink: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = wid.x * WG + lid;
  let m = vec4f(params.multiplier);
  let c = vec4f(params.addend);
  var acc: array<vec4f, CHAINS>;
  for (var j = 0u; j < CHAINS; j++) {
    acc[j] = vec4f(f32(id + j), f32(j), f32(lid), 1.0) * 1e-3;
  }
  for (var i = 0u; i < params.iterations; i++) {
    for (var j = 0u; j < CHAINS; j++) {
      acc[j] = fma(acc[j], m, c);
    }
  }
  var sum = vec4f(0.0);
  for (var j = 0u; j < CHAINS; j++) {
    sum += acc[j];
  }
  sink[id] = sum.x + sum.y + sum.z + sum.w;
}
