// The test-time PyTorch reference: Debian's python3-torch run as /usr/bin/python3 with the OpenBLAS
// overrides of this machine removed (they slow or break the reference). Never needed at run time.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const python = '/usr/bin/python3';

export const pythonEnv: NodeJS.ProcessEnv = { ...process.env };
delete pythonEnv.OPENBLAS_CORETYPE;
delete pythonEnv.OPENBLAS_L2_SIZE;

/** null when torch, numpy and PIL import; otherwise why not (the reason a skip prints). */
export const torchMissing: string | null =
  existsSync(python) && spawnSync(python, ['-c', 'import torch, numpy, PIL'], { env: pythonEnv }).status === 0
    ? null
    : 'python3-torch is not installed (apt-get install python3-torch python3-numpy python3-pil; tools/setup.mjs does it when CI is set)';
