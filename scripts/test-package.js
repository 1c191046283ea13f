#!/usr/bin/env node
'use strict';
/**
 * Tests the package as a user gets it: packs it (prepack requires the prebuilds), installs the
 * tarball into a fresh consumer project with --ignore-scripts and no compiler on PATH, and checks
 * that the prebuild (not some build/ directory) loads and works, that ESM, CommonJS and the
 * default export agree, that pnpm and Bun installs (scripts skipped) run from the prebuild, that
 * Bun's runtime gets ERR_UNSUPPORTED_RUNTIME instead of an abort and Deno runs the monitor, that
 * the public types compile with skipLibCheck false without ws, and that @arethetypeswrong/cli
 * finds no problem (node16 CJS and ESM, bundler).
 *
 *   node scripts/test-package.js [--report FILE]
 *
 * ROUTEGUARD_PREBUILDS (default linux-x64 here) says which prebuilds the packed tarball must hold.
 * Prints "ok - ..." / "not ok - ..." per check; --report writes { passed, failed, checks } as JSON.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const reportFile = process.argv.includes('--report') ? process.argv[process.argv.indexOf('--report') + 1] : null;
const required = process.env.ROUTEGUARD_PREBUILDS || 'linux-x64';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'routeguard-package-'));
const checks = [];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, ...options });
  return { status: result.status, out: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? result.error.message : ''}` };
}

/** Records one check; `fn` returns nothing (pass) or throws / returns a failure message. */
function check(name, fn) {
  let failure = null;
  try {
    const r = fn();
    if (typeof r === 'string') failure = r;
  } catch (err) {
    failure = err && err.message ? err.message : String(err);
  }
  checks.push({ name, ok: failure === null, failure });
  process.stdout.write(failure === null ? `ok - ${name}\n` : `not ok - ${name}\n  ${failure.split('\n').join('\n  ')}\n`);
  return failure === null;
}

function expectOk(result, what) {
  if (result.status !== 0) throw new Error(`${what} exited ${result.status}:\n${result.out.trim().slice(-3000)}`);
  return result.out;
}

/** A PATH with node, npm and sh (npm runs scripts with it) only: no cc, g++, make or python3. */
function compilerFreePath() {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const npmCli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  fs.symlinkSync(fs.realpathSync(npmCli), path.join(bin, 'npm'));
  return bin;
}

function env(pathValue) {
  const { ROUTEGUARD_ADDON_DIR: _dir, PREBUILDS_ONLY: _only, npm_config_nodedir: _nd, ...rest } = process.env;
  return { ...rest, PATH: pathValue };
}

// --- packing ------------------------------------------------------------------------------------
let tarball = null;
check('npm pack refuses when a required prebuild is missing', () => {
  const r = run('npm', ['pack', '--pack-destination', work], {
    cwd: root,
    env: { ...process.env, ROUTEGUARD_PREBUILDS: `${required},linux-riscv64` },
  });
  if (r.status === 0) return 'npm pack succeeded without prebuilds/linux-riscv64';
  if (!/not packing: prebuilds\/linux-riscv64\/routeguard\.glibc\.node is missing/.test(r.out)) return `unexpected output:\n${r.out}`;
  if (fs.readdirSync(work).some((f) => f.endsWith('.tgz'))) return 'a tarball was written anyway';
});

check(`npm pack packs the prebuilds (${required})`, () => {
  const out = expectOk(run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    env: { ...process.env, ROUTEGUARD_PREBUILDS: required },
  }), 'npm pack');
  // Lifecycle scripts print around npm's JSON: take the array npm writes on lines of its own.
  const info = JSON.parse(/^\[$[\s\S]*?^\]$/m.exec(out)[0])[0];
  tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path);
  for (const target of required.split(',')) {
    if (!files.includes(`prebuilds/${target}/routeguard.glibc.node`)) return `no prebuilds/${target} in the tarball`;
  }
  const unwanted = files.filter((f) => f.startsWith('build/') || f.endsWith('.map') || f.startsWith('src/') || f.startsWith('test/'));
  if (unwanted.length) return `the tarball ships ${unwanted.join(', ')}`;
  process.stdout.write(`  ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${info.entryCount} files\n`);
});
if (!tarball) finish();

// --- install without scripts and without a compiler ----------------------------------------------
const consumer = path.join(work, 'consumer');
const bin = compilerFreePath();
const cleanEnv = env(bin);
fs.mkdirSync(consumer);
fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));

check('no compiler, make or python3 on the test PATH', () => {
  const found = ['cc', 'gcc', 'c++', 'g++', 'make', 'python3'].filter(
    (t) => run('/bin/sh', ['-c', `command -v ${t}`], { env: cleanEnv }).status === 0,
  );
  if (found.length) return `found ${found.join(', ')}`;
});

