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
/**
 * Large blocks start on a 4 KiB page, so every tensor of a kernel call sits at the same offset
 * modulo 4 KiB. Otherwise a load of x can falsely depend on a recent store to y whose address
 * agrees with it in the low 12 bits (4K aliasing): measured here, y placed 1536 bytes off x
 * made the normalise pass about 7 % slower than y page-aligned like x.
 */
export const LARGE_BLOCK_ALIGN = 4096;
/** From this size on a block is large (page-aligned, sized in whole pages): 64 KiB wastes at most 6 %. */
export const LARGE_BLOCK_BYTES = 65536;
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

/** Free blocks by size, most recently freed last. */
class FreeLists {
  readonly #bySize = new Map<number, number[]>();
  put(offset: number, size: number): void {
    const list = this.#bySize.get(size);
    if (list) list.push(offset);
    else this.#bySize.set(size, [offset]);
  }
  /** The last freed block of exactly `size`. */
  take(size: number): number | undefined {
    return this.#bySize.get(size)?.pop();
  }
  /** The smallest size above `size` that has a free block. */
  largerThan(size: number): number | undefined {
    let best: number | undefined;
    for (const [s, list] of this.#bySize) if (s > size && list.length > 0 && (best === undefined || s < best)) best = s;
    return best;
  }
  /** Empties the lists, returning every block as [offset, size]. */
  drain(): [number, number][] {
    const blocks: [number, number][] = [];
    for (const [s, list] of this.#bySize) for (const o of list) blocks.push([o, s]);
    this.#bySize.clear();
    return blocks;
  }
}

export class Heap {
  readonly #memory: WebAssembly.Memory;
  readonly #limit: number;
  #top = FIRST_OFFSET;
  #live = 0;
  /** Live blocks: offset → size. */
  readonly #sizes = new Map<number, number>();
  /** Free page-aligned blocks of whole pages (large requests take only these), and the rest. */
  readonly #large = new FreeLists();
  readonly #small = new FreeLists();

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
    const align = bytes >= LARGE_BLOCK_BYTES ? LARGE_BLOCK_ALIGN : BLOCK_ALIGN;
    const size = Math.max(BLOCK_ALIGN, Math.ceil(bytes / align) * align);
    const lists = align === LARGE_BLOCK_ALIGN ? this.#large : this.#small;
    const offset = this.#reuse(lists, size) ?? this.#extend(size, align) ?? this.#afterCoalescing(lists, size, align);
    if (offset === undefined) throw new WasmMemoryError(bytes, this.#limit, this.#live);
    this.#live += this.#sizes.get(offset)!;
    return offset;
  }

  free(offset: number): void {
    const size = this.#sizes.get(offset);
    if (size === undefined) return;
    this.#sizes.delete(offset);
    this.#live -= size;
    if (offset + size === this.#top) this.#top = offset;
    else this.#release(offset, size);
  }

  #release(offset: number, size: number): void {
    const large = offset % LARGE_BLOCK_ALIGN === 0 && size % LARGE_BLOCK_ALIGN === 0 && size >= LARGE_BLOCK_BYTES;
    (large ? this.#large : this.#small).put(offset, size);
  }

  #take(offset: number, size: number): number {
    this.#sizes.set(offset, size);
    return offset;
  }

  /** A free block of this size, else the front of the smallest larger one (its rest stays free). */
  #reuse(lists: FreeLists, size: number): number | undefined {
    const exact = lists.take(size);
    if (exact !== undefined) return this.#take(exact, size);
    const larger = lists.largerThan(size);
    if (larger === undefined) return undefined;
    const offset = lists.take(larger)!;
    this.#release(offset + size, larger - size);
    return this.#take(offset, size);
  }

  #extend(size: number, align: number): number | undefined {
    const start = Math.ceil(this.#top / align) * align;
    const end = start + size;
    if (end > this.#limit) return undefined;
    const have = this.#memory.buffer.byteLength;
    if (end > have) this.#memory.grow(Math.ceil((end - have) / PAGE));
    if (start > this.#top) this.#small.put(this.#top, start - this.#top); // the alignment gap serves small blocks
    this.#top = end;
    return this.#take(start, size);
  }

  /** Merges neighbouring free blocks (and gives a free tail back to the top), then tries again. */
  #afterCoalescing(lists: FreeLists, size: number, align: number): number | undefined {
    const blocks = [...this.#large.drain(), ...this.#small.drain()].sort((a, b) => a[0] - b[0]);
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
    for (const [o, s] of merged) this.#release(o, s);
    return this.#reuse(lists, size) ?? this.#extend(size, align);
  }
}
