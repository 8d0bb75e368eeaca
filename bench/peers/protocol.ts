// The contract between `runPeer` (parent) and a peer child process, shared with torch-cpu.py:
//   CHILD --engine E --model WEIGHTS --arch ARCH.json --onnx MODEL.onnx --batch B --iterations K
//         --warmup W --input IN.bin --output OUT.bin
// IN.bin holds exactly B images as raw little-endian float32 NCHW. The child writes the output of
// its first run (same layout) to OUT.bin and prints one JSON line last on stdout:
//   {"ok":true,"engine":E,"batch":B,"ms":[per timed iteration],"backend":"..."}
//   {"ok":false,"engine":E,"error":"one line","skipped":true|false}
// `skipped` says the engine cannot run here at all (package, adapter or Python missing), as opposed
// to having failed.

export const PEER_ENGINES = ['ort-webgpu', 'tfjs-webgpu', 'ort-cpu', 'torch-cpu'] as const;
export type PeerEngine = (typeof PEER_ENGINES)[number];

export interface ChildArgs {
  engine: PeerEngine;
  weightsPath: string;
  archPath: string;
  onnxPath: string;
  batch: number;
  iterations: number;
  warmup: number;
  inputPath: string;
  outputPath: string;
}

export type ChildResult =
  | { ok: true; engine: PeerEngine; batch: number; ms: number[]; backend: string }
  | { ok: false; engine: string; error: string; skipped: boolean };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** The engine cannot run on this machine; the reason is meant for the bench report. */
export class PeerUnavailableError extends Error {
  override name = 'PeerUnavailableError';
}

const FLAGS: Record<string, keyof ChildArgs> = {
  '--engine': 'engine',
  '--model': 'weightsPath',
  '--arch': 'archPath',
  '--onnx': 'onnxPath',
  '--batch': 'batch',
  '--iterations': 'iterations',
  '--warmup': 'warmup',
  '--input': 'inputPath',
  '--output': 'outputPath',
};
const MAX_COUNT = 1 << 16;

export function isPeerEngine(v: string): v is PeerEngine {
  return (PEER_ENGINES as readonly string[]).includes(v);
}

export function childArgv(args: ChildArgs): string[] {
  return Object.entries(FLAGS).flatMap(([flag, key]) => [flag, String(args[key])]);
}

export function parseChildArgs(argv: readonly string[]): ChildArgs {
  if (argv.length % 2 !== 0) throw new ProtocolError('arguments must come as --flag value pairs');
  const seen = new Map<keyof ChildArgs, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const key = FLAGS[argv[i]];
    if (!key) throw new ProtocolError(`unknown argument ${argv[i]}`);
    seen.set(key, argv[i + 1]);
  }
  const missing = Object.entries(FLAGS).filter(([, key]) => !seen.has(key)).map(([flag]) => flag);
  if (missing.length > 0) throw new ProtocolError(`missing ${missing.join(', ')}`);
  const engine = seen.get('engine')!;
  if (!isPeerEngine(engine)) throw new ProtocolError(`--engine must be one of ${PEER_ENGINES.join(', ')}, got ${engine}`);
  const count = (key: keyof ChildArgs, min: number) => {
    const v = Number(seen.get(key));
    if (!Number.isInteger(v) || v < min || v > MAX_COUNT) throw new ProtocolError(`--${key} must be an integer in ${min}..${MAX_COUNT}, got ${seen.get(key)}`);
    return v;
  };
  const text = (key: keyof ChildArgs) => seen.get(key)!;
  return {
    engine,
    weightsPath: text('weightsPath'),
    archPath: text('archPath'),
    onnxPath: text('onnxPath'),
    batch: count('batch', 1),
    iterations: count('iterations', 1),
    warmup: count('warmup', 0),
    inputPath: text('inputPath'),
    outputPath: text('outputPath'),
  };
}

/** The last stdout line that is a result object (libraries may print their own lines before it). */
export function parseChildResult(stdout: string): ChildResult | null {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]) as Record<string, unknown>;
      if (v.ok === true && Array.isArray(v.ms) && v.ms.every((x) => typeof x === 'number') && typeof v.batch === 'number') {
        return { ok: true, engine: v.engine as PeerEngine, batch: v.batch, ms: v.ms as number[], backend: String(v.backend ?? '') };
      }
      if (v.ok === false && typeof v.error === 'string') return { ok: false, engine: String(v.engine ?? ''), error: v.error, skipped: v.skipped === true };
    } catch {
      // not JSON after all: keep looking further up
    }
  }
  return null;
}
