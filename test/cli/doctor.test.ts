// `rcae doctor` on this machine, and on the same machine with the Vulkan loader pointed at driver
// files that do not work (what a machine without a driver looks like to Dawn): it must name the
// problem and the command that installs a driver, and every command's no-adapter error points at it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bindingFailure } from '../../src/cli/binding-failure.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const onLinux = process.platform === 'linux';
const osId = onLinux ? /^ID=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : undefined;

test('with a working driver: exit 0, the adapters Dawn sees and the driver files behind them', () => {
  const r = rcae(['doctor', '--json']);
  assert.is(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.ok(d.adapters.length >= 1);
  assert.is(d.chosen.index, (d.adapters.find((a: { isSoftware: boolean }) => !a.isSoftware) ?? d.adapters[0]).index);
  assert.is(d.fix, undefined);
  if (onLinux) {
    assert.ok(d.vulkanLoader, 'a loader found');
    assert.ok(d.vulkanDrivers.some((f: { problem?: string }) => !f.problem), 'a usable driver file listed');
  }
  const text = rcae(['doctor']);
  assert.is(text.status, 0);
  assert.match(text.stdout, /^ok: rcae runs on adapter \d+/m);
});

test('without a usable driver: exit 1, the problem, the install command; commands point at doctor', () => {
  if (!onLinux) return;
  const dir = tempDir();
  const missingLibrary = join(dir, 'gone_icd.json');
  writeFileSync(missingLibrary, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: join(dir, 'libvulkan_gone.so'), api_version: '1.3.0' } }));
  const env = { VK_DRIVER_FILES: `${missingLibrary}:${join(dir, 'absent_icd.json')}`, VK_ICD_FILENAMES: '' };
  const r = rcae(['doctor', '--json'], env);
  assert.is(r.status, 1, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.adapters, []);
  assert.equal(d.vulkanDrivers.map((f: { file: string; problem: string }) => [f.file, f.problem]), [
    [missingLibrary, `its library ${join(dir, 'libvulkan_gone.so')} is missing`],
    [join(dir, 'absent_icd.json'), 'no such file'],
  ]);
  assert.match(d.problems[0], /no WebGPU adapter/);
  if (osId === 'debian' || osId === 'ubuntu') assert.match(d.fix, /apt-get install .*mesa-vulkan-drivers/);
  else assert.ok(d.fix, 'a fix is named');

  const text = rcae(['doctor'], env);
  assert.match(text.stdout, /^problem: Dawn sees no WebGPU adapter/m);
  assert.match(text.stdout, /^fix: /m);

  const score = rcae(['score', join(repoRoot, 'samples')], env);
  assert.is(score.status, 1);
  assert.match(score.stderr.trim().split('\n').pop()!, /^rcae score: no WebGPU adapter found .*`rcae doctor`/);
});

test('a binding that does not load is one line naming the platform; other errors pass through', () => {
  const dlopen = Object.assign(new Error('/x/node_modules/webgpu/dist/linux-x64/dawn.node: cannot open shared object file\nmore'), { code: 'ERR_DLOPEN_FAILED' });
  assert.is(bindingFailure(dlopen, 'linux-x64'), "rcae: the WebGPU binding (npm webgpu's dawn.node) does not load on this linux-x64 system: /x/node_modules/webgpu/dist/linux-x64/dawn.node: cannot open shared object file");
  assert.match(bindingFailure(new Error("Cannot find module '/x/dist/freebsd-x64/dawn.node'"), 'freebsd-x64')!, /on freebsd-x64, for which it has no prebuilt binary \(it has: linux-x64, /);
  assert.is(bindingFailure(new TypeError('x is not a function'), 'linux-x64'), undefined);
});

test.run();
