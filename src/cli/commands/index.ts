import type { Command } from '../args.js';
import { convert } from './convert.js';
import { info } from './info.js';
import { inspect } from './inspect.js';
import { score } from './score.js';
import { embed, reconstruct } from './tensors.js';

export const commands: Command[] = [score, reconstruct, embed, inspect, convert, info];
