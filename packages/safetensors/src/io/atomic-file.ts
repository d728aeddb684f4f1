/**
 * Crash-safe replacement of a file: write a temporary file in the same directory, flush it to
 * disk, then rename it over the target. rename(2) within one file system is atomic, so readers
 * (and a machine that loses power) see either the whole old file or the whole new one.
 *
 * Depends on Node built-ins only, so that tests can run it alone in a child process and kill
 * that process half way through a write.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
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

/** `.<target name>.<pid>.<12 hex digits>.normbridge-tmp`, as {@link tempPathFor} names them. */
const TEMP_NAME = /^\..+\.([0-9]+)\.[0-9a-f]{12}\.normbridge-tmp$/;

/**
 * The target exists and is not a regular file (a device, FIFO, directory or symbolic link), or
 * the path is empty. Replacing such a thing by renaming over it would, run as root, swap
 * /dev/null for a regular file; it is refused and nothing is written.
 */
export class TargetRefusedError extends Error {
  readonly code = 'target-refused';
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(`${target === '' ? '(empty path)' : target}: ${reason}; nothing was written`);
    this.name = 'TargetRefusedError';
  }
}

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
  await checkTarget(target);
  await removeStaleTemps(dirname(resolve(target)));
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
 * Only a missing path or a regular file may be replaced. A symbolic link is refused rather than
 * followed or replaced: following would write somewhere the command line does not name, and
 * replacing would silently turn a link into a file.
 */
async function checkTarget(target: string): Promise<void> {
  if (target === '') throw new TargetRefusedError(target, 'the output path is empty');
  let s;
  try {
    s = await lstat(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (s.isFile()) return;
  const what = s.isSymbolicLink()
    ? 'a symbolic link (links are not followed or replaced; name the file it points to)'
    : s.isDirectory()
      ? 'a directory'
      : s.isFIFO()
        ? 'a FIFO (named pipe)'
        : s.isCharacterDevice() || s.isBlockDevice()
          ? 'a device'
          : 'not a regular file';
  throw new TargetRefusedError(target, `exists and is ${what}`);
}

/**
 * Removes temporary files left in `dir` by writers that were killed (SIGKILL, power loss) before
 * they could clean up. A file is stale when the process named by the pid in its name no longer
 * exists; files of live processes (including our own) are left alone. Best effort: a file that
 * cannot be removed is left for the next run. The pid test is local to this machine.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    const path = join(dir, name);
    try {
      if (!(await lstat(path)).isFile()) continue;
      await unlink(path);
      removed.push(path);
    } catch {
      // best effort, see above
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
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
