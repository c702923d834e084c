import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareSequencers, normaliseSequencer, SEQUENCER_WIDTH } from '../src/sequencer.ts';

/** Hex strings of 1..SEQUENCER_WIDTH digits, sometimes with leading zeros, in either case. */
const hex = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 1, maxLength: 26 }),
    fc.nat(4),
  )
  .map(([digits, zeros]) => '0'.repeat(zeros) + digits);
const sign = (n: number | bigint) => (n > 0 ? 1 : n < 0 ? -1 : 0);

describe('normaliseSequencer', () => {
  it('left-pads to a fixed width, uppercase', () => {
    expect(normaliseSequencer('0055aed6dcd90281e5')).toBe('55AED6DCD90281E5'.padStart(SEQUENCER_WIDTH, '0'));
  });

  it('makes string order equal numeric order, whatever the lengths', () => {
    fc.assert(
      fc.property(hex, hex, (a, b) => {
        const numeric = sign(BigInt(`0x${a}`) - BigInt(`0x${b}`));
        const normalisedA = normaliseSequencer(a);
        const normalisedB = normaliseSequencer(b);
        const asStrings = normalisedA < normalisedB ? -1 : normalisedA > normalisedB ? 1 : 0;
        expect(asStrings).toBe(numeric);
        expect(sign(compareSequencers(a, b))).toBe(numeric);
      }),
    );
  });

  it('orders the documented case: a shorter sequencer can be the newer one only if numerically larger', () => {
    // Raw string comparison gets this wrong ('FF' > '100' as strings); padding gets it right.
    expect('FF' > '100').toBe(true);
    expect(compareSequencers('FF', '100')).toBeLessThan(0);
  });

  it('maps equal numbers to the same string (duplicates compare equal)', () => {
    expect(normaliseSequencer('000abc')).toBe(normaliseSequencer('ABC'));
  });

  it('rejects non-hex input and numbers too wide to order', () => {
    expect(() => normaliseSequencer('12G4')).toThrow('sequencer "12G4" is not hexadecimal');
    expect(() => normaliseSequencer('')).toThrow('is not hexadecimal');
    expect(() => normaliseSequencer('1'.repeat(SEQUENCER_WIDTH + 1))).toThrow(
      'more than 32 significant hex digits',
    );
    expect(normaliseSequencer(`00${'F'.repeat(SEQUENCER_WIDTH)}`)).toBe('F'.repeat(SEQUENCER_WIDTH));
  });
});
