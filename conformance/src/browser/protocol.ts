import type { ConformanceReport } from '../runner.js';

/** One fixture as the local server offers it to a page. */
export interface ServedFixture {
  readonly label: string;
  readonly manifest: string;
  readonly tensors: string;
}

/** What the page hands back to Node: a report minus what only Node knows (invalid folders). */
export type PageReport = Omit<ConformanceReport, 'invalid'> & { readonly unloadable: { path: string; reason: string }[] };

/** Progress lines (console messages) the Node side turns into its progress bar. */
export const PROGRESS_PREFIX = 'normbridge-progress ';
