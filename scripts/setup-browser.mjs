#!/usr/bin/env node
// `npm run setup:browser`: installs what the browser tests and WebGPU-without-a-GPU need, where a package manager
// allows it in one step — on Debian, `apt-get install chromium libvulkan1` (Chromium for the Playwright tests; its
// SwiftShader Vulkan driver gives Dawn, WebGPU in Node, an adapter on CPU-only machines; libvulkan1 is the Vulkan
// loader Dawn opens). Elsewhere it says what to install. `.ci/run` runs it too. Never needed for `--backend cpu`.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const VULKAN = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1'];
const PACKAGES = ['chromium', 'libvulkan1'];

const have = () => existsSync(CHROMIUM) && (process.platform !== 'linux' || VULKAN.some((p) => existsSync(p)));
if (have()) {
  console.log(`setup:browser: nothing to do (Chromium at ${CHROMIUM}, Vulkan loader present)`);
  process.exit(0);
}

const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
const debian = /^ID=debian$/m.test(osRelease) && commandExists('apt-get');
if (!debian) {
  console.error(
    'setup:browser: only Debian is set up automatically. Install a Chromium (or Chrome) and set CHROMIUM_PATH to its\n' +
      'executable for the browser tests; for WebGPU in Node without a GPU, a Vulkan driver (e.g. SwiftShader) and the\n' +
      'Vulkan loader. The tests skip, saying why, without them; --backend cpu needs nothing.',
  );
  process.exit(1);
}
const root = process.getuid?.() === 0;
if (!root && !commandExists('sudo')) {
  console.error(`setup:browser: run as root: apt-get install ${PACKAGES.join(' ')}`);
  process.exit(1);
}
const run = (args) => {
  const [cmd, ...rest] = root ? args : ['sudo', ...args];
  console.log(`$ ${[cmd, ...rest].join(' ')}`);
  execFileSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
};
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', ...PACKAGES]);
if (!have()) {
  console.error(`setup:browser: installed ${PACKAGES.join(' ')}, but Chromium is still not at ${CHROMIUM}`);
  process.exit(1);
}

function commandExists(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
