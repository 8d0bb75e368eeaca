// SHA-256 of a file, streamed (checkpoints can be gigabytes): provenance in thresholds and converted
// files, and a queue worker's check of a job's model. The path may come from a stranger (a forged
// job names /dev/zero or a FIFO): only a regular file within the checkpoint limit is opened, without
// blocking, and read no further than its size when opened.
import { createHash } from 'node:crypto';
import { openRegularFile } from '../io/regular-file.js';
import { MAX_CHECKPOINT_BYTES } from '../weights/checkpoint.js';

export async function sha256File(path: string, what = 'a model', maxBytes = MAX_CHECKPOINT_BYTES): Promise<string> {
  const { handle, size } = await openRegularFile(path, maxBytes, what);
  const hash = createHash('sha256');
  try {
    if (size > 0) for await (const chunk of handle.createReadStream({ start: 0, end: size - 1, autoClose: false })) hash.update(chunk as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
