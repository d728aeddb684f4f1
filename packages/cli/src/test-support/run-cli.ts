import { vi } from 'vitest';
import { main } from '../main.js';

/** What one in-process CLI run printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `normbridge ...args` in this process, capturing stdout and stderr. */
export async function runCli(...args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(['node', 'normbridge', ...args]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
