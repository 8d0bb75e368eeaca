// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator, so any invocation draws the numbers of any (counter, key) without state,
// and a run that resumes at step n draws what an uninterrupted run drew there. WGSL has no 64-bit
// product, so mulhilo builds the high word from 16-bit halves.

const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u;
const PHILOX_W1 = 0xBB67AE85u;

// (high, low) words of the 64-bit product a * b.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return vec2u(hi, a * b);
}

fn philoxRound(ctr: vec4u, key: vec2u) -> vec4u {
  let p0 = mulhilo(PHILOX_M0, ctr.x);
  let p1 = mulhilo(PHILOX_M1, ctr.z);
  return vec4u(p1.x ^ ctr.y ^ key.x, p1.y, p0.x ^ ctr.w ^ key.y, p0.y);
}

// Ten rounds; the key is bumped by the Weyl constants before every round after the first.
fn philox4x32(counter: vec4u, seed: vec2u) -> vec4u {
  var ctr = philoxRound(counter, seed);
  var key = seed;
  for (var r = 1u; r < 10u; r++) {
    key += vec2u(PHILOX_W0, PHILOX_W1);
    ctr = philoxRound(ctr, key);
  }
  return ctr;
}
