import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeS3Key, encodeS3Key } from '../src/s3-key.ts';

/**
 * Keys built to break an encoder: the characters with a meaning in form or URL encoding ('+' and '%' above all,
 * which a decoder reads as a space and an escape), path and query delimiters, characters S3 advises against,
 * controls, and multi-byte UTF-8 up to four bytes (astral code points are surrogate pairs in UTF-16).
 */
const HOSTILE = [
  ...' +%/?#&=;:@$,!~*\'()[]{}<>|\\^`"._-',
  '%2B',
  '%20',
  '%2F',
  '+%',
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\u007f',
  '\u00a0',
  'é',
  'e\u0301',
  '日本',
  '😀',
  '\u{10ffff}',
  '\ufeff',
  '\u2028',
];
const hostileKey = fc.string({ unit: fc.constantFrom(...HOSTILE), minLength: 1, maxLength: 40 });
const anyCodePointKey = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });

describe('decodeS3Key', () => {
  it.each([
    ['my+photo.jpg', 'my photo.jpg'],
    ['a%2Bb.txt', 'a+b.txt'],
    ['a%2Bb+c.txt', 'a+b c.txt'],
    ['images/2026/01/cat.png', 'images/2026/01/cat.png'],
    ['deep/nested%2Fslash/x', 'deep/nested/slash/x'],
    ['%C3%A9t%C3%A9+%F0%9F%93%B7.png', 'été 📷.png'],
    ['100%25+done.txt', '100% done.txt'],
    ['%E6%97%A5%E6%9C%AC/%E8%AA%9E.txt', '日本/語.txt'],
  ])('decodes %s to %s', (encoded, decoded) => {
    expect(decodeS3Key(encoded)).toBe(decoded);
  });

  it('rejects what is not valid percent-encoding', () => {
    expect(() => decodeS3Key('bad%E0%A4%A')).toThrow(URIError);
  });
});

describe('encodeS3Key', () => {
  it.each([
    ['red flower.jpg', 'red+flower.jpg'], // the example in the S3 notification documentation
    ['a@b', 'a%40b'], // as real S3 sends it
    ['in/dir1/file.txt', 'in/dir1/file.txt'], // as real S3 sends it: '/' kept
    ['a b+c/d.txt', 'a+b%2Bc/d.txt'],
    ['a+b.txt', 'a%2Bb.txt'],
    ['nested/sub dir/file.png', 'nested/sub+dir/file.png'],
    ['café/日本.png', 'caf%C3%A9/%E6%97%A5%E6%9C%AC.png'],
    ['smile 😀.gif', 'smile+%F0%9F%98%80.gif'],
    ['100%.txt', '100%25.txt'],
    ['dt=2025-01-01/a:b,c(1).log', 'dt%3D2025-01-01/a%3Ab%2Cc%281%29.log'],
    ["~!'()", '%7E%21%27%28%29'],
    ['plain-name_1.0*', 'plain-name_1.0*'],
  ])('encodes %j as %j', (key, encoded) => {
    expect(encodeS3Key(key)).toBe(encoded);
  });

  it('leaves only letters, digits, *-._ and / unescaped, and never a space', () => {
    fc.assert(
      fc.property(fc.oneof(hostileKey, anyCodePointKey), (key) => {
        expect(encodeS3Key(key)).toMatch(/^(?:[A-Za-z0-9*\-._/+]|%[0-9A-F]{2})+$/);
      }),
    );
  });

  it('refuses a string with a lone surrogate, which has no UTF-8 form and so is no S3 key', () => {
    expect(() => encodeS3Key('a\ud800b')).toThrow(/lone UTF-16 surrogate/);
  });
});

describe('decodeS3Key(encodeS3Key(key))', () => {
  it('is the key for hostile keys', () => {
    fc.assert(
      fc.property(hostileKey, (key) => {
        expect(decodeS3Key(encodeS3Key(key))).toBe(key);
      }),
      { numRuns: 200 },
    );
  });

  it('is the key for any string of code points, and for any printable grapheme string', () => {
    fc.assert(
      fc.property(fc.oneof(anyCodePointKey, fc.string({ unit: 'grapheme', minLength: 1 })), (key) => {
        expect(decodeS3Key(encodeS3Key(key))).toBe(key);
      }),
      { numRuns: 200 },
    );
  });
});