const installed = check('npm install --ignore-scripts of the tarball into a fresh project', () => {
  const typesNode = `@types/node@${require('@types/node/package.json').version}`;
  expectOk(run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball, typesNode], {
    cwd: consumer,
    env: cleanEnv,
  }), 'npm install');
  const pkg = path.join(consumer, 'node_modules', 'routeguard');
  if (fs.existsSync(path.join(pkg, 'build'))) return 'the installed package has a build/ directory';
  if (fs.existsSync(path.join(consumer, 'node_modules', 'ws'))) return 'ws was installed (it is an optional peer)';
});
if (!installed) finish();

const pkgDir = path.join(consumer, 'node_modules', 'routeguard');
const nodeIn = (args, extra = {}) => run(process.execPath, args, { cwd: consumer, env: cleanEnv, ...extra });

check('node-gyp-build loads the shipped prebuild, in a private namespace: start(), address event, lookupRoute, dump --json', () => {
  // unshare -n: a namespace of our own; the prebuild must be what is mapped, not any build/ on disk.
  const out = expectOk(run('/usr/bin/unshare', ['-n', process.execPath, path.join(root, 'scripts', 'smoke.js')], {
    cwd: consumer,
    env: cleanEnv,
  }), 'smoke test');
  const result = JSON.parse(out.trim().split('\n').pop());
  const want = path.join(fs.realpathSync(pkgDir), 'prebuilds', `linux-${process.arch}`, 'routeguard.glibc.node');
  if (result.addon !== want) return `loaded ${result.addon}, expected ${want}`;
  process.stdout.write(`  ${out.trim()}\n`);
});

check('the install script, run without a compiler, takes the prebuild and builds nothing', () => {
  expectOk(run('npm', ['rebuild', 'routeguard', '--foreground-scripts'], { cwd: consumer, env: cleanEnv }), 'npm rebuild routeguard');
  if (fs.existsSync(path.join(pkgDir, 'build'))) return 'the install script created build/ (it compiled)';
});

check('where no prebuild fits (musl, other arches), the install script compiles binding.gyp and that build loads', () => {
  // A copy of the installed package without its prebuilds, rebuilt with the machine's compilers.
  const fallback = path.join(work, 'fallback');
  fs.cpSync(consumer, fallback, { recursive: true, verbatimSymlinks: true });
  const pkg = path.join(fallback, 'node_modules', 'routeguard');
  fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true });
  const withCompilers = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir || path.resolve(process.execPath, '..', '..') };
  expectOk(run('npm', ['rebuild', 'routeguard', '--foreground-scripts'], { cwd: fallback, env: withCompilers }), 'npm rebuild routeguard');
  const out = expectOk(run('/usr/bin/unshare', ['-n', process.execPath, path.join(root, 'scripts', 'smoke.js')], {
    cwd: fallback,
    env: withCompilers,
  }), 'smoke test of the compiled addon');
  const loaded = JSON.parse(out.trim().split('\n').pop()).addon;
  const want = path.join(fs.realpathSync(pkg), 'build', 'Release', 'routeguard.node');
  if (loaded !== want) return `loaded ${loaded}, expected ${want}`;
});

check('routeguard --version prints the package version', () => {
  const out = expectOk(nodeIn([path.join(pkgDir, 'bin', 'routeguard.js'), '--version']), 'routeguard --version');
  const version = require(path.join(root, 'package.json')).version;
  if (out.trim() !== version) return `printed "${out.trim()}", expected ${version}`;
});

check('ESM and CommonJS share one class identity; the default export is the module', () => {
  const script = `
    import routeguard, { NetlinkMonitor, ConnectionGuard } from 'routeguard';
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)('routeguard');
    const same = NetlinkMonitor === cjs.NetlinkMonitor && ConnectionGuard === cjs.ConnectionGuard &&
      routeguard.NetlinkMonitor === NetlinkMonitor && routeguard === cjs && cjs.default === cjs;
    const err = new routeguard.InvalidArgumentError('x');
    console.log(same && err instanceof cjs.RouteguardError ? 'same' : 'different');`;
  const out = expectOk(nodeIn(['--input-type=module', '-e', script]), 'ESM/CJS check');
  if (out.trim() !== 'same') return `ESM and CommonJS disagree: ${out.trim()}`;
});

// --- other package managers and runtimes ------------------------------------------------------
// Pinned, fetched by `npm exec` (npm's cache): pnpm 10 and Bun skip the install script, so what
// they install must run from the prebuild; Bun's runtime lacks uv_poll (the monitor must refuse,
// not abort the process); Deno's Node layer has it and runs the monitor.
const PNPM = 'pnpm@10.34.9';
const BUN = 'bun@1.4.5';
const DENO = 'deno@2.9.6';
/** iproute2 by absolute path (the test PATH has only node, npm and sh). */
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => fs.existsSync(p)) ?? 'ip';

