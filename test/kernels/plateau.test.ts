// ReduceLROnPlateau against torch.optim.lr_scheduler.ReduceLROnPlateau on the same metric
// sequences: every learning rate and every state-dict field after every epoch, equal exactly (the
// arithmetic is the same float64), in torch's key order; and a run resumed from torch's state dict.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ReduceLROnPlateau, type PlateauOptions, type PlateauStateDict } from '../../src/kernels/optim/plateau.js';
import { SEED, random } from '../helpers/random.js';
import { requires } from '../helpers/skip.js';
import { python, pythonEnv, torchMissing } from '../helpers/torch.js';

const test = suite('kernels/plateau');

interface Case {
  lrs: number[];
  options: PlateauOptions;
}

const CASES: Case[] = [
  { lrs: [1e-3], options: { factor: 0.5, patience: 5 } }, // the model card's recipe
  { lrs: [1e-2, 5e-3], options: { factor: 0.1, patience: 0, cooldown: 2, minLr: [1e-4, 1e-3] } },
  { lrs: [0.1], options: { mode: 'max', thresholdMode: 'abs', threshold: 0.01, patience: 1, factor: 0.5 } },
  { lrs: [0.05], options: { factor: 0.9, patience: 0, eps: 1e-3 } }, // eps ends the reductions
  { lrs: [1], options: { mode: 'min', thresholdMode: 'abs', threshold: 0.05, patience: 2, cooldown: 1, minLr: 0.2 } },
];

/** A validation-loss-like sequence: improving, then plateaus, ties, improvements just below the threshold, a NaN. */
function metrics(seed: number): number[] {
  const rng = random(seed);
  const out: number[] = [];
  let loss = 1;
  for (let i = 0; i < 80; i++) {
    const r = rng.next();
    if (r < 0.4) loss *= 0.9 + 0.1 * rng.next();
    else if (r < 0.6) loss *= 1 - 1e-4 * rng.next(); // below the relative threshold
    else if (r < 0.8) loss *= 1 + 0.05 * rng.next();
    out.push(r > 0.98 ? Number.NaN : loss);
  }
  // A clear best, then exactly the relative threshold's boundary below it: not an improvement
  // (torch's comparison is strict).
  out.push(1e-3, 1e-3 * (1 - 1e-4));
  return out;
}

// JSON has no NaN or infinities: both sides write them as strings.
const encode = (v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : Array.isArray(v) ? v.map(encode) : v);
const encodeState = (s: PlateauStateDict): Record<string, unknown> => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, encode(v)]));

const TORCH_PLATEAU = String.raw`
import json, math, sys, torch
spec = json.load(sys.stdin)
def enc(v):
    if isinstance(v, float) and not math.isfinite(v): return {math.inf: 'Infinity', -math.inf: '-Infinity'}.get(v, 'NaN')
    if isinstance(v, list): return [enc(x) for x in v]
    return v
out = []
for case in spec['cases']:
    o = case['options']
    params = [torch.zeros(1, requires_grad=True) for _ in case['lrs']]
    opt = torch.optim.SGD([{'params': [p], 'lr': lr} for p, lr in zip(params, case['lrs'])], lr=1.0)
    kw = {'mode': o.get('mode', 'min'), 'factor': o.get('factor', 0.1), 'patience': o.get('patience', 10),
          'threshold': o.get('threshold', 1e-4), 'threshold_mode': o.get('thresholdMode', 'rel'),
          'cooldown': o.get('cooldown', 0), 'min_lr': o.get('minLr', 0), 'eps': o.get('eps', 1e-8)}
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    steps = [{'state': {k: enc(v) for k, v in sched.state_dict().items()}, 'lrs': [g['lr'] for g in opt.param_groups]}]
    for m in spec['metrics']:
        sched.step(float(m))
        steps.append({'state': {k: enc(v) for k, v in sched.state_dict().items()}, 'lrs': [g['lr'] for g in opt.param_groups]})
    out.append(steps)
print(json.dumps(out))
`;

interface TorchStep {
  state: Record<string, unknown>;
  lrs: number[];
}

requires(test, torchMissing, { ci: true })('every epoch: learning rates and the whole state dict equal torch\'s, keys in torch\'s order; resumed from torch\'s state dict too', () => {
  const sequence = metrics(SEED);
  const r = spawnSync(python, ['-c', TORCH_PLATEAU], { env: pythonEnv, encoding: 'utf8', timeout: 120_000, input: JSON.stringify({ cases: CASES, metrics: sequence.map(encode) }) });
  if (r.status !== 0) throw new Error(`python ReduceLROnPlateau failed: ${r.stderr}`);
  const torch = JSON.parse(r.stdout) as TorchStep[][];
  let reductions = 0;
  for (const [c, { lrs, options }] of CASES.entries()) {
    const what = (epoch: number) => `seed ${SEED} case ${c} ${JSON.stringify(options)} epoch ${epoch}`;
    const ours = new ReduceLROnPlateau(lrs, options);
    const check = (s: ReduceLROnPlateau, epoch: number): void => {
      assert.equal(Object.keys(s.stateDict()), Object.keys(torch[c][epoch].state), `${what(epoch)}: keys`);
      assert.equal(encodeState(s.stateDict()), torch[c][epoch].state, what(epoch));
      assert.equal(s.lrs, torch[c][epoch].lrs, `${what(epoch)}: learning rates`);
    };
    check(ours, 0);
    const resumeAt = 30;
    let resumed: ReduceLROnPlateau | undefined;
    for (const [i, m] of sequence.entries()) {
      ours.step(m);
      resumed?.step(m);
      check(ours, i + 1);
      if (resumed) check(resumed, i + 1);
      if (i + 1 === resumeAt) {
        // A run resumed from torch's own state dict (its infinities decoded) and learning rates.
        const decoded = Object.fromEntries(Object.entries(torch[c][resumeAt].state).map(([k, v]) => [k, typeof v === 'string' && /inf|nan/i.test(v) ? Number(v) : v]));
        resumed = new ReduceLROnPlateau(lrs, options);
        resumed.loadStateDict(decoded as unknown as PlateauStateDict);
        resumed.lrs = [...torch[c][resumeAt].lrs];
      }
    }
    reductions += lrs.filter((lr, i) => ours.lrs[i] !== lr).length;
  }
  assert.ok(reductions >= 4, `the sequence lowered the learning rates in only ${reductions} of the cases' rates`);
});

test('refused: factor 1 or more, min_lr list of the wrong length, unknown modes', () => {
  assert.throws(() => new ReduceLROnPlateau([1e-3], { factor: 1 }), /factor should be < 1.0/);
  assert.throws(() => new ReduceLROnPlateau([1e-3, 1e-3], { minLr: [0] }), /expected 2 min_lrs, got 1/);
  assert.throws(() => new ReduceLROnPlateau([1e-3], { mode: 'low' as never }), /mode low is unknown/);
  const s = new ReduceLROnPlateau([1e-3]);
  assert.throws(() => s.loadStateDict({ ...s.stateDict(), threshold_mode: 'pct' as never }), /threshold mode pct is unknown/);
});

test('the card recipe: halves the rate after 6 epochs without improvement, then waits another 6', () => {
  const s = new ReduceLROnPlateau([1e-3], { factor: 0.5, patience: 5 });
  const seen: number[] = [];
  for (const m of [1, 0.5, ...new Array(12).fill(0.5)]) {
    s.step(m);
    seen.push(s.lrs[0]);
  }
  assert.equal(seen, [1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4]);
});

test.run();
