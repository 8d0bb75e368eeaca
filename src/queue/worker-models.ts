// The models a worker has opened, by file hash: each job names its model by path and SHA-256, and
// the file is hashed (through a check that it is a regular file within the checkpoint limit, so a
// job naming /dev/zero or a FIFO fails instead of reading forever) before it is loaded.

import { InputError } from '../errors.js';
import { loadModel, type LoadOptions, type Model } from '../model.js';
import type { JobSpec } from './store.js';

/** SHA-256 of a regular file; rejects with one line naming the path when it is not one. */
export type HashFile = (path: string) => Promise<string>;

/** Models by file hash, loaded on first use; the GPU runs one batch at a time whatever the concurrency. */
export class WorkerModels {
  private readonly loaded = new Map<string, Promise<Model>>();
  /** The models whose load has completed, for counting their buffers without waiting on a load. */
  private readonly ready = new Set<Model>();
  private gpuTurn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly modelOptions: LoadOptions,
    private readonly hashFile: HashFile,
  ) {}

  async get(spec: JobSpec): Promise<Model> {
    let model = this.loaded.get(spec.modelSha256);
    if (!model) {
      model = (async () => {
        const sha = await this.hashFile(spec.model);
        if (sha !== spec.modelSha256) throw new InputError(`${spec.model}: not the model the job was submitted with (sha256 ${sha.slice(0, 12)}…, expected ${spec.modelSha256.slice(0, 12)}…)`);
        const opened = await loadModel(spec.model, this.modelOptions);
        this.ready.add(opened);
        return opened;
      })();
      this.loaded.set(spec.modelSha256, model);
      // A failed load is retried on the next shard (the file may appear on a lagging shared filesystem).
      model.catch(() => this.loaded.delete(spec.modelSha256));
    }
    return model;
  }

  /** Runs `work` when the GPU is free. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.gpuTurn.then(work, work);
    this.gpuTurn = run.catch(() => {});
    return run;
  }

  /** GPU buffers held by the models loaded so far. */
  liveBuffers(): number {
    let n = 0;
    for (const m of this.ready) n += m.gpu.liveBuffers;
    return n;
  }

  async dispose(): Promise<void> {
    for (const m of this.loaded.values()) (await m.catch(() => undefined))?.dispose();
    this.loaded.clear();
    this.ready.clear();
  }
}
