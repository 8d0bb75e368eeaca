// Measures the arithmetic throughput this adapter can attain, so that kernel timings can be read
// as a fraction of it. Method: a dispatch of independent vec4 FMA chains (bench/peak.wgsl), sized
// by calibration to run ~0.15 s, best of three. Takes ~1-2 s on lavapipe, mostly shader compile.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Gpu } from '../src/gpu/device.js';
import '../src/node/node-platform.js';
import { bindKernel, computePipeline, kernelShader } from '../src/gpu/shader.js';
import { uniformStruct } from '../src/gpu/uniforms.js';

const peakUniforms = uniformStruct('PeakParams', { iterations: 'u32', multiplier: 'f32', addend: 'f32' });
const shader = kernelShader({ id: 'bench-peak', source: { name: 'bench/peak.wgsl', code: readFileSync(new URL('./peak.wgsl', import.meta.url), 'utf8') }, uniforms: peakUniforms, storage: ['read_write'] });

const WG = 64;
const CHAINS = 8;
const FLOPS_PER_ITERATION = CHAINS * 4 * 2;

export interface PeakOptions {
  /** Seconds one timed dispatch should last (default 0.15). */
  targetSeconds?: number;
  /** Workgroups in the dispatch (default: enough to fill a large GPU, 4096). */
  workgroups?: number;
}

export async function measurePeakGflops(gpu: Gpu, opts: PeakOptions = {}): Promise<{ gflops: number; method: string }> {
  const target = opts.targetSeconds ?? 0.15;
  const workgroups = opts.workgroups ?? (gpu.adapter.isSoftware ? 64 : 4096);
  const invocations = workgroups * WG;
  const sink = gpu.createBuffer(invocations * 4, 'storage', 'peak sink');
  const pipeline = computePipeline(gpu, shader, { WG });
  const time = async (iterations: number): Promise<number> => {
    const { group, uniforms } = bindKernel(gpu, shader, 'peak', { iterations, multiplier: 0.999999, addend: 1e-6 }, [sink]);
    const start = performance.now();
    try {
      await gpu.checked('peak FMA probe', async () => {
        gpu.submit((encoder) => {
          const pass = encoder.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(workgroups);
          pass.end();
        });
        await gpu.onSubmittedWorkDone();
      });
      return (performance.now() - start) / 1000;
    } finally {
      uniforms.destroy();
    }
  };
  try {
    // The first dispatch pays for the pipeline compile; then grow the loop until it is long enough
    // that submission overhead no longer matters.
    await time(1);
    let iterations = 64;
    let seconds = await time(iterations);
    while (seconds < target / 4 && iterations < 1 << 24) {
      iterations *= 4;
      seconds = await time(iterations);
    }
    iterations = Math.max(1, Math.round((iterations * target) / Math.max(seconds, 1e-6)));
    let best = Infinity;
    for (let i = 0; i < 3; i++) best = Math.min(best, await time(iterations));
    const gflops = (invocations * iterations * FLOPS_PER_ITERATION) / best / 1e9;
    return { gflops, method: `vec4 FMA chains: ${workgroups}x${WG} invocations x ${iterations} iterations x ${CHAINS} chains, best of 3 (${(best * 1000).toFixed(1)} ms)` };
  } finally {
    sink.destroy();
  }
}

async function main(): Promise<void> {
  const gpu = await Gpu.open();
  try {
    const { gflops, method } = await measurePeakGflops(gpu);
    console.log(`${gpu.adapter.description || gpu.adapter.device}: ${gflops.toFixed(2)} GFLOP/s (${method})`);
  } finally {
    gpu.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
  process.exit(0);
}
