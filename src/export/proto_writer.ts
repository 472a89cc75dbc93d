/**
 * A protobuf wire-format writer over one growable buffer that is reused from one export to the
 * next, so encoding a batch allocates nothing.
 *
 * Hand-written rather than generated (protobufjs) or taken from @opentelemetry/otlp-transformer:
 * the transformer sizes every message in a first pass and then writes it in a second, and pulls
 * its whole serializer family into the Worker bundle; here a message's length prefix is written
 * after its content (one byte reserved, the content moved by `copyWithin` in the rare case the
 * length needs more), so each span is walked once. tests/unit/otlp_encode_test.ts decodes what it
 * writes beside the transformer's bytes.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO_POW_32 = 0x1_0000_0000;
const INITIAL_BYTES = 64 * 1024;

export class ProtoWriter {
  #buf = new Uint8Array(INITIAL_BYTES);
  #view = new DataView(this.#buf.buffer);
  pos = 0;

  /** Starts a new message from the beginning of the buffer; what was written is discarded. */
  reset(): void {
    this.pos = 0;
  }

  /**
   * What was written, as a view of the buffer: valid until the next `reset`. No copy: `fetch`
   * copies a byte body when it is called (the Fetch standard's "extract a body"), so the view
   * can be sent as it is, and sent again on a retry.
   */
  written(): Uint8Array<ArrayBuffer> {
    return this.#buf.subarray(0, this.pos);
  }

  #ensure(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.pos));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A non-negative integer below 2^53, or a negative one (written as 64-bit two's complement). */
  varint(value: number): void {
    this.#ensure(10);
    const buf = this.#buf;
    let pos = this.pos;
    if (value >= 0 && value < 0x80) {
      buf[pos] = value;
      this.pos = pos + 1;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = Math.floor(value / TWO_POW_32) >>> 0;
    } else {
      // Two's complement of |value| over 64 bits.
      const magnitude = -value;
      low = magnitude >>> 0;
      high = Math.floor(magnitude / TWO_POW_32) >>> 0;
      low = (~low + 1) >>> 0;
      high = (~high + (low === 0 ? 1 : 0)) >>> 0;
    }
    while (high !== 0 || low > 0x7f) {
      buf[pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[pos++] = low;
    this.pos = pos;
  }

  fixed32(value: number): void {
    this.#ensure(4);
    this.#view.setUint32(this.pos, value, true);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.#ensure(8);
    this.#view.setUint32(this.pos, low, true);
    this.#view.setUint32(this.pos + 4, high, true);
    this.pos += 8;
  }

  double(value: number): void {
    this.#ensure(8);
    this.#view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** A length-delimited UTF-8 string; ASCII is copied by hand (the common case, and faster). */
  string(value: string): void {
    const length = value.length;
    this.#ensure(5 + length * 3);
    const buf = this.#buf;
    const lengthPos = this.pos;
    if (length < 0x80) {
      let pos = lengthPos + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buf[pos++] = code;
      }
      if (i === length) {
        buf[lengthPos] = length;
        this.pos = pos;
        return;
      }
    }
    const start = this.begin();
    const { written } = encoder.encodeInto(value, buf.subarray(this.pos));
    this.pos += written;
    this.end(start);
  }

  bytes(value: Uint8Array): void {
    this.#ensure(5 + value.length);
    this.varint(value.length);
    this.raw(value);
  }

  /** Bytes written as they are (an encoding made earlier). */
  raw(value: Uint8Array): void {
    const length = value.length;
    this.#ensure(length);
    const buf = this.#buf;
    let pos = this.pos;
    // A loop beats `set` below a few dozen bytes, what cached fields mostly are.
    if (length < 48) {
      for (let i = 0; i < length; i++) buf[pos++] = value[i];
    } else {
      buf.set(value, pos);
      pos += length;
    }
    this.pos = pos;
  }

  /** A copy of the last `length` bytes written, for {@link raw} to write again. */
  copyLast(length: number): Uint8Array {
    return this.#buf.slice(this.pos - length, this.pos);
  }

  /** Lower-case or upper-case hex as the bytes it spells (trace and span ids), length-prefixed. */
  hexBytes(hex: string): void {
    const size = hex.length >>> 1;
    this.#ensure(1 + size);
    const buf = this.#buf;
    let pos = this.pos;
    buf[pos++] = size;
    for (let i = 0; i < size; i++) {
      buf[pos++] = (HEX[hex.charCodeAt(2 * i) & 0x7f] << 4) | HEX[hex.charCodeAt(2 * i + 1) & 0x7f];
    }
    this.pos = pos;
  }

  /** Reserves the length prefix of a nested message; pass the result to {@link end}. */
  begin(): number {
    this.#ensure(1);
    const start = this.pos;
    this.pos = start + 1;
    return start;
  }

  /** Writes the length of the message begun at `start`, moving its content if it needs more bytes. */
  end(start: number): void {
    const length = this.pos - start - 1;
    if (length < 0x80) {
      this.#buf[start] = length;
      return;
    }
    const size = varintSize(length);
    this.#ensure(size - 1);
    const buf = this.#buf;
    buf.copyWithin(start + size, start + 1, this.pos);
    let pos = start;
    let rest = length;
    while (rest >= 0x80) {
      buf[pos++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    buf[pos] = rest;
    this.pos = start + size + length;
  }
}

const encoder = new TextEncoder();

/** A hex digit's value by its character code: '0'-'9' → 0-9, 'a'-'f' and 'A'-'F' → 10-15. */
const HEX = new Uint8Array(128);
for (let digit = 0; digit < 16; digit++) {
  const char = digit.toString(16);
  HEX[char.charCodeAt(0)] = digit;
  HEX[char.toUpperCase().charCodeAt(0)] = digit;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/**
 * Nanoseconds since the epoch as the two 32-bit halves of a fixed64, from an HrTime
 * `[seconds, nanoseconds]`, exactly: `seconds * 1e9` alone exceeds 2^53 today.
 */
export function writeHrTime(writer: ProtoWriter, seconds: number, nanos: number): void {
  const secondsHigh = Math.floor(seconds / 0x10000);
  const secondsLow = seconds - secondsHigh * 0x10000;
  const fromHigh = secondsHigh * 1e9; // to be shifted left by 16 bits
  const fromHighUpper = Math.floor(fromHigh / 0x10000);
  const lowPart = (fromHigh - fromHighUpper * 0x10000) * 0x10000 + secondsLow * 1e9 + nanos;
  const low = lowPart >>> 0;
  const high = fromHighUpper + Math.floor(lowPart / TWO_POW_32);
  writer.fixed64(low, high >>> 0);
}
