/**
 * JSON request bodies, with a fast path for the one that matters: a query or upsert whose body
 * starts with its embeddings, `{"embeddings": [[0.12, -3.4e-2, …], …], …}`. `JSON.parse` spends
 * most of its time on such a body turning 17-digit decimals into doubles (correctly rounded,
 * which takes big-number arithmetic for long ones) and building arrays that are copied into a
 * Float32Array and dropped: ~90–110 µs for one 784-d vector here. The fast path scans the bytes
 * (digits four at a time) and writes float32 values directly.
 *
 * It gives exactly what `JSON.parse` followed by `Math.fround` gives. Each number's digits are
 * read into a double with a relative error below 2^-50 (at most 19 significant digits, exact
 * powers of ten up to 10^22); the float32 nearest to the exact decimal is then the float32 of
 * any double within that error, unless the value lies that close to a midpoint between two
 * float32 values — checked by rounding both ends of the error interval — in which case, and for
 * any number outside the fast path's range, the digits go through `Number()` (correctly
 * rounded, as `JSON.parse` does). Anything else — another shape, whitespace or grammar the scan
 * does not expect, a value that overflows float32, a repeated `embeddings` key — is left to
 * `JSON.parse` whole, so errors and odd bodies behave as before.
 */
import { Float32Rows } from '../service/float32-rows.js';

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const MAX_DIGITS = 19;
/** Relative half-width of the interval the scanned double is known to lie in around the exact value. */
const SLACK = 2 ** -49;
const PREFIX = '"embeddings"';

const enum Ch {
  Tab = 9,
  Lf = 10,
  Cr = 13,
  Space = 32,
  Quote = 34,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Zero = 48,
  Nine = 57,
  Colon = 58,
  E = 69,
  OpenBracket = 91,
  CloseBracket = 93,
  e = 101,
  OpenBrace = 123,
  CloseBrace = 125,
}

/** Parses a JSON request body (UTF-8 bytes). Throws SyntaxError as `JSON.parse` does. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  return fastEmbeddings(bytes) ?? JSON.parse(text(bytes));
}

class Scan {
  p = 0;
  /** The number being read: its significant digits so far, as an integer (within 2^-50), and how many. */
  mantissa = 0;
  digits = 0;
  /** The same bytes, for reading four at a time (fourDigits). */
  readonly words: DataView;
  /** Bytes in the body (a DataView's byteLength is a builtin call, not inlined). */
  readonly end: number;
  constructor(readonly b: Uint8Array) {
    this.words = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.end = b.byteLength;
  }

  ws(): number {
    const b = this.b;
    let c = b[this.p];
    while (c === Ch.Space || c === Ch.Lf || c === Ch.Cr || c === Ch.Tab) c = b[++this.p];
    return c ?? -1;
  }
}

/** The body with its embeddings as Float32Rows, or undefined when the fast path does not apply. */
function fastEmbeddings(b: Uint8Array): Record<string, unknown> | undefined {
  const s = new Scan(b);
  if (s.ws() !== Ch.OpenBrace) return undefined;
  s.p++;
  s.ws();
  for (let i = 0; i < PREFIX.length; i++) if (b[s.p + i] !== PREFIX.charCodeAt(i)) return undefined;
  s.p += PREFIX.length;
  if (s.ws() !== Ch.Colon) return undefined;
  s.p++;
  if (s.ws() !== Ch.OpenBracket) return undefined;
  s.p++;
  // Rows of numbers. The output grows by doubling; a row's length is known when it closes.
  let out = new Float32Array(1024);
  let n = 0;
  const rowLengths: number[] = [];
  for (;;) {
    if (s.ws() !== Ch.OpenBracket) return undefined;
    s.p++;
    const rowStart = n;
    if (s.ws() === Ch.CloseBracket) {
      s.p++;
    } else {
      for (;;) {
        s.ws();
        const x = number(s);
        if (x === undefined) return undefined;
        if (n === out.length) {
          const grown = new Float32Array(out.length * 2);
          grown.set(out);
          out = grown;
        }
        out[n++] = x;
        const c = s.ws();
        s.p++;
        if (c === Ch.Comma) continue;
        if (c === Ch.CloseBracket) break;
        return undefined;
      }
    }
    rowLengths.push(n - rowStart);
    const c = s.ws();
    s.p++;
    if (c === Ch.Comma) continue;
    if (c === Ch.CloseBracket) break;
    return undefined;
  }
  const values = out.slice(0, n);
  // The rest of the object: `}` or `, "k": 10, …}`, which JSON.parse reads (small).
  const c = s.ws();
  let rest: Record<string, unknown> = {};
  if (c === Ch.Comma) {
    s.p++;
    if (s.ws() !== Ch.Quote) return undefined; // a trailing comma, or not a key
    let parsed: unknown;
    try {
      parsed = JSON.parse(`{${text(b, s.p)}`);
    } catch {
      return undefined; // let JSON.parse report it on the whole body
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || Object.hasOwn(parsed, 'embeddings')) return undefined;
    rest = parsed as Record<string, unknown>;
  } else if (c === Ch.CloseBrace) {
    s.p++;
    if (s.ws() !== -1) return undefined;
  } else {
    return undefined;
  }
  return { embeddings: new Float32Rows(values, rowLengths), ...rest };
}

