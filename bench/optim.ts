// Optimizer-step microbenchmark for `rcae train`: one AdamW step and one gradient-norm pass over
// a flat buffer of the model's parameter count (w=8 and w=64 reference architectures), on this
// adapter, beside torch.optim.AdamW and torch's global norm on the CPU in the same run (same
// thread count as CPU cores) when PyTorch is installed; and the time to encode the w=64 published
// checkpoint (weights and both moments). AdamW moves 28 bytes per parameter (reads p, g, m, v;
// writes p, m, v), the norm 4; both are memory-bound, so GB/s is the figure to compare.
// Usage: node dist/bench/optim.js [--widths=8,64]
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { Gpu } from '../src/gpu/device.js';
import '../src/node/node-platform.js';
import { parameterCount, referenceArchitecture } from '../src/graph/architecture.js';
import type { BoundDispatch } from '../src/kernels/dispatch.js';
import { AdamWKernel } from '../src/kernels/optim/adamw.js';
import { GradNormKernel } from '../src/kernels/optim/grad-norm.js';
import { publishedCheckpoint } from '../src/weights/published-checkpoint.js';
import { TorchTensor, encodeTorchSave } from '../src/weights/torch-save.js';

const widths = (process.argv.find((a) => a.startsWith('--widths='))?.slice('--widths='.length) ?? '8,64').split(',').map(Number);
const threads = cpus().length;
const hyper = { lr: 1e-3, betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 1e-5 };

/** Best of five timed batches, each of as many steps as fill ~0.3 s (at least one). */
async function secondsPer(gpu: Gpu, dispatches: readonly BoundDispatch[]): Promise<number> {
  const once = async (n: number): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      gpu.submit((encoder) => {
        const pass = encoder.beginComputePass();
        for (const d of dispatches) d.encode(pass);
        pass.end();
      });
    }
    await gpu.onSubmittedWorkDone();
    return (performance.now() - start) / 1000 / n;
  };
  const repeats = Math.max(1, Math.min(64, Math.round(0.3 / (await once(1)))));
  let best = Infinity;
  for (let i = 0; i < 5; i++) best = Math.min(best, await once(repeats));
  return best;
}

const TORCH = String.raw`
import json, sys, time, torch
n, threads = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
p = torch.randn(n, requires_grad=True)
p.grad = torch.randn(n) * 1e-2
opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=1e-5)
def best(f):
    f()
    times = []
    for _ in range(5):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return min(times)
print(json.dumps({'adamw': best(opt.step), 'norm': best(lambda: torch.linalg.vector_norm(p.grad)), 'version': torch.__version__}))
`;

function torchCpu(n: number): { adamw: number; norm: number; version: string } | null {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync('/usr/bin/python3', ['-c', TORCH, String(n), String(threads)], { env, encoding: 'utf8', timeout: 600_000 });
  return r.status === 0 ? JSON.parse(r.stdout) : null;
}

const gpu = await Gpu.open();
console.log(`${gpu.adapter.description || gpu.adapter.device} [${gpu.adapter.backend}], ${threads} CPU threads`);
console.log('width  parameters  kernel     ms/step   GB/s   torch CPU ms   GB/s');
for (const width of widths) {
  const n = parameterCount(referenceArchitecture(width));
  // A storage binding holds at most maxStorageBufferBindingSize bytes (128 MiB on lavapipe, less
  // than w=64's 139 MB of parameters): the flat buffer is cut into shards, one dispatch each.
  const perShard = Math.floor(gpu.limits.maxStorageBufferBindingSize / 4);
  const shards = Array.from({ length: Math.ceil(n / perShard) }, (_, i) => Math.min(perShard, n - i * perShard));
  const made = shards.map((count) => {
    const [param, grad, expAvg, expAvgSq] = ['param', 'grad', 'expAvg', 'expAvgSq'].map((label) => gpu.upload(Float32Array.from({ length: count }, () => Math.random() - 0.5), label));
    const output = gpu.upload(new Float32Array(2), 'norm');
    const adamw = new AdamWKernel(gpu).bind({ count, param, grad, expAvg, expAvgSq, step: 1, hyper });
    const norm = new GradNormKernel(gpu).bind({ count, input: grad, output });
    return { adamw, norm, buffers: [param, grad, expAvg, expAvgSq, output] };
  });
  const torch = torchCpu(n);
  for (const [name, dispatches, bytes, peer] of [['adamw', made.map((m) => m.adamw), 28, torch?.adamw], ['grad-norm', made.map((m) => m.norm), 4, torch?.norm]] as const) {
    const s = await secondsPer(gpu, dispatches);
    const peerText = peer === undefined ? 'n/a' : `${(peer * 1000).toFixed(2).padStart(12)} ${((bytes * n) / peer / 1e9).toFixed(1).padStart(6)}`;
    console.log(`${String(width).padStart(5)} ${String(n).padStart(11)}  ${name.padEnd(9)} ${(s * 1000).toFixed(2).padStart(8)} ${((bytes * n) / s / 1e9).toFixed(1).padStart(6)}  ${peerText}`);
  }
  if (torch && width === widths[0]) console.log(`(PyTorch ${torch.version}, torch.set_num_threads(${threads}))`);
  if (shards.length > 1) console.log(`(w=${width}: ${shards.length} shards of at most ${perShard} parameters)`);
  for (const m of made) {
    m.adamw.destroy();
    m.norm.destroy();
    m.buffers.forEach((b) => b.destroy());
  }
}

// The published checkpoint of the largest width: weights plus both moments, as bytes to write.
const n = parameterCount(referenceArchitecture(Math.max(...widths)));
const values = (): Float32Array => new Float32Array(n);
const stateDict = new Map([['flat', new TorchTensor([n], values())]]);
const start = performance.now();
const parts = encodeTorchSave('bench.ckpt', publishedCheckpoint({
  stateDict, parameterNames: ['flat'], step: 1, moments: new Map([['flat', { expAvg: values(), expAvgSq: values() }]]), hyper, epoch: 1, config: {},
}));
const bytes = parts.reduce((s, p) => s + p.length, 0);
console.log(`torch.save encoding of ${n} parameters with both moments: ${(bytes / 2 ** 20).toFixed(0)} MiB in ${(performance.now() - start).toFixed(0)} ms (CRC-32 over every byte)`);
gpu.destroy();
process.exit(0);
