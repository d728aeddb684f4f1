/**
 * The engine's allocator over one WebAssembly memory: every tensor and every call's scratch is
 * a block of it. Freed blocks are kept per size and handed out last-in first-out, so a layer
 * called again with the same shapes gets the same addresses, still warm in the caches (the
 * reason PyTorch's caching allocator exists). Blocks are freed deterministically by `dispose`,
 * never by the garbage collector.
 */
import { NormbridgeError } from '@normbridge/core';

/** Block alignment: a cache line, so no two threads' outputs share one. */
export const BLOCK_ALIGN = 64;
/** Offsets below this are never handed out: 0 is the kernels' "absent tensor". */
const FIRST_OFFSET = BLOCK_ALIGN;
const PAGE = 65536;

/** The engine's memory is full: its `maxMemoryBytes` (or the 2 GiB the kernels can address) is reached. */
export class WasmMemoryError extends NormbridgeError {
  constructor(requested: number, limit: number, live: number) {
    super(
      'wasm-memory-limit',
      `nb-wasm: cannot allocate ${requested} bytes: ${live} bytes are live in a memory limited to ${limit} bytes; dispose tensors that are no longer needed, or raise maxMemoryBytes`,
    );
  }
}

export class Heap {
  readonly #memory: WebAssembly.Memory;
  readonly #limit: number;
  #top = FIRST_OFFSET;
  #live = 0;
  /** Live blocks: offset → size. */
  readonly #sizes = new Map<number, number>();
  /** Free blocks by size, most recently freed last. */
  readonly #free = new Map<number, number[]>();

  constructor(memory: WebAssembly.Memory, limitBytes: number) {
    this.#memory = memory;
    this.#limit = limitBytes;
  }

  /** Bytes held by live blocks. */
  get liveBytes(): number {
    return this.#live;
  }

  /** A block of at least `bytes` bytes (never 0: empty tensors get a block too, so offsets stay unique). */
  alloc(bytes: number): number {
    const size = Math.max(BLOCK_ALIGN, Math.ceil(bytes / BLOCK_ALIGN) * BLOCK_ALIGN);
    const offset = this.#reuse(size) ?? this.#extend(size) ?? this.#reuseLarger(size) ?? this.#afterCoalescing(size);
    if (offset === undefined) throw new WasmMemoryError(bytes, this.#limit, this.#live);
    this.#live += this.#sizes.get(offset)!;
    return offset;
  }

  free(offset: number): void {
    const size = this.#sizes.get(offset);
    if (size === undefined) return;
    this.#sizes.delete(offset);
    this.#live -= size;
    if (offset + size === this.#top) {
      this.#top = offset;
      return;
    }
    const list = this.#free.get(size);
    if (list) list.push(offset);
    else this.#free.set(size, [offset]);
  }

  #take(offset: number, size: number): number {
    this.#sizes.set(offset, size);
    return offset;
  }

  #reuse(size: number): number | undefined {
    const offset = this.#free.get(size)?.pop();
    return offset === undefined ? undefined : this.#take(offset, size);
  }

  #extend(size: number): number | undefined {
    const end = this.#top + size;
    if (end > this.#limit) return undefined;
    const have = this.#memory.buffer.byteLength;
    if (end > have) this.#memory.grow(Math.ceil((end - have) / PAGE));
    const offset = this.#top;
    this.#top = end;
    return this.#take(offset, size);
  }

  /** The smallest free block that is larger, used whole. */
  #reuseLarger(size: number): number | undefined {
    let best: number | undefined;
    for (const [s, list] of this.#free) if (s > size && list.length > 0 && (best === undefined || s < best)) best = s;
    return best === undefined ? undefined : this.#take(this.#free.get(best)!.pop()!, best);
  }

  /** Merges neighbouring free blocks (and gives a free tail back to the top), then tries again. */
  #afterCoalescing(size: number): number | undefined {
    const blocks: [number, number][] = [];
    for (const [s, list] of this.#free) for (const o of list) blocks.push([o, s]);
    this.#free.clear();
    blocks.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const [o, s] of blocks) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === o) last[1] += s;
      else merged.push([o, s]);
    }
    const tail = merged[merged.length - 1];
    if (tail && tail[0] + tail[1] === this.#top) {
      this.#top = tail[0];
      merged.pop();
    }
    for (const [o, s] of merged) {
      const list = this.#free.get(s);
      if (list) list.push(o);
      else this.#free.set(s, [o]);
    }
    return this.#reuse(size) ?? this.#extend(size) ?? this.#reuseLarger(size);
  }
}