/**
 * One JSON number at s.p as float32, exactly Math.fround(JSON.parse(text)); undefined for
 * anything that is not a JSON number or whose float32 is not finite.
 */
function number(s: Scan): number | undefined {
  const b = s.b;
  const start = s.p;
  let p = start;
  let c = b[p];
  let negative = false;
  if (c === Ch.Minus) {
    negative = true;
    c = b[++p];
  }
  if (c === undefined || c < Ch.Zero || c > Ch.Nine) return undefined;
  s.mantissa = 0;
  s.digits = 0;
  let exponent = 0;
  if (c === Ch.Zero) {
    c = b[++p];
    if (c !== undefined && c >= Ch.Zero && c <= Ch.Nine) return undefined; // no leading zeros in JSON
  } else {
    const runStart = p;
    const taken = digitRun(s, p);
    p = s.p;
    c = b[p];
    exponent += p - runStart - taken; // integer digits beyond MAX_DIGITS scale the value
  }
  if (c === Ch.Dot) {
    c = b[++p];
    if (c === undefined || c < Ch.Zero || c > Ch.Nine) return undefined;
    // Leading zeros of a fraction (0.000123) are not significant digits.
    if (s.mantissa === 0) {
      while (c === Ch.Zero) {
        exponent--;
        c = b[++p];
      }
    }
    exponent -= digitRun(s, p);
    p = s.p;
    c = b[p];
  }
  if (c === Ch.e || c === Ch.E) {
    c = b[++p];
    let sign = 1;
    if (c === Ch.Minus || c === Ch.Plus) {
      if (c === Ch.Minus) sign = -1;
      c = b[++p];
    }
    if (c === undefined || c < Ch.Zero || c > Ch.Nine) return undefined;
    let e = 0;
    while (c !== undefined && c >= Ch.Zero && c <= Ch.Nine) {
      if (e < 100_000) e = e * 10 + (c - Ch.Zero);
      c = b[++p];
    }
    exponent += sign * e;
  }
  s.p = p;
  const mantissa = s.mantissa;
  if (mantissa === 0) return negative ? -0 : 0;
  let f: number;
  if (exponent < -22 || exponent > 22) {
    f = exact(b, start, p);
  } else {
    const x = exponent >= 0 ? mantissa * POW10[exponent]! : mantissa / POW10[-exponent]!;
    // Near a float32 rounding midpoint (or at the edge of the range): decide with the exact parse.
    if (Math.fround(x * (1 - SLACK)) !== Math.fround(x * (1 + SLACK))) f = exact(b, start, p);
    else f = negative ? -Math.fround(x) : Math.fround(x);
  }
  return Number.isFinite(f) ? f : undefined;
}

/**
 * Reads the run of digits at p into s.mantissa (up to MAX_DIGITS significant digits in all,
 * four at a time where it can) and leaves s.p after the run; returns how many digits it took.
 */
function digitRun(s: Scan, p: number): number {
  const b = s.b;
  let taken = 0;
  for (;;) {
    const four = s.digits <= MAX_DIGITS - 4 ? fourDigits(s.words, s.end, p) : -1;
    if (four >= 0) {
      s.mantissa = s.mantissa * 10_000 + four;
      s.digits += 4;
      taken += 4;
      p += 4;
      continue;
    }
    const c = b[p];
    if (c === undefined || c < Ch.Zero || c > Ch.Nine) break;
    if (s.digits < MAX_DIGITS) {
      s.mantissa = s.mantissa * 10 + (c - Ch.Zero);
      s.digits++;
      taken++;
    }
    p++;
  }
  s.p = p;
  return taken;
}

/**
 * The four bytes at p as a number 0..9999 when all four are ASCII digits, else -1 (also when
 * fewer than four bytes are left). One little-endian word instead of four byte loops: a byte x
 * is a digit exactly when its high nibble is 3 and that of x + 6 is still 3; the digits are then
 * combined in pairs (d0·10 + d1 in byte 0, d2·10 + d3 in byte 2) and the pairs into one number.
 */
function fourDigits(words: DataView, end: number, p: number): number {
  if (p + 4 > end) return -1;
  const w = words.getUint32(p, true);
  if (((w & 0xf0f0f0f0) | (((w + 0x06060606) & 0xf0f0f0f0) >>> 4)) !== 0x33333333) return -1;
  const d = w - 0x30303030; // each byte 0..9, so no borrow between bytes
  const pairs = (d * 10 + (d >>> 8)) & 0x00ff00ff;
  return (pairs & 0xff) * 100 + (pairs >>> 16);
}

/** UTF-8 text of the bytes from `from` to the end. */
function text(b: Uint8Array, from = 0, to = b.byteLength): string {
  return Buffer.from(b.buffer, b.byteOffset + from, to - from).toString('utf8');
}

/** The correctly rounded parse of the number's text, as float32 (sign included). */
function exact(b: Uint8Array, from: number, to: number): number {
  return Math.fround(Number(text(b, from, to)));
}
