// Epilogue activation shared by every kernel that fuses one.
// ACTIVATION: 0 none, 1 relu, 2 leaky_relu (slope from the kernel's uniforms), 3 tanh.
override ACTIVATION: u32 = 0u;

// exp(-2|x|) lies in [0, 1], so neither numerator nor denominator can overflow for any finite x
// (the textbook (e^x - e^-x) / (e^x + e^-x) is Inf/Inf = NaN beyond |x| ~ 44).
fn tanh_safe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * ((1.0 - e) / (1.0 + e));
}

fn activate(v: f32, slope: f32) -> f32 {
  return activateWith(ACTIVATION, v, slope);
}

// The same with the activation chosen at run time (a uniform), for kernels that would otherwise
// compile one pipeline per activation.
fn activateWith(id: u32, v: f32, slope: f32) -> f32 {
  switch id {
    case 1u: { return max(v, 0.0); }
    case 2u: { return select(v * slope, v, v >= 0.0); }
    case 3u: { return tanh_safe(v); }
    default: { return v; }
  }
}
