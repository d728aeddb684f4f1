import type { FileHandle } from 'node:fs/promises';
import { SafetensorsError } from '../errors.js';
import { MAX_READ_CHUNK_BYTES } from '../limits.js';

/**
 * Fills `target` from `position` in the file. A short read means the file shrank after it was
 * validated, which is reported rather than returning zeros.
 */
export async function readExactly(fh: FileHandle, target: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const want = Math.min(target.length - done, MAX_READ_CHUNK_BYTES);
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(target, done, want, position + done));
    } catch (cause) {
      throw new SafetensorsError('read-failed', `reading ${want} bytes failed: ${(cause as Error).message}`, {
        file,
        offset: position + done,
        cause,
      });
    }
    if (bytesRead === 0) {
      throw new SafetensorsError('file-changed', `file ended early (it changed after it was opened)`, { file, offset: position + done });
    }
    done += bytesRead;
  }
}
