// A queued job's inputs: the INPUT arguments enumerated once, at submit time, into a fixed list of
// samples cut into shards of consecutive samples. A shard is stored as runs (image files, rows of an
// .npy, members of an archive) so that it stays small and a worker can read exactly its samples.
// Directories are listed and archives read here, so the set of inputs cannot change under a job.

import { archiveImageNames, gatherSources, readNpySamples, type SampleShape } from '../node/input-reader.js';

export type ShardRun =
  /** Image files, paths as given (relative to the job's working directory when not absolute). */
  | { kind: 'images'; paths: string[] }
  /** Rows start .. start+count-1 of a float32 [N,C,H,W] .npy. */
  | { kind: 'npy'; path: string; start: number; count: number }
  /** Image members of a .tar/.tar.gz; `first` is the ordinal of members[0] among the archive's image members. */
  | { kind: 'archive'; path: string; first: number; members: string[] };

export interface Shard {
  index: number;
  /** Index of the shard's first sample in the whole job. */
  offset: number;
  count: number;
  runs: ShardRun[];
}

/** The name `rcae detect` prints in the `input` column for each sample of a run. */
export function runInputs(run: ShardRun): string[] {
  if (run.kind === 'images') return run.paths;
  if (run.kind === 'npy') return new Array<string>(run.count).fill(run.path);
  return run.members.map((m) => `${run.path}#${m}`);
}

export function shardInputs(shard: Shard): string[] {
  return shard.runs.flatMap(runInputs);
}

/** Cuts the inputs into shards of `shardSize` samples, in input order. */
export async function enumerateShards(args: readonly string[], shape: SampleShape, shardSize: number): Promise<Shard[]> {
  const shards: Shard[] = [];
  let current: Shard = { index: 0, offset: 0, count: 0, runs: [] };
  const room = () => shardSize - current.count;
  const close = () => {
    if (current.count === 0) return;
    shards.push(current);
    current = { index: shards.length, offset: current.offset + current.count, count: 0, runs: [] };
  };
  // Appends to the shard's last run when it is of the same source, else starts a run.
  const addImage = (path: string) => {
    const last = current.runs.at(-1);
    if (last?.kind === 'images') last.paths.push(path);
    else current.runs.push({ kind: 'images', paths: [path] });
    current.count++;
    if (room() === 0) close();
  };
  const addMember = (path: string, ordinal: number, member: string) => {
    const last = current.runs.at(-1);
    if (last?.kind === 'archive' && last.path === path) last.members.push(member);
    else current.runs.push({ kind: 'archive', path, first: ordinal, members: [member] });
    current.count++;
    if (room() === 0) close();
  };
  for (const source of gatherSources(args)) {
    if (source.kind === 'image') addImage(source.path);
    else if (source.kind === 'npy') {
      const rows = readNpySamples(source.path, shape).count;
      for (let start = 0; start < rows;) {
        const count = Math.min(room(), rows - start);
        current.runs.push({ kind: 'npy', path: source.path, start, count });
        current.count += count;
        start += count;
        if (room() === 0) close();
      }
    } else {
      (await archiveImageNames(source.path)).forEach((member, ordinal) => addMember(source.path, ordinal, member));
    }
  }
  close();
  return shards;
}