/** A fresh consumer project in `dir` with the tarball installed by `install` (argv after the tool's name). */
function consumerWith(dir, tool, pkgSpec, install) {
  const project = path.join(work, dir);
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `consumer-${dir}`, version: '1.0.0', private: true }));
  const out = expectOk(run('npm', ['exec', '--yes', `--package=${pkgSpec}`, '--', tool, ...install], { cwd: project, env: cleanEnv }), `${tool} ${install.join(' ')}`);
  if (fs.existsSync(path.join(project, 'node_modules', 'routeguard', 'build'))) throw new Error(`${tool} ran the install script (build/ exists)`);
  return { project, out };
}

/** Runs the smoke test (own namespace) with node in `project`; fails unless the shipped prebuild is what was mapped. */
function smokeIn(project) {
  const out = expectOk(run('/usr/bin/unshare', ['-n', process.execPath, path.join(root, 'scripts', 'smoke.js')], { cwd: project, env: cleanEnv }), 'smoke test');
  const result = JSON.parse(out.trim().split('\n').pop());
  const pkg = fs.realpathSync(path.join(project, 'node_modules', 'routeguard'));
  const want = path.join(pkg, 'prebuilds', `linux-${process.arch}`, 'routeguard.glibc.node');
  if (result.addon !== want) throw new Error(`loaded ${result.addon}, expected ${want}`);
}

/** The absolute path of a tool's executable from `npm exec` (so it can run where npm cannot fetch). */
function toolPath(project, pkgSpec, tool) {
  const out = expectOk(run('npm', ['exec', '--yes', `--package=${pkgSpec}`, '--', '/bin/sh', '-c', `command -v ${tool}`], { cwd: project, env: cleanEnv }), `locating ${tool}`);
  return out.trim().split('\n').pop();
}

check(`${PNPM} add of the tarball (build scripts skipped) runs from the prebuild through pnpm's linked store`, () => {
  const { project, out } = consumerWith('pnpm', 'pnpm', PNPM, ['add', tarball]);
  if (!/Ignored build scripts: routeguard/.test(out)) return `pnpm did not say it skipped routeguard's install script:\n${out.trim().slice(-1500)}`;
  smokeIn(project);
});

let bunProject = null;
check(`${BUN} add of the tarball (postinstall blocked) runs under node from the prebuild`, () => {
  const { project, out } = consumerWith('bun', 'bun', BUN, ['add', tarball]);
  if (!/Blocked 1 postinstall/.test(out)) return `bun did not say it blocked routeguard's postinstall:\n${out.trim().slice(-1500)}`;
  bunProject = project;
  smokeIn(project);
});

check(`under Bun's runtime (${BUN}), start() rejects with ERR_UNSUPPORTED_RUNTIME and the process lives on; the guard is inert`, () => {
  if (!bunProject) return 'no Bun project (the check above failed)';
  const script = `
    const rg = require('routeguard');
    (async () => {
      const m = new rg.NetlinkMonitor({ routes: 'events' });
      const lookup = m.lookupRoute({ to: '127.0.0.1' });  // a lookup socket of its own: no libuv
      const err = await m.start().then(() => null, (e) => e);
      const guard = new rg.ConnectionGuard({ source: m });
      console.log(JSON.stringify({ code: err && err.code, message: err && err.message, closed: m.isClosed,
        inert: guard.inert, lookup: lookup.ok && lookup.route.type }));
      guard.close();
    })();`;
  const bun = toolPath(bunProject, BUN, 'bun');
  const out = expectOk(run(bun, ['-e', script], { cwd: bunProject, env: cleanEnv }), 'bun -e');
  const r = JSON.parse(out.trim().split('\n').pop());
  if (r.code !== 'ERR_UNSUPPORTED_RUNTIME' || !/run the application with `node`/.test(r.message)) return `start() gave ${r.code}: ${r.message}`;
  if (!r.closed || !r.inert || r.lookup !== 'local') return `closed ${r.closed}, inert ${r.inert}, lookup ${r.lookup}`;
  process.stdout.write(`  ${r.code}: ${r.message.slice(0, 90)}...\n`);
});

