// Little-endian integers in byte arrays (file headers: .npy, the MNIST asset), read and written
// byte by byte, so no typed-array view (and its alignment or host byte order) is involved.

/** The unsigned little-endian integer of `width` (2 or 4) bytes at `at`. */
export function readUintLE(bytes: Uint8Array, at: number, width: 2 | 4): number {
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = v * 256 + bytes[at + i]!;
  return v;
}

/** Writes `v` as an unsigned little-endian integer of `width` (2 or 4) bytes at `at`. */
export function writeUintLE(bytes: Uint8Array, at: number, width: 2 | 4, v: number): void {
  for (let i = 0; i < width; i++) {
    bytes[at + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
}
