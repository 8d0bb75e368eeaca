// GEMM kernels of two builds side by side: every distinct GEMM layer of the reference model (w=64)
// with its heuristic tile, timed in this build and in a baseline build (another checkout's dist/),
// alternating build by build, layer by layer, in one process, so that both see the same machine
// load. Reports per layer the median wall and CPU seconds per dispatch (on a CPU adapter the "GPU"
// is this process's threads: CPU time is the work done, wall time also counts other jobs), and
// the model's total (layers weighted by how often the model runs them) as baseline / this ratios.
// Usage: node dist/bench/gemm-ab.js --baseline=/path/to/other/dist [--precision=f32|f16]
//        [--variant=fma|matrix-emulated] [--batch=1] [--reps=5]
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Gpu } from '../src/gpu/device.js';
import { toFloat16 } from '../src/gpu/f16.js';
import { referenceArchitecture } from '../src/graph/architecture.js';
import { buildPlan } from '../src/graph/plan.js';
import { convOutputSize, packConvWeights, type ConvSpec } from '../src/kernels/conv2d/conv-spec.js';
import { convLayers } from '../src/graph/lower.js';
import * as gemm from '../src/kernels/conv2d/gemm.js';
import type { BoundDispatch } from '../src/kernels/dispatch.js';
import '../src/node/node-platform.js';

type GemmModule = typeof gemm;

function argument(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

interface Build {
  name: string;
  gpu: Gpu;
  gemm: GemmModule;
}

async function openBuild(name: string, dist: string | null): Promise<Build> {
  if (!dist) return { name, gpu: await Gpu.open(), gemm };
  const load = (path: string) => import(pathToFileURL(join(resolve(dist), path)).href);
  await load('src/node/node-platform.js');
  const device = (await load('src/gpu/device.js')) as { Gpu: typeof Gpu };
  return { name, gpu: await device.Gpu.open(), gemm: (await load('src/kernels/conv2d/gemm.js')) as GemmModule };
}

interface Layer {
  key: string;
  spec: ConvSpec;
  inH: number;
  inW: number;
  count: number;
  input: gemm.TensorFormat;
  output: gemm.TensorFormat;
}

function modelLayers(precision: gemm.Precision): Layer[] {
  const plan = buildPlan(referenceArchitecture(64));
  const layers = new Map<string, Layer>();
  for (const { key, spec, inH, inW, input, output } of convLayers(plan, precision)) {
    const seen = layers.get(key);
    if (seen) seen.count++;
    else layers.set(key, { key, spec, inH, inW, count: 1, input, output });
  }
  return [...layers.values()];
}

/** A layer bound in one build with its heuristic tile and its own buffers (constant data: speed only). */
function bindLayer(build: Build, layer: Layer, precision: gemm.Precision, backend: gemm.GemmBackend, batch: number): { dispatch: BoundDispatch; tile: string; free: () => void } {
  const { gpu } = build;
  const { spec, inH, inW } = layer;
  const tile = build.gemm.gemmHeuristic(gpu, spec, batch, inH, inW, precision, backend);
  const [outH, outW] = convOutputSize(spec, inH, inW);
  const bytes = (f: gemm.TensorFormat) => (f.type === 'f16' ? 2 : 4);
  const outCount = batch * spec.outChannels * outH * outW;
  const packed = packConvWeights(spec, new Float32Array(spec.inChannels * spec.outChannels * spec.kernel ** 2).fill(0.01), new Float32Array(spec.outChannels));
  const buffers = {
    input: gpu.createBuffer(batch * spec.inChannels * inH * inW * bytes(layer.input), 'storage', 'x'),
    output: gpu.createBuffer(outCount * bytes(layer.output), 'storage', 'y'),
    residual: spec.residual ? gpu.createBuffer(outCount * bytes(layer.output), 'storage', 'r') : undefined,
    weight: precision === 'f16' ? gpu.upload(toFloat16(packed.weight), 'w') : gpu.upload(packed.weight, 'w'),
    bias: gpu.upload(packed.bias, 'b'),
  };
  const dispatch = new build.gemm.GemmConvKernel(gpu, spec, { precision, input: layer.input, output: layer.output, tile }).bind({ batch, inH, inW, ...buffers });
  const free = () => {
    dispatch.destroy();
    Object.values(buffers).forEach((b) => b?.destroy());
  };
  return { dispatch, tile: build.gemm.tileKey(tile), free };
}

async function timeOnce(gpu: Gpu, dispatch: BoundDispatch): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  gpu.submit((encoder) => {
    const pass = encoder.beginComputePass();
    dispatch.encode(pass);
    pass.end();
  });
  await gpu.onSubmittedWorkDone();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - start) / 1000, cpu: (used.user + used.system) / 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const baselineDist = argument('baseline');
  if (!baselineDist) throw new Error('--baseline=DIST (another checkout\'s dist/ folder) is required');
  const precision = (argument('precision') ?? 'f32') as gemm.Precision;
  const backend = argument('variant') === 'matrix-emulated' ? 'matrix-emulated' : 'fma';
  const batch = Number(argument('batch') ?? 1);
  const reps = Number(argument('reps') ?? 5);
  const builds = [await openBuild('baseline', baselineDist), await openBuild('this', null)];
  const totals = builds.map(() => ({ wall: 0, cpu: 0 }));
  console.log(`${builds[1].gpu.adapter.description} [${builds[1].gpu.adapter.backend}]; ${precision} ${backend}, batch ${batch}, ${reps} alternating repetitions; median s per dispatch`);
  console.log('layer                                   x  tile (this)                    baseline wall/cpu     this wall/cpu   cpu ratio');
  for (const layer of modelLayers(precision)) {
    const bound = builds.map((b) => bindLayer(b, layer, precision, backend, batch));
    const samples = builds.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
    for (let b = 0; b < builds.length; b++) await builds[b].gpu.checked(layer.key, () => timeOnce(builds[b].gpu, bound[b].dispatch));
    for (let r = 0; r < reps; r++) {
      for (let b = 0; b < builds.length; b++) {
        const t = await timeOnce(builds[b].gpu, bound[b].dispatch);
        samples[b].wall.push(t.wall);
        samples[b].cpu.push(t.cpu);
      }
    }
    const m = samples.map((s) => ({ wall: median(s.wall), cpu: median(s.cpu) }));
    m.forEach((x, b) => {
      totals[b].wall += x.wall * layer.count;
      totals[b].cpu += x.cpu * layer.count;
    });
    const cell = (x: { wall: number; cpu: number }) => `${x.wall.toFixed(3)}/${x.cpu.toFixed(3)}`.padStart(17);
    console.log(`${layer.key.padEnd(39)} ${String(layer.count).padStart(2)}  ${bound[1].tile.padEnd(30)} ${cell(m[0])} ${cell(m[1])} ${(m[0].cpu / m[1].cpu).toFixed(2).padStart(10)}`);
    bound.forEach((x) => x.free());
  }
  const [base, self] = totals;
  console.log(`model (GEMM layers, weighted)  baseline ${base.wall.toFixed(2)} s wall / ${base.cpu.toFixed(2)} s cpu, this ${self.wall.toFixed(2)} / ${self.cpu.toFixed(2)}: baseline / this = ${(base.wall / self.wall).toFixed(3)} wall, ${(base.cpu / self.cpu).toFixed(3)} cpu`);
  builds.forEach((b) => b.gpu.destroy());
}

await main();
process.exit(0);
