// A peer child process (see protocol.ts for the contract): opens one engine, runs warm-up and timed
// iterations on the given batch, writes the first output, prints one JSON result line, and exits
// explicitly (Dawn would keep Node alive).
import { readFile, writeFile } from 'node:fs/promises';
import { validateArchitecture } from '../../src/graph/architecture.js';
import { openOrtCpu } from './ort-cpu.js';
import { openOrtWebGpu } from './ort-webgpu.js';
import { type ChildArgs, type ChildResult, type PeerEngine, PeerUnavailableError, parseChildArgs } from './protocol.js';
import type { PeerSession, PeerSource } from './session.js';
import { openTfjsWebGpu } from './tfjs-webgpu.js';

const OPENERS: Record<Exclude<PeerEngine, 'torch-cpu'>, (source: PeerSource) => Promise<PeerSession>> = {
  'ort-webgpu': openOrtWebGpu,
  'tfjs-webgpu': openTfjsWebGpu,
  'ort-cpu': openOrtCpu,
};

async function readInput(args: ChildArgs, perSample: number): Promise<Float32Array> {
  const bytes = await readFile(args.inputPath);
  const expected = args.batch * perSample * 4;
  if (bytes.length !== expected) throw new Error(`${args.inputPath}: holds ${bytes.length} bytes, expected ${expected} (${args.batch} images of ${perSample} float32)`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

async function main(args: ChildArgs): Promise<ChildResult> {
  if (args.engine === 'torch-cpu') throw new Error('torch-cpu runs as bench/peers/torch-cpu.py, not in Node');
  const arch = validateArchitecture(JSON.parse(await readFile(args.archPath, 'utf8')), args.archPath);
  const input = await readInput(args, arch.inChannels * arch.imageSize * arch.imageSize);
  const session = await OPENERS[args.engine]({ arch, weightsPath: args.weightsPath, onnxPath: args.onnxPath });
  try {
    const ms: number[] = [];
    for (let i = 0; i < args.warmup + args.iterations; i++) {
      const start = performance.now();
      const output = await session.run(input, args.batch);
      const elapsed = performance.now() - start;
      if (i === 0) await writeFile(args.outputPath, new Uint8Array(output.buffer, output.byteOffset, output.byteLength));
      if (i >= args.warmup) ms.push(elapsed);
    }
    return { ok: true, engine: args.engine, batch: args.batch, ms, backend: session.backend };
  } finally {
    await session.dispose();
  }
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

let result: ChildResult;
const engineFlag = process.argv.indexOf('--engine');
let engine = engineFlag >= 0 ? (process.argv[engineFlag + 1] ?? '') : '';
try {
  const args = parseChildArgs(process.argv.slice(2));
  engine = args.engine;
  result = await main(args);
} catch (err) {
  result = { ok: false, engine, error: oneLine(err), skipped: err instanceof PeerUnavailableError };
}
process.stdout.write('\n' + JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