check(`under Deno (${DENO}), with the npm install above, the monitor starts, hears an address added in its own namespace and looks up a route`, () => {
  const script = `
    import { createRequire } from 'node:module';
    import { execFileSync } from 'node:child_process';
    const rg = createRequire(import.meta.url)('routeguard');
    const m = await new rg.NetlinkMonitor().start();
    const heard = new Promise((resolve) => m.on('event', (e) => {
      if (e.type === 'address' && e.action === 'added' && e.address.address === '192.0.2.1') resolve(e);
    }));
    execFileSync('${IP}', ['link', 'set', 'lo', 'up']);
    execFileSync('${IP}', ['address', 'add', '192.0.2.1/24', 'dev', 'lo']);
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no address event in 10 s')), 10000));
    const e = await Promise.race([heard, timeout]);
    const lookup = m.lookupRoute({ to: '192.0.2.1' });
    m.close();
    console.log(JSON.stringify({ index: e.address.index, lookup: lookup.ok && lookup.route.type }));`;
  const deno = toolPath(consumer, DENO, 'deno');
  const file = path.join(consumer, 'deno-smoke.mjs');
  fs.writeFileSync(file, script);
  const out = expectOk(run('/usr/bin/unshare', ['-n', deno, 'run', '-A', file], { cwd: consumer, env: { ...cleanEnv, NO_COLOR: '1' } }), 'deno run');
  const r = JSON.parse(out.trim().split('\n').pop());
  if (r.lookup !== 'local') return `lookupRoute(192.0.2.1) gave ${r.lookup}`;
  process.stdout.write(`  ${out.trim().split('\n').pop()}\n`);
});

// --- types ---------------------------------------------------------------------------------------
const TS_CONSUMER = {
  'cjs.cts': `import routeguard = require('routeguard');
import type { WsClient } from 'routeguard';
const m: routeguard.NetlinkMonitor = new routeguard.NetlinkMonitor();
const s: WsClient | null = null;
void m; void s;
`,
  'esm.mts': `import routeguard, { NetlinkMonitor, ConnectionGuard, ReconnectingWebSocket, type ReconnectingWebSocketOptions } from 'routeguard';
const m: NetlinkMonitor = new routeguard.NetlinkMonitor();
const g = new ConnectionGuard({ source: m, inert: true });
const o: Partial<ReconnectingWebSocketOptions> = { guard: g };
void ReconnectingWebSocket; void o;
`,
};

const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const errorLines = (out) => out.split('\n').filter((l) => /error TS\d+:/.test(l)).map((l) => l.slice(l.indexOf('error TS')).trim());

/**
 * Type errors the repository's own sources have (`npm run typecheck`) reach the .d.ts too; they
 * are that gate's to report. Here only errors the packaging adds count (a missing module such as
 * 'ws', an entry point that does not resolve, a default export that does not exist).
 */
let sourceErrors = null;
function knownSourceErrors() {
  if (!sourceErrors) sourceErrors = new Set(errorLines(run(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], { cwd: root }).out));
  return sourceErrors;
}

function compile(name, files, compilerOptions) {
  const dir = path.join(consumer, `ts-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const file of files) fs.writeFileSync(path.join(dir, file), TS_CONSUMER[file]);
  const tsconfig = {
    compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, types: ['node'], target: 'ES2022', ...compilerOptions },
    files,
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  const r = nodeIn([tsc, '-p', dir]);
  if (r.status === 0) return;
  const errors = errorLines(r.out);
  const added = errors.filter((e) => !knownSourceErrors().has(e));
  if (added.length || errors.length === 0) return `tsc (${name}) exited ${r.status}:\n${r.out.trim()}`;
  process.stdout.write(`  (${errors.length} error(s) the sources' own typecheck also reports: npm run typecheck)\n`);
}

check('public types compile with skipLibCheck false and no ws installed (node16, CJS and ESM)', () =>
  compile('node16', ['cjs.cts', 'esm.mts'], { module: 'node16', moduleResolution: 'node16' }));
check('public types compile with skipLibCheck false and no ws installed (bundler)', () =>
  compile('bundler', ['esm.mts'], { module: 'esnext', moduleResolution: 'bundler' }));

check('@arethetypeswrong/cli: no problems for node16 (CJS, ESM) and bundler', () => {
  const attwPackage = require.resolve('@arethetypeswrong/cli/package.json', { paths: [root] });
  const attw = path.join(path.dirname(attwPackage), require(attwPackage).bin.attw);
  const out = expectOk(run(process.execPath, [attw, tarball, '--profile', 'node16', '--format', 'ascii'], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  }), 'attw');
  if (!/No problems found/.test(out)) return out;
  process.stdout.write(`  attw: ${out.match(/No problems found.*/)[0].trim()}\n`);
});

finish();

function finish() {
  const passed = checks.filter((c) => c.ok).length;
  const failed = checks.length - passed;
  if (reportFile) fs.writeFileSync(reportFile, JSON.stringify({ passed, failed, checks }, null, 2));
  process.stdout.write(`package checks: ${passed} passed, ${failed} failed\n`);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
