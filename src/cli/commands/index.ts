import type { Command } from '../args.js';
import { bench } from './bench.js';
import { calibrate } from './calibrate.js';
import { convert } from './convert.js';
import { detect } from './detect.js';
import { doctor } from './doctor.js';
import { demo } from './demo.js';
import { evaluate } from './eval.js';
import { info } from './info.js';
import { inspect } from './inspect.js';
import { queue } from './queue.js';
import { score } from './score.js';
import { serve } from './serve.js';
import { tune } from './tune.js';
import { embed, reconstruct } from './tensors.js';
import { worker } from './worker.js';

export const commands: Command[] = [detect, score, calibrate, evaluate, reconstruct, embed, inspect, convert, info, doctor, bench, tune, queue, worker, serve, demo];
