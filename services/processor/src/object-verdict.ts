/**
 * The object checks: size limit, then content type (detected from the bytes, compared with the declared type,
 * checked against the allow-list). A failed check is an outcome (the object is recorded REJECTED with a reason),
 * not an error: retrying would give the same answer.
 */
import {
  contradicts,
  type DetectedContentType,
  detectContentType,
  normaliseDeclaredType,
  typeToAllow,
} from './content-type.ts';

export type RejectionCode =
  | 'OBJECT_TOO_LARGE'
  | 'EMPTY_OBJECT'
  | 'CONTENT_TYPE_MISMATCH'
  | 'CONTENT_TYPE_NOT_ALLOWED';

/** Why an object was rejected: a stable machine-readable code and a sentence for people. */
export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
}

export interface ObjectLimits {
  readonly maxObjectBytes: number;
  readonly allowedContentTypes: ReadonlySet<string>;
}

/**
 * Checks the size announced by the event, before any read. An empty object is rejected: it has no content whose
 * type could be checked (and S3 answers a ranged GET of an empty object with 416, so it is not read either).
 */
export function checkSize(size: number, limits: ObjectLimits): Rejection | undefined {
  if (size === 0) {
    return { code: 'EMPTY_OBJECT', message: 'The object is empty (0 bytes); there is no content to check.' };
  }
  if (size > limits.maxObjectBytes) {
    return {
      code: 'OBJECT_TOO_LARGE',
      message: `The object is ${size} bytes; the limit (MAX_OBJECT_BYTES) is ${limits.maxObjectBytes} bytes.`,
    };
  }
  return undefined;
}

export interface ContentVerdict {
  readonly detected: DetectedContentType;
  readonly rejection?: Rejection;
}

/** Detects the content type of an object from its first bytes and checks it against the declared type and the allow-list. */
export function checkContent(
  head: Uint8Array,
  totalSize: number,
  declaredContentType: string | undefined,
  limits: ObjectLimits,
): ContentVerdict {
  const detected = detectContentType(head, totalSize > head.length);
  const declared = normaliseDeclaredType(declaredContentType);
  if (declared !== undefined && contradicts(declared, detected)) {
    return {
      detected,
      rejection: {
        code: 'CONTENT_TYPE_MISMATCH',
        message: `The object is declared as ${declared} but its bytes are ${describe(detected)}.`,
      },
    };
  }
  const effective = typeToAllow(declared, detected);
  if (!limits.allowedContentTypes.has(effective)) {
    return {
      detected,
      rejection: {
        code: 'CONTENT_TYPE_NOT_ALLOWED',
        message: `The object's content type ${effective} is not one of ALLOWED_CONTENT_TYPES (${[...limits.allowedContentTypes].join(', ')}).`,
      },
    };
  }
  return { detected };
}

function describe(detected: DetectedContentType): string {
  switch (detected.kind) {
    case 'signature':
      return detected.mime;
    case 'text':
      return `text (${detected.mime})`;
    case 'binary':
      return 'binary data of no recognised format';
  }
}
