// ReduceLROnPlateau exactly as torch.optim.lr_scheduler has it (1.13 and 2.x agree on the
// arithmetic): after `patience` epochs without an improvement beyond `threshold`, every learning
// rate is multiplied by `factor` (not below its min_lr, and not when the change is eps or less),
// then `cooldown` epochs pass before bad epochs count again. The state dict has torch's keys, in
// torch's order, so that a resumed run (or PyTorch itself) picks up where this one stopped.
// Host-side, beside AdamW whose learning rate it sets.

export type PlateauMode = 'min' | 'max';
export type ThresholdMode = 'rel' | 'abs';

export interface PlateauOptions {
  mode?: PlateauMode;
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: ThresholdMode;
  cooldown?: number;
  /** One floor for every learning rate, or one per rate. */
  minLr?: number | readonly number[];
  eps?: number;
}

/** torch's ReduceLROnPlateau.state_dict(): its attributes but the optimizer, in definition order. */
export interface PlateauStateDict {
  factor: number;
  min_lrs: number[];
  patience: number;
  verbose: boolean;
  cooldown: number;
  cooldown_counter: number;
  mode: PlateauMode;
  threshold: number;
  threshold_mode: ThresholdMode;
  best: number;
  num_bad_epochs: number;
  mode_worse: number;
  eps: number;
  last_epoch: number;
  /** Present once step() has run. */
  _last_lr?: number[];
}

export class ReduceLROnPlateau {
  private state: PlateauStateDict;
  /** The current learning rates (torch's param_groups[i]['lr']). */
  lrs: number[];

  constructor(lrs: readonly number[], o: PlateauOptions = {}) {
    const factor = o.factor ?? 0.1;
    if (!(factor < 1)) throw new RangeError('ReduceLROnPlateau: factor should be < 1.0');
    const minLrs = Array.isArray(o.minLr) ? [...o.minLr] : lrs.map(() => (o.minLr as number | undefined) ?? 0);
    if (minLrs.length !== lrs.length) throw new RangeError(`ReduceLROnPlateau: expected ${lrs.length} min_lrs, got ${minLrs.length}`);
    const mode = o.mode ?? 'min';
    this.lrs = [...lrs];
    this.state = {
      factor, min_lrs: minLrs, patience: o.patience ?? 10, verbose: false, cooldown: o.cooldown ?? 0, cooldown_counter: 0,
      mode, threshold: o.threshold ?? 1e-4, threshold_mode: o.thresholdMode ?? 'rel',
      best: worstFor(mode), num_bad_epochs: 0, mode_worse: worstFor(mode), eps: o.eps ?? 1e-8, last_epoch: 0,
    };
    checkModes(this.state);
  }

  /** Records one epoch's metric (validation loss) and lowers the learning rates if it is time. */
  step(metric: number): void {
    const s = this.state;
    s.last_epoch += 1;
    if (this.isBetter(metric, s.best)) {
      s.best = metric;
      s.num_bad_epochs = 0;
    } else {
      s.num_bad_epochs += 1;
    }
    if (s.cooldown_counter > 0) {
      s.cooldown_counter -= 1;
      s.num_bad_epochs = 0; // bad epochs in cooldown do not count
    }
    if (s.num_bad_epochs > s.patience) {
      this.lrs = this.lrs.map((old, i) => {
        const next = Math.max(old * s.factor, s.min_lrs[i]);
        return old - next > s.eps ? next : old;
      });
      s.cooldown_counter = s.cooldown;
      s.num_bad_epochs = 0;
    }
    s._last_lr = [...this.lrs];
  }

  private isBetter(a: number, best: number): boolean {
    const { mode, threshold_mode: thresholdMode, threshold } = this.state;
    if (mode === 'min') return thresholdMode === 'rel' ? a < best * (1 - threshold) : a < best - threshold;
    return thresholdMode === 'rel' ? a > best * (threshold + 1) : a > best + threshold;
  }

  stateDict(): PlateauStateDict {
    const s = this.state;
    return { ...s, min_lrs: [...s.min_lrs], ...(s._last_lr ? { _last_lr: [...s._last_lr] } : {}) };
  }

  /** Takes torch's or rcae's state dict; the learning rates are the optimizer's, so set `lrs` too. */
  loadStateDict(state: PlateauStateDict): void {
    checkModes(state);
    if (state.min_lrs.length !== this.lrs.length) throw new RangeError(`ReduceLROnPlateau: state has ${state.min_lrs.length} min_lrs for ${this.lrs.length} learning rates`);
    // As torch's load_state_dict: mode_worse follows the mode.
    this.state = { ...state, min_lrs: [...state.min_lrs], mode_worse: worstFor(state.mode), ...(state._last_lr ? { _last_lr: [...state._last_lr] } : {}) };
  }
}

function worstFor(mode: PlateauMode): number {
  return mode === 'min' ? Infinity : -Infinity;
}

function checkModes(s: Pick<PlateauStateDict, 'mode' | 'threshold_mode'>): void {
  if (s.mode !== 'min' && s.mode !== 'max') throw new RangeError(`ReduceLROnPlateau: mode ${String(s.mode)} is unknown`);
  if (s.threshold_mode !== 'rel' && s.threshold_mode !== 'abs') throw new RangeError(`ReduceLROnPlateau: threshold mode ${String(s.threshold_mode)} is unknown`);
}
