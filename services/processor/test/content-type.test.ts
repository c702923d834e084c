import { describe, expect, it } from 'vitest';
import {
  contradicts,
  detectContentType,
  normaliseDeclaredType,
  SIGNATURE_TYPES,
  typeToAllow,
} from '../src/content-type.ts';
import { SAMPLES } from './support/samples.ts';

describe('detectContentType', () => {
  it.each([
    ['png', SAMPLES.png, 'image/png', 'signature'],
    ['jpeg', SAMPLES.jpeg, 'image/jpeg', 'signature'],
    ['gif87a', SAMPLES.gif87, 'image/gif', 'signature'],
    ['gif89a', SAMPLES.gif89, 'image/gif', 'signature'],
    ['webp', SAMPLES.webp, 'image/webp', 'signature'],
    ['pdf', SAMPLES.pdf, 'application/pdf', 'signature'],
    ['zip', SAMPLES.zip, 'application/zip', 'signature'],
    ['empty zip', SAMPLES.emptyZip, 'application/zip', 'signature'],
    ['gzip', SAMPLES.gzip, 'application/gzip', 'signature'],
    ['json object', SAMPLES.json, 'application/json', 'text'],
    ['json array', SAMPLES.jsonArray, 'application/json', 'text'],
    ['plain text', SAMPLES.text, 'text/plain', 'text'],
    ['RIFF that is not WebP', SAMPLES.wav, 'application/octet-stream', 'binary'],
    ['unrecognised binary', SAMPLES.elf, 'application/octet-stream', 'binary'],
  ])('%s -> %s', (_name, head, mime, kind) => {
    expect(detectContentType(head, false)).toEqual({ mime, kind });
  });

  it('skips a UTF-8 byte order mark', () => {
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"a":1}')]);
    expect(detectContentType(withBom, false).mime).toBe('application/json');
  });

  it('calls text that merely starts like a number or word plain text, not JSON', () => {
    expect(detectContentType(new TextEncoder().encode('42 is the answer'), false).mime).toBe('text/plain');
  });

  it('treats a NUL or other control byte as binary', () => {
    expect(detectContentType(new TextEncoder().encode('abc\u0000def'), false).kind).toBe('binary');
    expect(detectContentType(new TextEncoder().encode('abc\u0007def'), false).kind).toBe('binary');
  });

  it('treats invalid UTF-8 as binary', () => {
    expect(detectContentType(new Uint8Array([0x61, 0xc3, 0x28, 0x62]), false).kind).toBe('binary');
  });

  it('tolerates a multi-byte character cut at the end of a truncated sample, and only then', () => {
    const cut = new TextEncoder().encode('price: 10 \u20ac').subarray(0, -1); // the euro sign loses its last byte
    expect(detectContentType(cut, true).mime).toBe('text/plain');
    expect(detectContentType(cut, false).kind).toBe('binary');
  });

  it('recognises a signature needing more bytes than the sample only if they are there', () => {
    expect(detectContentType(SAMPLES.png.subarray(0, 7), false).kind).not.toBe('signature');
  });
});

describe('normaliseDeclaredType', () => {
  it.each([
    ['image/PNG', 'image/png'],
    ['text/plain; charset=utf-8', 'text/plain'],
    ['image/jpg', 'image/jpeg'],
    ['application/x-gzip', 'application/gzip'],
    [' application/json ', 'application/json'],
  ])('%s -> %s', (declared, normalised) => {
    expect(normaliseDeclaredType(declared)).toBe(normalised);
  });

  it.each([undefined, '', 'application/octet-stream', 'binary/octet-stream'])(
    'treats %s as making no claim',
    (declared) => {
      expect(normaliseDeclaredType(declared)).toBeUndefined();
    },
  );
});

describe('contradicts', () => {
  const png = detectContentType(SAMPLES.png, false);
  const zip = detectContentType(SAMPLES.zip, false);
  const text = detectContentType(SAMPLES.text, false);
  const json = detectContentType(SAMPLES.json, false);
  const binary = detectContentType(SAMPLES.elf, false);

  it.each([
    ['image/png', png, false],
    ['image/jpeg', png, true],
    ['text/plain', png, true],
    ['application/zip', zip, false],
    ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', zip, false],
    ['application/epub+zip', zip, false],
    ['application/pdf', zip, true],
    ['text/plain', text, false],
    ['text/csv', text, false],
    ['application/json', text, false],
    ['text/plain', json, false],
    ['image/png', text, true],
    ['image/svg+xml', text, false],
    ['video/mp4', text, true],
    ['image/png', binary, true],
    ['text/plain', binary, true],
    ['application/json', binary, true],
    ['video/mp4', binary, false],
  ] as const)('declared %s vs detected %o -> %s', (declared, detected, expected) => {
    expect(contradicts(declared, detected)).toBe(expected);
  });

  it('holds every recognised signature type against text', () => {
    for (const mime of SIGNATURE_TYPES) expect(contradicts(mime, text)).toBe(true);
  });
});

describe('typeToAllow', () => {
  it('uses the detected type for signatures and unrecognised binary', () => {
    expect(typeToAllow('image/png', detectContentType(SAMPLES.png, false))).toBe('image/png');
    expect(typeToAllow('video/mp4', detectContentType(SAMPLES.elf, false))).toBe('application/octet-stream');
  });

  it('uses the declared type for text, which bytes cannot tell apart', () => {
    expect(typeToAllow('text/html', detectContentType(SAMPLES.text, false))).toBe('text/html');
    expect(typeToAllow(undefined, detectContentType(SAMPLES.json, false))).toBe('application/json');
  });
});
