/**
 * Writing safetensors files: deterministic bytes (see `layoutFile`), streamed tensor by tensor
 * into a temporary file that replaces the target atomically.
 */
import { SafetensorsError } from '../errors.js';
import { layoutFile } from '../format/serialize.js';
import { TargetRefusedError, writeFileAtomic } from './atomic-file.js';
import { entriesOf, prepareTensor, type PreparedTensor, type TensorCollection } from './tensor-input.js';

export interface WriteOptions {
  /**
   * String metadata stored as `__metadata__`; keys are written sorted.
   * @default undefined (no `__metadata__` entry)
   */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /**
   * Called after the header and after each tensor with the bytes written so far. Throwing from
   * it aborts the write: the temporary file is removed and the target is untouched.
   * @default undefined
   */
  readonly onProgress?: ((bytesWritten: number, totalBytes: number) => void) | undefined;
  /**
   * Aborts the write between tensors, with the same guarantees as a throwing `onProgress`.
   * @default undefined
   */
  readonly signal?: AbortSignal | undefined;
}

export interface WriteResult {
  readonly path: string;
  readonly bytes: number;
  readonly tensors: number;
}

/**
 * Writes `tensors` to `path`. Either the complete new file replaces `path`, or (on any error,
 * abort or crash) `path` keeps its old contents.
 */
export async function writeSafetensorsFile(path: string, tensors: TensorCollection, options: WriteOptions = {}): Promise<WriteResult> {
  const prepared = new Map<string, PreparedTensor>();
  for (const [name, input] of entriesOf(tensors)) {
    if (prepared.has(name)) throw new SafetensorsError('invalid-argument', 'tensor given twice', { key: name });
    prepared.set(name, prepareTensor(name, input, true));
  }
  const layout = layoutFile([...prepared.values()], options.metadata);
  const checkAbort = () => {
    if (options.signal?.aborted) {
      throw new SafetensorsError('write-aborted', 'write aborted; the target was left untouched', { file: path, cause: options.signal.reason });
    }
  };
  checkAbort();
  try {
    await writeFileAtomic(path, async (sink) => {
      await sink.write(layout.head);
      options.onProgress?.(sink.bytesWritten, layout.totalLength);
      for (const p of layout.placed) {
        checkAbort();
        const bytes = await prepared.get(p.name)!.bytes();
        if (bytes.length !== p.end - p.begin) {
          throw new SafetensorsError('invalid-argument', `produced ${bytes.length} bytes, expected ${p.end - p.begin}`, { file: path, key: p.name });
        }
        await sink.write(bytes);
        options.onProgress?.(sink.bytesWritten, layout.totalLength);
      }
      if (sink.bytesWritten !== layout.totalLength) {
        throw new SafetensorsError('write-failed', `wrote ${sink.bytesWritten} bytes, expected ${layout.totalLength}`, { file: path });
      }
    });
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    if (e instanceof TargetRefusedError) {
      throw new SafetensorsError('target-refused', `${e.reason}; nothing was written`, { file: path, cause: e });
    }
    // Errors of the caller's own callbacks pass through; file-system errors get a typed wrapper.
    if (isSystemError(e)) {
      throw new SafetensorsError('write-failed', `writing failed: ${e.message}; the target was left untouched`, { file: path, cause: e });
    }
    throw e;
  }
  return { path, bytes: layout.totalLength, tensors: layout.placed.length };
}

function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}
