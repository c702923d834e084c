import { describe, expect, it } from 'vitest';
import { checkContent, checkSize } from '../src/object-verdict.ts';
import { SAMPLES } from './support/samples.ts';

const limits = {
  maxObjectBytes: 1000,
  allowedContentTypes: new Set(['image/png', 'image/jpeg', 'text/plain', 'application/json']),
};

describe('checkSize', () => {
  it('accepts sizes from 1 byte up to the limit', () => {
    expect(checkSize(1, limits)).toBeUndefined();
    expect(checkSize(1000, limits)).toBeUndefined();
  });

  it('rejects an object above the limit, naming both figures and the variable', () => {
    expect(checkSize(1001, limits)).toEqual({
      code: 'OBJECT_TOO_LARGE',
      message: 'The object is 1001 bytes; the limit (MAX_OBJECT_BYTES) is 1000 bytes.',
    });
  });

  it('rejects an empty object', () => {
    expect(checkSize(0, limits)?.code).toBe('EMPTY_OBJECT');
  });
});

describe('checkContent', () => {
  it('accepts an allowed type whose bytes match the declared type', () => {
    expect(checkContent(SAMPLES.png, 5000, 'image/png', limits)).toEqual({
      detected: { mime: 'image/png', kind: 'signature' },
    });
  });

  it('accepts an allowed type when the upload declared nothing specific', () => {
    expect(checkContent(SAMPLES.jpeg, 5000, 'binary/octet-stream', limits).rejection).toBeUndefined();
    expect(checkContent(SAMPLES.jpeg, 5000, undefined, limits).rejection).toBeUndefined();
  });

  it('rejects bytes that contradict the declared type', () => {
    expect(checkContent(SAMPLES.jpeg, 5000, 'image/png', limits).rejection).toEqual({
      code: 'CONTENT_TYPE_MISMATCH',
      message: 'The object is declared as image/png but its bytes are image/jpeg.',
    });
    expect(checkContent(SAMPLES.text, 50, 'image/png', limits).rejection).toEqual({
      code: 'CONTENT_TYPE_MISMATCH',
      message: 'The object is declared as image/png but its bytes are text (text/plain).',
    });
    expect(checkContent(SAMPLES.elf, 50, 'text/plain', limits).rejection?.message).toBe(
      'The object is declared as text/plain but its bytes are binary data of no recognised format.',
    );
  });

  it('rejects a type that is not allowed, even when declared honestly', () => {
    expect(checkContent(SAMPLES.zip, 5000, 'application/zip', limits).rejection).toEqual({
      code: 'CONTENT_TYPE_NOT_ALLOWED',
      message:
        "The object's content type application/zip is not one of ALLOWED_CONTENT_TYPES (image/png, image/jpeg, text/plain, application/json).",
    });
  });

  it('rejects text declared as a text type that is not allowed (bytes cannot vouch for HTML being harmless)', () => {
    expect(checkContent(SAMPLES.text, 50, 'text/html; charset=utf-8', limits).rejection?.code).toBe(
      'CONTENT_TYPE_NOT_ALLOWED',
    );
  });

  it('accepts JSON declared as text/plain and plain text declared as JSON', () => {
    expect(checkContent(SAMPLES.json, 50, 'text/plain', limits).rejection).toBeUndefined();
    expect(
      checkContent(new TextEncoder().encode('42'), 2, 'application/json', limits).rejection,
    ).toBeUndefined();
  });

  it('rejects unrecognised binary whatever it claims to be', () => {
    expect(checkContent(SAMPLES.elf, 50, 'video/mp4', limits).rejection?.code).toBe(
      'CONTENT_TYPE_NOT_ALLOWED',
    );
  });
});
