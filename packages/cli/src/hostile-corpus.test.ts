/**
 * Issue 16: the hostile-input corpus (test-support/hostile/corpus.ts) on every entry point, in child
 * processes, each input within a time and a memory bound:
 * - no input runs past {@link TIME_LIMIT_MS} (a hang is killed and fails the test);
 * - peak RSS stays under 4 × the input's size + {@link RSS_MARGIN_BYTES} (streamed entry points:
 *   4 × the bytes actually stored, so a sparse file must not be read whole);
 * - no crash: every refusal is a typed NormbridgeError;
 * - a checkpoint the Rust reference rejects is rejected.
 * Runs the built packages (scripts/test.sh builds before testing).
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, type CorpusCase, type Entry } from './test-support/hostile/corpus.js';

/** The acceptance bound of issue 16: an input that takes longer is a hang. */
const TIME_LIMIT_MS = 5_000;
/** Memory allowed beyond 4 × the input (the process itself, its modules, one report). */
const RSS_MARGIN_BYTES = 200 * 1024 * 1024;

interface Job {
  readonly key: string;
  readonly id: string;
  readonly entry: Entry;
  readonly path: string;
  readonly out: string;
}
interface Result {
  readonly key: string;
  readonly outcome: 'ok' | 'problems' | 'rejected' | 'crash' | 'hang';
  readonly detail: string;
  readonly ms: number;
  readonly peakKb: number;
}

const CHILD = fileURLToPath(new URL('./test-support/hostile/child.mjs', import.meta.url));
let work: string;
const jobs: Job[] = [];
const sizes = new Map<string, { apparent: number; stored: number }>();
const results = new Map<string, Result>();

/** Apparent and stored (allocated-block) sizes of a path, summed over a folder. Links are not followed. */
async function sizeOf(path: string): Promise<{ apparent: number; stored: number }> {
  let s;
  try {
    s = await lstat(path);
  } catch {
    return { apparent: 0, stored: 0 };
  }
  if (s.isDirectory()) {
    let apparent = 0;
    let stored = 0;
    for (const name of await readdir(path)) {
      const x = await sizeOf(join(path, name));
      apparent += x.apparent;
      stored += x.stored;
    }
    return { apparent, stored };
  }
  if (!s.isFile()) return { apparent: 0, stored: 0 };
  return { apparent: s.size, stored: Math.min(s.size, s.blocks * 512) };
}

/** Runs jobs in one child; a job silent past the time limit is a hang: the child is killed and restarted after it. */
async function runJobs(pending: Job[]): Promise<void> {
  while (pending.length > 0) {
    const file = join(work, `jobs-${pending[0]!.key.replace(/[^\w]/g, '_')}.json`);
    await writeFile(file, JSON.stringify(pending));
    const child = spawn(process.execPath, ['--expose-gc', CHILD, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    let current: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => child.kill('SIGKILL'), TIME_LIMIT_MS + 2_000);
    };
    arm(); // also bounds the child's start-up
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl)) as { start?: string } & Result;
        buffer = buffer.slice(nl + 1);
        if (msg.start !== undefined) {
          current = msg.start;
          arm();
        } else {
          results.set(msg.key, msg);
          current = undefined;
        }
      }
    });
    await new Promise((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    const done = pending.findIndex((j) => !results.has(j.key));
    if (done < 0) return;
    const stuck = pending[done]!;
    results.set(stuck.key, {
      key: stuck.key,
      outcome: current === stuck.key ? 'hang' : 'crash',
      detail: current === stuck.key ? `no answer within ${TIME_LIMIT_MS} ms` : `child exited: ${stderr.slice(-600)}`,
      ms: TIME_LIMIT_MS,
      peakKb: 0,
    });
    pending = pending.slice(done + 1);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'nb-hostile-'));
  const out = join(work, 'out');
  await mkdir(out);
  for (const c of CORPUS) {
    // Each case in its own folder: one case's FIFO must not be another's output.
    const dir = join(work, 'cases', c.id.replace(/[^\w.-]/g, '_'));
    await mkdir(dir, { recursive: true });
    const path = await c.build(dir);
    sizes.set(c.id, await sizeOf(path));
    for (const entry of c.entries) jobs.push({ key: `${c.id} @ ${entry}`, id: c.id.replace(/[^\w.-]/g, '_'), entry, path, out });
  }
  // Streaming entry points first: a process's heap does not shrink back after a big job, so
  // their tight bound is measured before any job that may hold a whole tensor.
  const streamed = (j: Job) => CORPUS.find((c) => c.id === j.key.split(' @ ')[0])!.streamed?.includes(j.entry) ?? false;
  await runJobs([...jobs.filter(streamed), ...jobs.filter((j) => !streamed(j))]);
  // For a person checking the figures: HOSTILE_CORPUS_REPORT=file writes every job's result.
  const report = process.env['HOSTILE_CORPUS_REPORT'];
  if (report) {
    const rows = jobs.map((j) => {
      const c = CORPUS.find((x) => x.id === j.key.split(' @ ')[0])!;
      return { ...results.get(j.key), boundKb: Math.round(boundFor(c, j.entry) / 1024) };
    });
    await writeFile(report, JSON.stringify(rows, null, 1));
  }
}, 600_000);

afterAll(() => rm(work, { recursive: true, force: true }));

function boundFor(c: CorpusCase, entry: Entry): number {
  const s = sizes.get(c.id)!;
  const base = c.streamed?.includes(entry) ? s.stored : s.apparent;
  return 4 * base + RSS_MARGIN_BYTES;
}

describe('hostile-input corpus', () => {
  it('covers every item of issue 16 that has an input, and every entry point', () => {
    const items = new Set(CORPUS.flatMap((c) => c.item.split(/,\s*/)));
    for (const item of ['1', '3', '4', '5', '6', '7', '8', '9', '10', '13', 'format', 'index']) expect(items, item).toContain(item);
    const entries = new Set(CORPUS.flatMap((c) => c.entries));
    for (const e of ['inspect', 'convert', 'reader', 'conformance', 'torch-load', 'mlx-load', 'keras-set']) expect(entries, e).toContain(e);
  });

  for (const c of CORPUS) {
    for (const entry of c.entries) {
      it(`${c.id} @ ${entry} (item ${c.item})`, () => {
        const r = results.get(`${c.id} @ ${entry}`);
        expect(r, 'no result').toBeDefined();
        const where = `${c.id} @ ${entry}: ${r!.outcome} ${r!.detail}`;
        expect(r!.outcome, where).not.toBe('hang');
        expect(r!.outcome, where).not.toBe('crash');
        expect(r!.ms, where).toBeLessThanOrEqual(TIME_LIMIT_MS);
        expect(r!.peakKb * 1024, `${where}; peak RSS`).toBeLessThanOrEqual(boundFor(c, entry));
        if (c.expect) expect(c.expect, where).toContain(r!.outcome);
        if (c.rust === 'reject' && entry === 'reader') expect(r!.outcome, `${where}; the Rust reference rejects it`).toBe('rejected');
      });
    }
  }
});
