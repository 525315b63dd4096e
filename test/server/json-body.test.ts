/**
 * The JSON body fast path gives bit for bit what JSON.parse + Math.fround give, for every kind
 * of number a client sends (float32 values printed as doubles, short decimals, integers,
 * exponents, values at float32 rounding midpoints, tiny and huge ones), and leaves every body it
 * does not fully understand to JSON.parse (same result or same SyntaxError).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJsonBody } from '../../src/server/json-body.js';
import { scanMemoryBytes } from '../../src/server/json-scan.js';
import { Float32Rows } from '../../src/service/float32-rows.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** What the engine got before the fast path: JSON.parse, then each embedding value through Math.fround. */
function reference(text: string): { rows: number[][]; rest: Record<string, unknown> } {
  const { embeddings, ...rest } = JSON.parse(text) as { embeddings: number[][] };
  return { rows: embeddings.map((r) => r.map((x) => Math.fround(x))), rest };
}

function assertSame(text: string): void {
  const got = parseJsonBody(enc(text)) as Record<string, unknown>;
  const want = reference(text);
  const { embeddings, ...rest } = got;
  assert.deepEqual(rest, want.rest);
  if (embeddings instanceof Float32Rows) {
    assert.deepEqual([...embeddings.rowLengths], want.rows.map((r) => r.length));
    let at = 0;
    want.rows.forEach((row, r) =>
      row.forEach((x, j) => {
        const y = embeddings.values[at++]!;
        assert.ok(Object.is(x, y), `row ${r} value ${j}: ${text.length > 200 ? '' : text} gave ${y}, JSON.parse ${x}`);
      }),
    );
  } else {
    // Left to JSON.parse: then the values are what JSON.parse made.
    assert.deepEqual((embeddings as number[][]).map((r) => r.map((x) => Math.fround(x))), want.rows);
  }
}

