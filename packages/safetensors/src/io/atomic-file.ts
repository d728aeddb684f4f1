/**
 * Crash-safe replacement of a file: write a temporary file in the same directory, flush it to
 * disk, then rename it over the target. rename(2) within one file system is atomic, so readers
 * (and a machine that loses power) see either the whole old file or the whole new one.
 *
 * Depends on Node built-ins only, so that tests can run it alone in a child process and kill
 * that process half way through a write.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Where the producer writes; bytes go to the temporary file in order. */
export interface AtomicSink {
  write(bytes: Uint8Array): Promise<void>;
  /** Bytes written so far. */
  readonly bytesWritten: number;
  /** The temporary file's path (for diagnostics and tests). */
  readonly tempPath: string;
}

/** Node refuses writes above 2 GiB - 1 per call; larger buffers go in slices of this size. */
const MAX_WRITE_CHUNK_BYTES = 1024 * 1024 * 1024;

/** Temporary files start with this, so a stale one (left by a killed process) is easy to spot. */
export const TEMP_PREFIX = '.';
export const TEMP_SUFFIX = '.normbridge-tmp';

export function tempPathFor(target: string): string {
  const abs = resolve(target);
  return join(dirname(abs), `${TEMP_PREFIX}${basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

/**
 * Runs `produce` against a temporary file and renames it over `target` once it is complete and
 * synced. If `produce` throws (or anything else fails) the temporary file is removed and the
 * target is left as it was; the error propagates unchanged.
 */
export async function writeFileAtomic(target: string, produce: (sink: AtomicSink) => Promise<void>): Promise<void> {
  const tempPath = tempPathFor(target);
  // 'wx': never follow or reuse an existing path (the name is random, so a clash is an attack).
  const fh = await open(tempPath, 'wx');
  let closed = false;
  try {
    let written = 0;
    const sink: AtomicSink = {
      async write(bytes: Uint8Array) {
        for (let off = 0; off < bytes.length; ) {
          const len = Math.min(bytes.length - off, MAX_WRITE_CHUNK_BYTES);
          const { bytesWritten } = await fh.write(bytes, off, len, written);
          off += bytesWritten;
          written += bytesWritten;
        }
      },
      get bytesWritten() {
        return written;
      },
      tempPath,
    };
    await produce(sink);
    // The data must be on disk before the rename makes it visible under the target's name.
    await fh.sync();
    closed = true;
    await fh.close();
    await rename(tempPath, target);
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    await unlink(tempPath).catch(() => {});
    throw e;
  }
  await syncDirectory(dirname(resolve(target)));
}

/**
 * Makes the rename itself durable. Some platforms (Windows) cannot open directories; the rename
 * has happened by then, so failing to sync is not an error.
 */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort, see above
  } finally {
    await fh?.close().catch(() => {});
  }
}
