// When Dawn's native binding (npm `webgpu`'s dawn.node) cannot be loaded on this system, nothing in
// rcae can run, `rcae doctor` included; say so in one line instead of a stack trace.

/** The platforms npm `webgpu` 0.6 ships a dawn.node for. */
const PREBUILT = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];

/** The line to print for a failure to load the binding, or undefined for any other error. */
export function bindingFailure(err: unknown, platform = `${process.platform}-${process.arch}`): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'ERR_DLOPEN_FAILED' && !/dawn\.node/.test(err.message)) return undefined;
  const reason = err.message.split('\n')[0];
  const where = PREBUILT.includes(platform) ? `on this ${platform} system` : `on ${platform}, for which it has no prebuilt binary (it has: ${PREBUILT.join(', ')})`;
  return `rcae: the WebGPU binding (npm webgpu's dawn.node) does not load ${where}: ${reason}`;
}
