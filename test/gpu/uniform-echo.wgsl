// Copies every uniform field, component by component, into a u32 array so the test can check that
// the host packer put each value where WGSL reads it.
@group(0) @binding(0) var<uniform> params: EchoParams;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(1)
fn main() {
  out[0] = params.count;
  out[1] = bitcast<u32>(params.direction.x);
  out[2] = bitcast<u32>(params.direction.y);
  out[3] = bitcast<u32>(params.direction.z);
  out[4] = bitcast<u32>(params.scale);
  out[5] = params.size.x;
  out[6] = params.size.y;
  out[7] = bitcast<u32>(params.offset);
  out[8] = bitcast<u32>(params.color.x);
  out[9] = bitcast<u32>(params.color.w);
  out[10] = params.last;
}
