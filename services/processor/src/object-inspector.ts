/**
 * Reads what the processor needs to know about a created object with ONE ranged GetObject: the first bytes (for
 * type detection), the declared Content-Type, the ETag and, from Content-Range, the total size. No HeadObject:
 * the GET response carries every header a HEAD would.
 */
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { SNIFF_BYTES } from './content-type.ts';

/** The object version the event announced. */
export interface ObjectVersionRef {
  readonly bucket: string;
  readonly key: string;
  /** Reads exactly this version when set (versioned bucket). */
  readonly versionId?: string;
  /** The ETag the event announced; a different ETag means the key was overwritten since. */
  readonly eTag?: string;
}

export type Inspection =
  | {
      readonly found: true;
      /** Up to `SNIFF_BYTES` leading bytes. */
      readonly head: Uint8Array;
      /** Total size from Content-Range. */
      readonly totalSize: number;
      readonly declaredContentType?: string;
      readonly eTag: string;
    }
  | {
      readonly found: false;
      /** Why the announced version is no longer there: deleted (`gone`) or replaced by a newer one (`changed`). */
      readonly why: 'gone' | 'changed';
    };

/** S3 error names meaning the announced object (or version) no longer exists. */
const GONE_ERRORS: ReadonlySet<string> = new Set(['NoSuchKey', 'NoSuchVersion', 'NotFound']);

const unquote = (etag: string): string => etag.replace(/^"|"$/g, '');

/** Fetches the first bytes and the headers of an object. Errors other than "gone" propagate, with their cause. */
export async function inspectObject(s3: S3Client, ref: ObjectVersionRef): Promise<Inspection> {
  let response: GetObjectCommandOutput;
  try {
    response = await s3.send(
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        VersionId: ref.versionId,
        Range: `bytes=0-${SNIFF_BYTES - 1}`,
      }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (GONE_ERRORS.has(name)) return { found: false, why: 'gone' };
    // The object is now empty, so no byte range fits: the announced (non-empty) content was overwritten.
    if (name === 'InvalidRange') return { found: false, why: 'changed' };
    throw error;
  }
  const head = response.Body ? await response.Body.transformToByteArray() : new Uint8Array();
  const eTag = unquote(response.ETag ?? '');
  if (ref.versionId === undefined && ref.eTag !== undefined && eTag !== '' && eTag !== unquote(ref.eTag)) {
    return { found: false, why: 'changed' };
  }
  return {
    found: true,
    head,
    totalSize: totalSizeOf(response.ContentRange) ?? response.ContentLength ?? head.length,
    eTag: eTag === '' ? (ref.eTag ?? '') : eTag,
    ...(response.ContentType !== undefined && { declaredContentType: response.ContentType }),
  };
}

/** `bytes 0-4095/123456` -> 123456. */
function totalSizeOf(contentRange: string | undefined): number | undefined {
  const total = contentRange?.match(/\/(\d+)$/)?.[1];
  return total === undefined ? undefined : Number(total);
}
