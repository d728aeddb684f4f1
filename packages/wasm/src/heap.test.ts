import { describe, expect, it } from 'vitest';
import { BLOCK_ALIGN, Heap, WasmMemoryError } from './heap.js';

const heapOf = (limit: number) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: Math.ceil(limit / 65536) });
  return { memory, heap: new Heap(memory, limit) };
};

describe('Heap', () => {
  it('hands out aligned, non-zero, disjoint blocks and grows the memory as needed', () => {
    const { memory, heap } = heapOf(1 << 20);
    const a = heap.alloc(100);
    const b = heap.alloc(70_000);
    expect(a).toBeGreaterThan(0);
    expect(a % BLOCK_ALIGN).toBe(0);
    expect(b % BLOCK_ALIGN).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 100);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(b + 70_000);
    expect(heap.liveBytes).toBe(128 + 70_016);
  });

  it('gives a freed block of the same size back, last freed first (warm addresses)', () => {
    const { heap } = heapOf(1 << 20);
    const a = heap.alloc(1000);
    const b = heap.alloc(1000);
    heap.alloc(64); // keeps b from being the top block
    heap.free(a);
    heap.free(b);
    expect(heap.alloc(1000)).toBe(b);
    expect(heap.alloc(1000)).toBe(a);
  });

  it('merges neighbouring free blocks when nothing else fits, then refuses with a WasmMemoryError', () => {
    const { heap } = heapOf(65536);
    const blocks = [heap.alloc(16_000), heap.alloc(16_000), heap.alloc(16_000), heap.alloc(16_000)];
    heap.free(blocks[1]!);
    heap.free(blocks[2]!);
    expect(heap.alloc(30_000)).toBe(blocks[1]); // only the two merged blocks hold it
    expect(() => heap.alloc(30_000)).toThrow(WasmMemoryError);
    expect(heap.liveBytes).toBe(2 * 16_000 + 32_000); // blocks 0 and 3, and the merged block used whole
  });

  it('ignores a free of an unknown offset (a double dispose)', () => {
    const { heap } = heapOf(1 << 20);
    const a = heap.alloc(10);
    heap.free(a);
    heap.free(a);
    expect(heap.liveBytes).toBe(0);
  });
});
