#!/usr/bin/env node
// `npm run bench`: builds what is stale, then runs every bench/*.bench.mjs in turn (each a
// child process printing one markdown section on stdout) and prints the sections.
//
//   npm run bench                      all benchmarks, full sizes
//   npm run bench -- --quick           small sizes only (each bench decides what that means)
//   npm run bench -- --only=routes     only bench/routes.bench.mjs (comma-separated names)
//   npm run bench -- --write           also rewrite BENCHMARKS.md: machine, and the sections of the
//                                      benchmarks that ran (others' sections are kept)
//
// Other options are passed through to every bench (e.g. --runs=5, --sizes=100000).
// Text between <!-- notes --> and <!-- /notes --> in BENCHMARKS.md is kept by --write.
'use strict';

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BENCH_DIR = __dirname;
const OUTPUT = path.join(ROOT, 'BENCHMARKS.md');
const NOTES = /<!-- notes -->[\s\S]*?<!-- \/notes -->/;

function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`[bench] ERROR: ${msg}\n`);
  process.exit(1);
}

function newestMtime(dir, test) {
  let newest = 0;
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, test));
    else if (test(entry.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/ from src/ with tsc when a source file is newer than everything in dist/. */
function ensureDist() {
  const distIndex = path.join(ROOT, 'dist', 'index.js');
  const srcNewest = newestMtime(path.join(ROOT, 'src'), (n) => n.endsWith('.ts'));
  const distTime = fs.existsSync(distIndex) ? newestMtime(path.join(ROOT, 'dist'), (n) => n.endsWith('.js')) : 0;
  if (distTime >= srcNewest) return;
  log('dist/ is stale: npx tsc -p tsconfig.build.json');
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  try {
    execFileSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // tsc still emits on type errors (noEmitOnError is off); go on if the entry point exists.
    const out = `${err.stdout || ''}${err.stderr || ''}`.trim().split('\n').slice(0, 10).join('\n');
    if (!fs.existsSync(distIndex)) fail(`tsc failed and dist/index.js is missing:\n${out}`);
    log(`WARNING: tsc reported errors (dist/ was emitted anyway; results may not match the tree):\n${out}`);
  }
}

/** The addon must load; building it is left to its owners (node-gyp rebuild wipes build/). */
function ensureAddon() {
  const probe = `
    const b = require('node-gyp-build')(${JSON.stringify(ROOT)});
    if (typeof b.Monitor !== 'function') throw new Error('the addon exports no Monitor');
  `;
  try {
    execFileSync(process.execPath, ['-e', probe], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const why = `${err.stderr || err.message}`.trim().split('\n').find((l) => /Error/.test(l)) || err.message;
    fail(
      `the native addon is missing or does not load (${why.trim()}).\n` +
        `  Build it first: npm_config_nodedir=${path.resolve(process.execPath, '../..')} npx node-gyp rebuild`,
    );
  }
  const binary = path.join(ROOT, 'build', 'Release', 'routeguard.node');
  const nativeNewest = newestMtime(path.join(ROOT, 'native'), (n) => /\.(cc|h)$/.test(n) && !n.startsWith('fuzz'));
  if (fs.existsSync(binary) && fs.statSync(binary).mtimeMs < nativeNewest) {
    log('WARNING: native/ has sources newer than build/Release/routeguard.node: results are for the older build');
  }
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = (/^model name\s*:\s*(.+)$/m.exec(cpuinfo) || [])[1] || os.cpus()[0]?.model || 'unknown CPU';
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // keep Node's count
  }
  const memGiB = (os.totalmem() / 2 ** 30).toFixed(0);
  return `${nproc} × ${model.trim()}, ${memGiB} GiB RAM, Linux ${os.release()}, Node ${process.version}`;
}

/** The commit measured, and whether the library's sources differed from it. */
function revision() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src', 'native', 'binding.gyp');
    return `commit ${head}${dirty ? ' with uncommitted changes in src/ or native/' : ''}`;
  } catch {
    return 'no git revision';
  }
}

function runBench(file, args) {
  return new Promise((resolve) => {
    const started = Date.now();
    const proc = spawn(process.execPath, [path.join(BENCH_DIR, file), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    const forward = (sig) => proc.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    proc.on('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      const seconds = (Date.now() - started) / 1000;
      if (code !== 0) {
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
        out += `\n\n**${file} failed** (${why}); see its stderr.\n`;
      }
      resolve({ file, out: out.trim(), ok: code === 0, seconds });
    });
  });
}

async function main() {
  const argv = process.argv.slice(2);
  const write = argv.includes('--write');
  const only = (argv.find((a) => a.startsWith('--only=')) || '').slice('--only='.length);
  const passThrough = argv.filter((a) => a !== '--write' && !a.startsWith('--only='));

  ensureDist();
  ensureAddon();
  const measured = revision();

  let files = fs.readdirSync(BENCH_DIR).filter((f) => f.endsWith('.bench.mjs')).sort();
  if (only) {
    const wanted = only.split(',');
    files = files.filter((f) => wanted.includes(f.replace(/\.bench\.mjs$/, '')));
  }
  if (files.length === 0) fail('no bench/*.bench.mjs matched');

  const started = Date.now();
  const results = [];
  for (const file of files) {
    log(`running ${file} ${passThrough.join(' ')}`);
    const r = await runBench(file, passThrough);
    log(`${file}: ${r.ok ? 'done' : 'FAILED'} in ${r.seconds.toFixed(0)} s`);
    results.push(r);
    process.stdout.write('\n');
  }
  log(`all benchmarks: ${((Date.now() - started) / 60000).toFixed(1)} min`);

  if (write) {
    const previous = fs.existsSync(OUTPUT) ? fs.readFileSync(OUTPUT, 'utf8') : '';
    const notes = (NOTES.exec(previous) || ['<!-- notes -->\n<!-- /notes -->'])[0];
    const date = new Date().toISOString().slice(0, 10);
    // Each bench's section sits between markers, so `--only` replaces just its own.
    const blocks = new Map();
    for (const m of previous.matchAll(/<!-- bench:([\w-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g)) blocks.set(m[1], m[0]);
    for (const r of results) {
      const name = r.file.replace(/\.bench\.mjs$/, '');
      const provenance =
        `_\`bench/${r.file}\`${passThrough.length ? ` ${passThrough.join(' ')}` : ''}: measured ${date}, ` +
        `${measured}, ${Math.round(r.seconds)} s._`;
      blocks.set(name, `<!-- bench:${name} -->\n${provenance}\n\n${r.out}\n<!-- /bench:${name} -->`);
    }
    const doc = [
      '# Benchmarks',
      '',
      `Machine: ${machine()}.`,
      'Reproduce: `npm run bench` as root (the route benchmark needs network namespaces; it creates and ' +
        'removes its own), `npm run bench -- --quick` for small sizes, `--only=routes` for one benchmark, ' +
        '`--write` to regenerate this file. Every figure in a section comes from the run its first line names.',
      '',
      notes,
      '',
      ...[...blocks.keys()].sort().map((k) => blocks.get(k) + '\n'),
    ].join('\n');
    fs.writeFileSync(OUTPUT, doc.replace(/\n{3,}/g, '\n\n'));
    log(`wrote ${path.relative(process.cwd(), OUTPUT)}`);
  }
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((err) => fail(err.stack || String(err)));
