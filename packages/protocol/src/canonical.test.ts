import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalize } from './canonical.js';
import { fromHex, toHex } from './encoding.js';

// RFC 8785 reference data (cyberphone/json-canonicalization), checked in: test/vectors/README.md.
interface JcsCase {
  name: string;
  input: string;
  expected: string | null;
  expected_note?: string;
  expected_utf8_hex?: string;
}
const data = JSON.parse(readFileSync(new URL('../../../test/vectors/jcs-rfc8785.json', import.meta.url), 'utf8')) as {
  cases: JcsCase[];
  es6_number_samples: { samples: { ieee754_hex: string; expected: string }[] };
  outhex_simpleString: { hex: string };
};
const withExpected = data.cases.filter((c) => c.expected !== null);
const withoutExpected = data.cases.filter((c) => c.expected === null);

describe('RFC 8785 canonical JSON', () => {
  it('has 7 cases, 6 with an expected output; "arrays" has none (its output file was not available)', () => {
    expect(withExpected).toHaveLength(6);
    expect(withoutExpected.map((c) => c.name)).toEqual(['arrays']);
  });

  it.each(withExpected.map((c) => [c.name, c] as const))('%s', (_, c) => {
    expect(canonicalize(JSON.parse(c.input))).toBe(c.expected);
    if (c.expected_utf8_hex !== undefined) expect(toHex(canonicalBytes(JSON.parse(c.input)))).toBe(c.expected_utf8_hex);
  });

  it.skip.each(withoutExpected.map((c) => [c.name, c.expected_note] as const))('%s: skipped, %s', () => {});

  it.each(data.es6_number_samples.samples.map((s) => [s.ieee754_hex, s.expected] as const))(
    'number with IEEE 754 bits %s serialises as %s',
    (bits, expected) => {
      const value = new DataView(fromHex(bits.padStart(16, '0')).buffer).getFloat64(0);
      expect(canonicalize(value)).toBe(expected);
    },
  );

  it('simpleString gives the published output bytes', () => {
    const simple = withExpected.find((c) => c.name === 'simpleString')!;
    expect(toHex(canonicalBytes(JSON.parse(simple.input)))).toBe(data.outhex_simpleString.hex.replaceAll(' ', '').toLowerCase());
  });

  it('refuses a value without a JSON form', () => {
    expect(() => canonicalize(undefined)).toThrow(TypeError);
  });
});
