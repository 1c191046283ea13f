/**
 * RouteLookup::GetMany (native/route_lookup.cc) with a send buffer smaller than a chunk of
 * requests: netlink_sendmsg refuses a whole sendmsg() past sk_sndbuf - 32 (EMSGSIZE), which
 * failed all 1024 lookups of a batch on hosts with net.core.wmem_default below ~100 KB. The
 * C++ class itself is built here with the real sources (and ASan/UBSan) and run in a
 * namespace of this test's own: the send buffer cannot be set on the addon's socket from JS.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createNetns, describeNetns, type NetNs } from '../helpers/netns';

const root = path.resolve(__dirname, '..', '..');
const native = path.join(root, 'native');
/** Without LD_PRELOAD: the ASan run (test:asan) must not preload its runtime into g++. */
const { LD_PRELOAD: _preload, ...TOOL_ENV } = process.env;

/** Node's headers (uv.h): where node-gyp built the addon from, else the usual places. */
function nodeHeaders(): string {
  const candidates: string[] = [];
  try {
    const gypi = readFileSync(path.join(root, 'build', 'config.gypi'), 'utf8');
    const dir = /"nodedir":\s*"([^"]+)"/.exec(gypi)?.[1];
    if (dir) candidates.push(path.join(dir, 'include', 'node'));
  } catch {
    // not built with node-gyp here
  }
  if (process.env.npm_config_nodedir) candidates.push(path.join(process.env.npm_config_nodedir, 'include', 'node'));
  candidates.push(path.resolve(process.execPath, '..', '..', 'include', 'node'));
  candidates.push(path.join(os.homedir(), '.cache', 'node-gyp', process.versions.node, 'include', 'node'));
  const found = candidates.find((d) => existsSync(path.join(d, 'uv.h')));
  if (!found) throw new Error(`no Node headers with uv.h in ${candidates.join(', ')}: run npm install (node-gyp fetches them) first`);
  return found;
}

describeNetns('RouteLookup with a small send buffer (C++, ASan/UBSan)', () => {
  let dir: string;
  let program: string;
  let ns: NetNs;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rg-lookup-sndbuf-'));
    program = path.join(dir, 'lookup-sndbuf');
    const sources = ['route_lookup.cc', 'netlink_socket.cc', 'netlink_parse.cc', 'record_encoder.cc'].map((f) => path.join(native, f));
    execFileSync('g++', [
      '-std=c++17', '-O0', '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
      '-I', native, '-I', nodeHeaders(),
      path.join(__dirname, 'lookup-sndbuf.cc'), ...sources, '-x', 'c', path.join(__dirname, 'uv-stub.c'),
      '-o', program,
    ], { stdio: 'pipe', env: TOOL_ENV });
    ns = createNetns('rgsnd');
    ns.exec('ip', ['link', 'set', 'lo', 'up']);
  }, 180_000);

  afterAll(() => {
    ns?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers all 1024 lookups of a batch: the buffer is raised at construction, and chunks halve on EMSGSIZE after', () => {
    const out = JSON.parse(ns.exec(program, ['20000']));
    // SO_SNDBUF 20000 gives a 40000-byte buffer: 1024 requests of 84 bytes do not fit one sendmsg().
    expect(out.before).toBe(40000);
    // The lookup raised it for its chunk (root: SO_SNDBUFFORCE)...
    expect(out.taken).toBeGreaterThanOrEqual(1024 * 128);
    expect({ answered: out.first, refused: out.firstEmsgsize }).toEqual({ answered: 1024, refused: 0 });
    // ...and a buffer shrunk under it afterwards costs a smaller chunk, not the batch.
    expect(out.after).toBe(40000);
    expect({ answered: out.second, refused: out.secondEmsgsize }).toEqual({ answered: 1024, refused: 0 });
  });
});
