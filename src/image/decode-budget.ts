// A bound on the bytes that image decoding holds at once, whatever the number of images in flight:
// each decode takes its share (the encoded bytes, then the decoded pixels once its header says how
// many) before holding them, and gives it back when its tensor is made. Shares are taken one decode
// at a time, in order: a decode that has started to take waits only for decodes that hold all they
// will ever take, which always finish, so waiting can never deadlock. One decode larger than the
// whole budget runs alone (the per-image limits bound it).

import { InternalError } from '../errors.js';

/** One decode's share of a DecodeBudget. */
export interface Holding {
  /** Waits until `bytes` more fit in the budget (or nothing else is held) and takes them. */
  grow(bytes: number): Promise<void>;
  /** This decode takes nothing more: the next one may start taking. */
  settle(): void;
  /** Gives back all but `bytes` of the share (the encoded input, once decoded). */
  keep(bytes: number): void;
  /** Gives the whole share back (settling first); safe to call more than once. */
  release(): void;
}

/**
 * 384 MiB: with the ~350 MiB a scoring process holds besides (model, Dawn, Node), the CLI stays
 * within 1 GiB whatever it decodes. One 8192 x 8192 RGB image read from a 200 MB file costs 392 MiB
 * and so decodes alone; a 4000 x 3000 photo costs about 40 MiB, so nine decode at once.
 */
export const DEFAULT_DECODE_BUDGET_BYTES = 384 << 20;

export class DecodeBudget {
  private used = 0;
  private highest = 0;
  /** The one holding waiting for room, woken when shares are given back. */
  private wake: (() => void) | undefined;
  /** Settles when the latest holding has settled: the next one starts taking then. */
  private turn: Promise<void> = Promise.resolve();

  constructor(readonly limit: number = DEFAULT_DECODE_BUDGET_BYTES) {}

  /** Bytes held by decodes now. */
  get inUse(): number {
    return this.used;
  }

  /** The most bytes held at once so far. */
  get peak(): number {
    return this.highest;
  }

  /** A new holding of 0 bytes, once every earlier holding has settled. */
  async open(): Promise<Holding> {
    const previous = this.turn;
    let settled!: () => void;
    this.turn = new Promise<void>((resolve) => (settled = resolve));
    await previous;
    let held = 0;
    let open = true;
    const settle = () => {
      if (open) settled();
      open = false;
    };
    return {
      grow: async (bytes) => {
        if (!open) throw new InternalError('decode budget: a settled holding cannot grow');
        while (this.used !== held && this.used + bytes > this.limit) await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        this.used += bytes;
        this.highest = Math.max(this.highest, this.used);
        held += bytes;
      },
      settle,
      keep: (bytes) => {
        const given = Math.max(0, held - bytes);
        this.used -= given;
        held -= given;
        this.wake?.();
      },
      release: () => {
        settle();
        this.used -= held;
        held = 0;
        this.wake?.();
      },
    };
  }
}