/** Deterministic pseudo-random numbers (xorshift). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

test('float32 values printed as doubles (what clients send) come back bit for bit, on the fast path', () => {
  const r = rng(7);
  const f32 = new Float32Array(784);
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < f32.length; i++) f32[i] = (r() * 2 - 1) * 10 ** Math.floor(r() * 12 - 6);
    const text = `{"embeddings":[[${Array.from(f32).join(',')}]],"k":10}`;
    const got = parseJsonBody(enc(text)) as { embeddings: unknown; k: number };
    assert.ok(got.embeddings instanceof Float32Rows, 'the fast path took it');
    assert.deepEqual(got.embeddings.values, f32);
    assert.equal(got.k, 10);
  }
});

test('any decimal: random digits and exponents, integers, zeros, short and 25-digit mantissas', () => {
  const r = rng(11);
  const nums: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const digits = 1 + Math.floor(r() * 25);
    let m = String(1 + Math.floor(r() * 9));
    for (let d = 1; d < digits; d++) m += String(Math.floor(r() * 10));
    const point = Math.floor(r() * (digits + 1));
    let s = point === digits ? m : `${m.slice(0, point) || '0'}.${m.slice(point)}`;
    if (r() < 0.4) s += `${r() < 0.5 ? 'e' : 'E'}${['', '+', '-'][Math.floor(r() * 3)]}${Math.floor(r() * 45)}`;
    nums.push(r() < 0.5 ? `-${s}` : s);
  }
  nums.push('0', '-0', '0.0', '-0.0', '0e5', '-0e-5', '1e-22', '1e22', '1e23', '1e-45', '1.4e-45', '7e-46', '1e-50', '3.4028234e38', '3.4028235e38', '3.4028235677973366e38', '1e-38', '1.1754942e-38');
  for (let i = 0; i < nums.length; i += 100) assertSame(`{"embeddings":[[${nums.slice(i, i + 100).join(',')}]]}`);
  // Exponents too long to add up, offset by as many zeros or dropped digits (found by review:
  // these gave 1, 1.5 and 99999998430674940 instead of Infinity, Infinity and 0).
  for (const n of [`0.${'0'.repeat(99_999)}1e1000000`, `0.${'0'.repeat(99_999)}15e1000001`, `1${'0'.repeat(100_017)}e-1000000`, `-1${'0'.repeat(100_017)}e-1000000`]) {
    assertSame(`{"embeddings":[[${n}]]}`);
  }
  assertSame(`{"embeddings":[[1${'0'.repeat(100_000)}e-100000, 0.${'0'.repeat(100_000)}25e100001]]}`);
});

test('values at float32 rounding midpoints are decided as JSON.parse + fround decides them', () => {
  const r = rng(5);
  const f = new Float32Array(2);
  const u = new Uint32Array(f.buffer);
  const nums: string[] = [];
  for (let i = 0; i < 5000; i++) {
    u[0] = Math.floor(r() * 0x7f000000);
    u[1] = u[0] + 1;
    const mid = (f[0]! + f[1]!) / 2; // exact in a double: float32 values have 24-bit mantissas
    nums.push(mid.toPrecision(17), mid.toPrecision(21), (mid * (1 + 2 ** -52)).toPrecision(21), (mid * (1 - 2 ** -52)).toPrecision(21), mid.toExponential(30));
  }
  for (let i = 0; i < nums.length; i += 100) assertSame(`{"embeddings":[[${nums.slice(i, i + 100).join(',')}]]}`);
});

test('digits read eight at a time: fractions with leading zeros, runs of every length across the eight-digit steps, digits beside ASCII / and :', () => {
  const r = rng(3);
  const run = (n: number): string => Array.from({ length: n }, (_, i) => String(i === 0 ? 1 + Math.floor(r() * 9) : Math.floor(r() * 10))).join('');
  const nums: string[] = [];
  for (let len = 1; len <= 30; len++) {
    for (let zeros = 0; zeros <= 9; zeros++) {
      nums.push(`0.${'0'.repeat(zeros)}${run(len)}`, `-0.${'0'.repeat(zeros)}${run(len)}`, `${run(len)}.${'0'.repeat(zeros)}${run(len)}`, `${run(len)}${'0'.repeat(zeros)}`, `0.${'0'.repeat(zeros)}${run(len)}e${zeros}`);
    }
  }
  for (let i = 0; i < nums.length; i += 97) assertSame(`{"embeddings":[[${nums.slice(i, i + 97).join(',')}]]}`);
  // The last number ends the body's digits at every offset from its end (fewer than eight bytes left).
  for (let len = 1; len <= 20; len++) assertSame(`{"embeddings":[[${run(len)}]]}`);
  for (const text of ['{"embeddings":[[1234/5678]]}', '{"embeddings":[[12345:678]]}', '{"embeddings":[[0.123/]]}', '{"embeddings":[[9999:]]}']) {
    assert.throws(() => JSON.parse(text), SyntaxError);
    assert.throws(() => parseJsonBody(enc(text)), SyntaxError, text);
  }
});

test('several rows, whitespace between tokens, other keys after the embeddings', () => {
  assertSame('{"embeddings":[[1,2,3],[4.5,-6e-3,0]],"k":3,"include":["distances","metadatas"]}');
  const spaced = ' { "embeddings" : [ [ 1 , 2 ] ,\n[3,\t4] ] , "k" : 2 , "ef" : 64 } \n';
  assertSame(spaced);
  assert.ok((parseJsonBody(enc(spaced)) as { embeddings: unknown }).embeddings instanceof Float32Rows, 'whitespace stays on the fast path');
  assert.ok((parseJsonBody(enc('{"embeddings":[ [ \r1 ,\t-2.5e1\n] , [ ] ] }')) as { embeddings: unknown }).embeddings instanceof Float32Rows);
  assertSame('{"embeddings":[[],[1]]}');
  const got = parseJsonBody(enc('{"embeddings":[[1,2],[3]],"k":2}')) as { embeddings: Float32Rows };
  assert.deepEqual([...got.embeddings.rowLengths], [2, 1], 'row lengths are kept for validation');
});

test('bodies the fast path does not fully understand go to JSON.parse: same value or same error', () => {
  const same = [
    '{"k":10,"embeddings":[[1,2]]}', // embeddings not first
    '{"embeddings":[]}',
    '{"embeddings":[[1,2]],"embeddings":[[3,4]]}', // repeated key: the last wins, as in JSON.parse
    '{"embeddings":[[1e39]]}', // overflows float32: validation must see the number
    '{"embeddings":[[1,"2"]]}',
    '{"embeddings":[[1,null]]}',
    '{"embeddings":[[1,2]]}',
  ];
  for (const text of same) assert.deepEqual(JSON.parse(JSON.stringify(parseJsonBody(enc(text)), (_k, v: unknown) => (v instanceof Float32Rows ? chunk(v) : v))), JSON.parse(text), text);
  const bad = ['{"embeddings":[[1,2]],}', '{"embeddings":[[01]]}', '{"embeddings":[[1.]]}', '{"embeddings":[[.5]]}', '{"embeddings":[[+1]]}', '{"embeddings":[[1,2]] x', '{"embeddings":[[1,2]]', '{"embeddings":[[1,2],]]}', '{"embeddings":[[-]]}', '{"embeddings":[[1e]]}', '\ufeff{"embeddings":[[1]]}'];
  for (const text of bad) {
    let want: unknown;
    try {
      JSON.parse(text);
    } catch (err) {
      want = err;
    }
    assert.ok(want instanceof SyntaxError, `JSON.parse accepts ${text}`);
    assert.throws(() => parseJsonBody(enc(text)), SyntaxError, text);
  }
});

test('a body cut short anywhere fails as JSON.parse fails: the scan stops at the end of the body', () => {
  const whole = '{"embeddings":[[12345678.12345678, -0.5e-3 ,7],[1234567890123456789012, 0.000012345678901]],"k":3}';
  // Longest first: the scan's memory then still holds the rest of the body after each cut, and the
  // caller's bytes are a view into the whole body; the answer must not depend on either.
  for (let cut = whole.length - 1; cut > 0; cut--) {
    const text = whole.slice(0, cut);
    assert.throws(() => JSON.parse(text), SyntaxError);
    const bytes = enc(whole).subarray(0, cut);
    assert.throws(() => parseJsonBody(bytes), SyntaxError, text);
  }
  assertSame(whole);
});

test('bodies of every size: a large one (its scan memory is let go afterwards), then small ones again; more rows than the scan takes', () => {
  const r = rng(19);
  const rows = Array.from({ length: 900 }, () => Array.from({ length: 784 }, () => Math.fround(r() * 2 - 1)));
  const large = `{"embeddings":${JSON.stringify(rows)},"k":1}`;
  assertSame('{"embeddings":[[1.5,2.25]],"k":1}');
  const kept = scanMemoryBytes();
  assert.ok(kept > 0 && kept < 1024 * 1024, `a small body keeps a small scan memory (${kept} bytes)`);
  const got = parseJsonBody(enc(large)) as { embeddings: Float32Rows };
  assert.ok(got.embeddings instanceof Float32Rows);
  assert.deepEqual(got.embeddings.values, Float32Array.from(rows.flat()));
  assert.equal(got.embeddings.rowLengths.length, 900);
  assert.equal(scanMemoryBytes(), 0, `the ${large.length}-byte body's scan memory is let go`);
  assertSame('{"embeddings":[[1.5,2.25]],"k":1}');
  assert.ok(scanMemoryBytes() > 0 && scanMemoryBytes() < 1024 * 1024);
  // 70,000 rows: more than the scan keeps room for; JSON.parse gives the same answer.
  assertSame(`{"embeddings":[${'[],'.repeat(70_000)}[1]]}`);
  assertSame(`{"embeddings":[${'[],'.repeat(1000)}[1]]}`);
});

/** Float32Rows back to number rows, for comparing with JSON.parse. */
function chunk(v: Float32Rows): number[][] {
  const rows: number[][] = [];
  let at = 0;
  for (const n of v.rowLengths) {
    rows.push(Array.from(v.values.subarray(at, at + n)));
    at += n;
  }
  return rows;
}
