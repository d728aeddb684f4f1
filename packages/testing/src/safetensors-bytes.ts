/**
 * A safetensors file byte by byte, for tests that feed readers valid or deliberately broken
 * input: the 8-byte little-endian header length (the header's true length unless overridden),
 * the header, then the data (`data` zero bytes when a number).
 */
export function rawFile(header: string | Uint8Array, data: Uint8Array | number = 0, lengthOverride?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}
