// One idempotent setup step for `npm test`, `npm start` and `npm run bench` on a fresh machine:
// npm dependencies, a WebGPU-capable Vulkan driver when the system has none (Debian: lavapipe from
// bookworm-backports), Chromium for the browser tests, redis-server for the queue tests, under CI
// (or RCAE_SETUP_TORCH=1) Debian's PyTorch as the tests' reference, then the build. Fast when everything is already in place.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

function depsInstalled() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return false;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const names = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];
  if (!names.every((n) => existsSync(join(root, 'node_modules', n, 'package.json')))) return false;
  return !existsSync(lock) || statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
}

function vulkanDriverPresent() {
  if (process.platform !== 'linux') return true;
  try {
    const v = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    execFileSync('dpkg', ['--compare-versions', v, 'ge', '23'], { stdio: 'ignore' });
    return true;
  } catch {
    // No suitable Mesa: a vendor driver may still be there (an ICD manifest other than Mesa's).
    const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
    return dirs.some((d) => existsSync(d) && execFileSync('ls', [d], { encoding: 'utf8' }).split('\n').some((f) => /nvidia|amd|intel_icd|radeon/i.test(f) && !/lvp/.test(f)));
  }
}

// PyTorch is a test-time reference only (parity goldens, the ONNX cross-check, the PyTorch peer):
// CI installs it so that those tests run instead of skipping; nothing at run time needs it.
function torchPresent() {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch, numpy, PIL'], { stdio: 'ignore', env });
    return true;
  } catch {
    return false;
  }
}

function redisServerPresent() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const onDebian = process.platform === 'linux' && existsSync('/etc/debian_version');
const wantTorch = Boolean(process.env.CI) || process.env.RCAE_SETUP_TORCH === '1';
// onnxruntime-node (a benchmark-peer devDependency) would otherwise try to download CUDA provider
// binaries from outside the npm registry at install time; its bundled CPU binaries are all rcae
// uses. Its install script reads this variable (an .npmrc key would make npm warn on every command).
if (!depsInstalled()) execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
const needDriver = !vulkanDriverPresent();
const needTorch = wantTorch && !torchPresent();
const needChromium = process.platform === 'linux' && !existsSync(process.env.RCAE_CHROMIUM ?? '/usr/bin/chromium');
const needRedis = !redisServerPresent();
if (needDriver || needTorch || needChromium || needRedis) {
  if (onDebian) execFileSync('bash', [join(root, 'tools', 'setup-system.sh')], { cwd: root, stdio: 'inherit', env: { ...process.env, RCAE_SETUP_TORCH: needTorch ? '1' : '0' } });
  else if (needDriver) console.error('rcae setup: no WebGPU-capable Vulkan driver found; install one (Mesa >= 23 or a vendor driver)');
  else if (needTorch) console.error('rcae setup: PyTorch (the tests\' reference) is not installed; the tests that need it will be skipped');
  else if (needChromium) console.error('rcae setup: Chromium not found; the browser tests (test/web) will be skipped: install it or set RCAE_CHROMIUM');
  else console.error('rcae setup: redis-server not found; the queue tests (test/queue) will be skipped: install it (Debian: apt-get install redis-server)');
}
run(process.execPath, [join(root, 'tools', 'build.mjs')]);
