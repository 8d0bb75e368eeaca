// Kernel microbenchmark: times every distinct convolution of the reference model (base width 64)
// plus the linear layers, per conv variant, and prints GFLOP/s next to the adapter's FMA peak.
// Usage: node dist/bench/kernels.js [--batch=N] [--variants=subgroup,register] [--layers=substring]
// Besides wall time it reports process CPU time: on lavapipe the "GPU" is this process's threads,
// so wall / CPU shows how much of the machine the run actually got when other work competes.
import { Gpu } from '../src/gpu/device.js';
import '../src/node/node-platform.js';
import { ConvKernel, type ConvVariant } from '../src/kernels/conv2d/conv2d.js';
import { packConvWeights, convOutputSize, type ConvSpec } from '../src/kernels/conv2d/conv-spec.js';
import type { BoundDispatch } from '../src/kernels/dispatch.js';
import { LinearKernel, packLinearWeights } from '../src/kernels/linear/linear.js';
import { measurePeakGflops } from './peak.js';

interface Layer {
  name: string;
  spec: ConvSpec;
  size: number;
}

function conv(name: string, inChannels: number, outChannels: number, size: number, kind: 'down' | 'res' | 'up' | 'fc', activation: ConvSpec['activation'] = 'relu'): Layer {
  const geometry = {
    down: { kernel: 4, stride: 2, padding: 1, transposed: false },
    up: { kernel: 4, stride: 2, padding: 1, transposed: true },
    res: { kernel: 3, stride: 1, padding: 1, transposed: false },
    fc: { kernel: 1, stride: 1, padding: 0, transposed: false },
  }[kind];
  return { name, size, spec: { inChannels, outChannels, ...geometry, activation, leakySlope: 0.01, residual: kind === 'res' } };
}

// One of each distinct layer shape of the reference model at w = 64 (input spatial size given).
const layers: Layer[] = [
  conv('enc0 conv 3->64', 3, 64, 128, 'down'),
  conv('res 64 @64x64', 64, 64, 64, 'res'),
  conv('enc1 conv 64->128', 64, 128, 64, 'down'),
  conv('res 128 @32x32', 128, 128, 32, 'res'),
  conv('enc2 conv 128->256', 128, 256, 32, 'down'),
  conv('res 256 @16x16', 256, 256, 16, 'res'),
  conv('enc3 conv 256->512', 256, 512, 16, 'down'),
  conv('res 512 @8x8', 512, 512, 8, 'res'),
  conv('enc4 conv 512->512', 512, 512, 8, 'down'),
  conv('fc_encode 8192->512', 8192, 512, 1, 'fc', 'none'),
  conv('fc_decode 512->8192', 512, 8192, 1, 'fc'),
  conv('dec0 convT 512->512', 512, 512, 4, 'up'),
  conv('dec1 convT 512->256', 512, 256, 8, 'up'),
  conv('dec2 convT 256->128', 256, 128, 16, 'up'),
  conv('dec3 convT 128->64', 128, 64, 32, 'up'),
  conv('dec4 convT 64->3', 64, 3, 64, 'up', 'tanh'),
];

function argument(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function timeDispatch(gpu: Gpu, dispatch: BoundDispatch): Promise<{ wall: number; cpu: number }> {
  const run = async (repeats: number) => {
    gpu.submit((encoder) => {
      const pass = encoder.beginComputePass();
      for (let i = 0; i < repeats; i++) dispatch.encode(pass);
      pass.end();
    });
    await gpu.onSubmittedWorkDone();
  };
  await gpu.checked(dispatch.label, () => run(1));
  let repeats = 1;
  for (;;) {
    const start = performance.now();
    await run(repeats);
    if (performance.now() - start > 200 || repeats >= 1024) break;
    repeats *= 2;
  }
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < 3; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    await run(repeats);
    wall = Math.min(wall, (performance.now() - start) / 1000 / repeats);
    const used = process.cpuUsage(cpuStart);
    cpu = Math.min(cpu, (used.user + used.system) / 1e6 / repeats);
  }
  return { wall, cpu };
}

async function main(): Promise<void> {
  const batch = Number(argument('batch') ?? 1);
  const variants = (argument('variants') ?? 'subgroup,register').split(',') as ConvVariant[];
  const filter = argument('layers');
  const gpu = await Gpu.open();
  try {
    const peak = await measurePeakGflops(gpu);
    console.log(`${gpu.adapter.description || gpu.adapter.device} [${gpu.adapter.backend}], batch ${batch}`);
    console.log(`FMA peak: ${peak.gflops.toFixed(2)} GFLOP/s (${peak.method})`);
    console.log('layer                     variant    GFLOP     ms   GFLOP/s  CPU-s/s');
    for (const variant of variants) {
      let flops = 0;
      let seconds = 0;
      for (const { name, spec, size } of layers) {
        if (filter && !name.includes(filter)) continue;
        const [outH, outW] = convOutputSize(spec, size, size);
        // The fully connected layers have their own kernel (variant does not apply to them).
        const linear = spec.kernel === 1 ? { inFeatures: spec.inChannels, outFeatures: spec.outChannels, activation: spec.activation, leakySlope: spec.leakySlope } : undefined;
        const rawWeight = new Float32Array(spec.inChannels * spec.outChannels * spec.kernel ** 2).fill(0.01);
        const weights = linear ? packLinearWeights(linear, rawWeight, new Float32Array(spec.outChannels)) : packConvWeights(spec, rawWeight, new Float32Array(spec.outChannels));
        const buffers = {
          input: gpu.upload(new Float32Array(batch * spec.inChannels * size * size).fill(0.5), 'x'),
          output: gpu.createBuffer(batch * spec.outChannels * outH * outW * 4, 'storage', 'y'),
          residual: spec.residual ? gpu.createBuffer(batch * spec.outChannels * outH * outW * 4, 'storage', 'r') : undefined,
          weight: gpu.upload(weights.weight, 'w'),
          bias: gpu.upload(weights.bias, 'b'),
        };
        const dispatch = linear
          ? new LinearKernel(gpu, linear).bind({ batch, ...buffers })
          : new ConvKernel(gpu, spec, { variant }).bind({ batch, inH: size, inW: size, ...buffers });
        const { wall, cpu } = await timeDispatch(gpu, dispatch);
        flops += dispatch.flops;
        seconds += wall;
        const row = [name.padEnd(25), variant.padEnd(9), (dispatch.flops / 1e9).toFixed(3).padStart(6), (wall * 1000).toFixed(1).padStart(7), (dispatch.flops / wall / 1e9).toFixed(2).padStart(8), (cpu / wall).toFixed(2).padStart(8)];
        console.log(row.join(' '));
        Object.values(buffers).forEach((b) => b?.destroy());
      }
      console.log(`${'all layers above'.padEnd(25)} ${variant.padEnd(9)} ${(flops / 1e9).toFixed(3).padStart(6)} ${(seconds * 1000).toFixed(1).padStart(7)} ${(flops / seconds / 1e9).toFixed(2).padStart(8)}`);
    }
  } finally {
    gpu.destroy();
  }
}

await main();
process.exit(0);
