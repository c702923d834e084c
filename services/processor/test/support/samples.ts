/** Leading bytes of real files of each format the processor recognises. */
const bytes = (...parts: (number[] | string)[]): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

export const SAMPLES = {
  png: bytes(
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d],
    'IHDR',
    [0, 0, 0, 1, 0, 0, 0, 1],
  ),
  jpeg: bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF', [0]),
  gif87: bytes('GIF87a', [1, 0, 1, 0, 0x80, 0, 0]),
  gif89: bytes('GIF89a', [1, 0, 1, 0, 0x80, 0, 0]),
  webp: bytes('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 ', [0x18, 0, 0, 0]),
  pdf: bytes('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n'),
  zip: bytes([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0]),
  emptyZip: bytes([0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]),
  gzip: bytes([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]),
  json: new TextEncoder().encode('  {"name": "caf\u00e9", "tags": ["a", "b"]}\n'),
  jsonArray: new TextEncoder().encode('[1, 2, 3]'),
  text: new TextEncoder().encode('Hello, world!\r\n\tIndented line \u2713\n'),
  /** A RIFF container that is not WebP (a WAV file). */
  wav: bytes('RIFF', [0x24, 0, 0, 0], 'WAVEfmt '),
  /** Binary data with no recognised signature (an ELF executable). */
  elf: bytes([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]),
} as const;
