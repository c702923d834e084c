/**
 * Content type detection from an object's first bytes ("magic bytes"), and the rules that compare it with the
 * type the uploader declared. The declared type is only a claim (any client can send any Content-Type); the
 * bytes are evidence. Pure functions, no I/O.
 */

/** How many leading bytes detection looks at: enough for every signature and a fair sample of text. */
export const SNIFF_BYTES = 4096;

/** Detected type: a binary signature, UTF-8 text (plain or JSON), or unrecognised binary. */
export interface DetectedContentType {
  readonly mime: string;
  readonly kind: 'signature' | 'text' | 'binary';
}

interface Signature {
  readonly mime: string;
  readonly matches: (b: Uint8Array) => boolean;
}

const startsWith = (b: Uint8Array, bytes: readonly number[], offset = 0): boolean =>
  b.length >= offset + bytes.length && bytes.every((v, i) => b[offset + i] === v);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

const SIGNATURES: readonly Signature[] = [
  { mime: 'image/png', matches: (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { mime: 'image/jpeg', matches: (b) => startsWith(b, [0xff, 0xd8, 0xff]) },
  { mime: 'image/gif', matches: (b) => startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a')) },
  { mime: 'image/webp', matches: (b) => startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8) },
  { mime: 'application/pdf', matches: (b) => startsWith(b, ascii('%PDF-')) },
  {
    mime: 'application/zip',
    // Local file header, empty archive, spanned archive.
    matches: (b) =>
      startsWith(b, [0x50, 0x4b, 0x03, 0x04]) ||
      startsWith(b, [0x50, 0x4b, 0x05, 0x06]) ||
      startsWith(b, [0x50, 0x4b, 0x07, 0x08]),
  },
  { mime: 'application/gzip', matches: (b) => startsWith(b, [0x1f, 0x8b]) },
];

/** Types recognised by signature: a declared one of these is contradicted by bytes that lack the signature. */
export const SIGNATURE_TYPES: ReadonlySet<string> = new Set(SIGNATURES.map((s) => s.mime));

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * Detects the type of `head`, the first bytes of an object. `truncated` says the object continues past `head`,
 * so a multi-byte UTF-8 character cut at the end of the sample is not held against it.
 */
export function detectContentType(head: Uint8Array, truncated: boolean): DetectedContentType {
  for (const s of SIGNATURES) {
    if (s.matches(head)) return { mime: s.mime, kind: 'signature' };
  }
  const text = decodeText(head, truncated);
  if (text === undefined) return { mime: 'application/octet-stream', kind: 'binary' };
  // Only an object or array start is evidence of JSON; a bare number or word is just as well plain text.
  const first = text.trimStart().charAt(0);
  return { mime: first === '{' || first === '[' ? 'application/json' : 'text/plain', kind: 'text' };
}

/** Tab, LF, VT, FF, CR and ESC appear in real text files; every other C0 control byte (NUL above all) means binary. */
const isBinaryControl = (byte: number): boolean =>
  byte < 0x20 &&
  byte !== 0x09 &&
  byte !== 0x0a &&
  byte !== 0x0b &&
  byte !== 0x0c &&
  byte !== 0x0d &&
  byte !== 0x1b;

/** The sample as text if it is UTF-8 without binary control bytes, else undefined. */
function decodeText(head: Uint8Array, truncated: boolean): string | undefined {
  const body = startsWith(head, UTF8_BOM) ? head.subarray(UTF8_BOM.length) : head;
  // In UTF-8 every byte below 0x80 is its own character, so control characters can be checked on the bytes.
  if (body.some(isBinaryControl)) return undefined;
  try {
    // `stream: true` tolerates an incomplete sequence at the very end, which only a truncated sample may have.
    return new TextDecoder('utf-8', { fatal: true }).decode(body, { stream: truncated });
  } catch {
    return undefined;
  }
}

const ALIASES: Readonly<Record<string, string>> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'application/x-pdf': 'application/pdf',
  'application/x-zip-compressed': 'application/zip',
  'application/x-gzip': 'application/gzip',
  'text/json': 'application/json',
};

/** Types that say nothing about the content: S3's default when the uploader sent no Content-Type. */
const NO_CLAIM: ReadonlySet<string> = new Set(['application/octet-stream', 'binary/octet-stream']);

/**
 * The declared type reduced to a lowercase `type/subtype` (parameters such as `charset` dropped, common aliases
 * mapped), or undefined when it makes no claim about the content (absent, empty, or a generic octet-stream).
 */
export function normaliseDeclaredType(declared: string | undefined): string | undefined {
  const essence = declared?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (essence === '' || NO_CLAIM.has(essence)) return undefined;
  return ALIASES[essence] ?? essence;
}

const isTextual = (mime: string): boolean =>
  mime.startsWith('text/') || mime === 'application/json' || mime.endsWith('+json') || mime.endsWith('+xml');

const BINARY_FAMILY_RE = /^(image|audio|video|font)\//;

// Office documents, EPUB, JAR and the like are ZIP archives: a ZIP signature does not contradict them.
const isZipContainer = (mime: string): boolean =>
  mime.endsWith('+zip') ||
  mime === 'application/java-archive' ||
  mime.startsWith('application/vnd.openxmlformats-officedocument.') ||
  mime.startsWith('application/vnd.oasis.opendocument.');

/** Whether the bytes contradict a (normalised) declared type. */
export function contradicts(declared: string, detected: DetectedContentType): boolean {
  if (declared === detected.mime) return false;
  switch (detected.kind) {
    case 'signature':
      return !(detected.mime === 'application/zip' && isZipContainer(declared));
    case 'text':
      // Text rules out the formats we recognise and the binary media families; it cannot tell text/csv,
      // application/x-ndjson or application/xml from text/plain, so those claims stand.
      return SIGNATURE_TYPES.has(declared) || (BINARY_FAMILY_RE.test(declared) && !isTextual(declared));
    case 'binary':
      return SIGNATURE_TYPES.has(declared) || isTextual(declared);
  }
}

/**
 * The type the allow-list is checked against: the detected one, except for text. Bytes cannot tell text
 * subtypes apart (text/html and text/csv look like text/plain), so an uncontradicted declared type is the more
 * specific truth and is the one that must be allowed. Binary content must carry a signature we recognise.
 */
export function typeToAllow(declared: string | undefined, detected: DetectedContentType): string {
  return detected.kind === 'text' && declared !== undefined ? declared : detected.mime;
}
