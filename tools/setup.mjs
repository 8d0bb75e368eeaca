// One idempotent setup step for `npm test`, `npm start` and `npm run bench` on a fresh machine:
// npm dependencies, a WebGPU-capable Vulkan driver when the system has none (Debian: lavapipe from
// bookworm-backports), then the TypeScript build. Fast when everything is already in place.
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

if (!depsInstalled()) run('npm', ['install', '--no-audit', '--no-fund']);
if (!vulkanDriverPresent()) {
  if (process.platform === 'linux' && existsSync('/etc/debian_version')) run('bash', [join(root, 'tools', 'setup-system.sh')]);
  else console.error('rcae setup: no WebGPU-capable Vulkan driver found; install one (Mesa >= 23 or a vendor driver)');
}
run(process.execPath, [join(root, 'tools', 'build.mjs')]);
