/**
 * Opening a file that must be a regular file. A FIFO would block `open` (and every read) until
 * some other process writes to it, and a device such as /dev/zero never ends; both are refused
 * with a typed error instead of hanging or allocating without bound.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { SafetensorsError } from '../errors.js';

/**
 * O_NONBLOCK makes `open` of a FIFO return at once (it would otherwise wait for a writer); on a
 * regular file it changes nothing. Windows has no FIFOs and no such flag.
 */
function openFlags(): number {
  // Read when called, not at import: a browser bundle stubs node:fs, and only Node opens files.
  return constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
}

/** What a non-regular file is, for the error message. */
export function describeFileType(s: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean; isSymbolicLink(): boolean }): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  if (s.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** Opens `path` for reading; refuses (and closes) anything that is not a regular file. Follows symlinks. */
export async function openRegularFile(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, openFlags());
  } catch (cause) {
    throw new SafetensorsError('read-failed', `cannot open: ${(cause as Error).message}`, { file: path, cause });
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) {
      throw new SafetensorsError('not-a-regular-file', `is ${describeFileType(s)}; only regular files are read`, { file: path });
    }
    return { fh, size: s.size };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}
