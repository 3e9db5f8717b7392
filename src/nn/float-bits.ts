// Bit-level conversions between f32, f16 and bf16, and little-endian byte views. Everything
// works on the raw bits (never through a JS number), so NaN payloads, signed zeros and
// subnormals survive: a checkpoint must round-trip bit-exactly. Rounding is to nearest, ties to
// even, like PyTorch's .half() and .bfloat16(); unlike them a NaN keeps its sign and the top of
// its payload, so a NaN that came from an f16 or bf16 value converts back to the same bits.

/** True on little-endian hosts (every WebGPU platform in practice); the slow path is for the rest. */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** f16 bits from f32 bits, rounded to nearest even; overflow gives ±inf. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00;
    const payload = mant >>> 13;
    // A payload only in the low 13 bits would truncate to infinity: keep it a (quiet) NaN.
    return sign | 0x7c00 | (payload || 0x200);
  }
  const e = exp - 112; // the f16 exponent field, f16's bias 15 against f32's 127
  if (e >= 0x1f) return sign | 0x7c00;
  let h: number;
  let rest: number;
  let half: number;
  if (e > 0) {
    h = (e << 10) | (mant >>> 13);
    rest = mant & 0x1fff;
    half = 0x1000;
  } else {
    // An f16 subnormal, m * 2^-24: the 24-bit significand shifted right by 126 - exp.
    const shift = 126 - exp;
    if (shift > 24) return sign; // below half the smallest subnormal
    const full = mant | 0x800000;
    h = full >>> shift;
    rest = full & ((1 << shift) - 1);
    half = 1 << (shift - 1);
  }
  // Rounding up may carry into the exponent (a subnormal becomes normal, 65520 becomes inf): both right.
  if (rest > half || (rest === half && h & 1)) h++;
  return sign | h;
}

/** f32 bits from f16 bits (exact). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  let m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  if (e !== 0) return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
  if (m === 0) return sign >>> 0;
  // Subnormal: normalise, moving the leading 1 up to the implicit bit.
  let exp = 113;
  while (!(m & 0x400)) {
    m <<= 1;
    exp--;
  }
  return (sign | (exp << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** bf16 bits from f32 bits, rounded to nearest even; overflow gives ±inf. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) {
    const hi = x >>> 16;
    return hi & 0x7f ? hi : hi | 0x40;
  }
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

export function f32ToF16(values: Float32Array): Uint16Array {
  return Uint16Array.from(bitsOf(values), f32BitsToF16Bits);
}

export function f32ToBf16(values: Float32Array): Uint16Array {
  return Uint16Array.from(bitsOf(values), f32BitsToBf16Bits);
}

export function f16ToF32(halves: Uint16Array): Float32Array {
  return new Float32Array(Uint32Array.from(halves, f16BitsToF32Bits).buffer);
}

export function bf16ToF32(halves: Uint16Array): Float32Array {
  return new Float32Array(Uint32Array.from(halves, (b) => b << 16).buffer);
}

/** The little-endian bytes of a typed array: a view on little-endian hosts, a swapped copy elsewhere. */
export function littleEndianBytes(a: Float32Array | Float64Array | Uint16Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return HOST_LE ? bytes : swapped(bytes, a.BYTES_PER_ELEMENT);
}

/** A typed array over a copy of little-endian bytes (copied: file offsets need not be aligned). */
export function fromLittleEndian<T extends Float32Array | Float64Array | Uint16Array>(
  bytes: Uint8Array,
  Kind: { new (buffer: ArrayBuffer): T; readonly BYTES_PER_ELEMENT: number },
): T {
  // new Uint8Array(view) copies; a Node Buffer's slice() would not.
  const copy = HOST_LE ? new Uint8Array(bytes) : swapped(bytes, Kind.BYTES_PER_ELEMENT);
  return new Kind(copy.buffer);
}

function swapped(bytes: Uint8Array, width: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j]!;
  return out;
}
