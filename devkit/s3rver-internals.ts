/**
 * The places where s3rver (3.7) answers differently from S3 in ways a local user hits at once, corrected
 * through its internals or its requests. Every reach into s3rver's private modules is here (and in s3rver-events.ts for removal
 * events), and each checks the shape it relies on, so an upgrade that moves them fails loudly at start-up
 * instead of quietly bringing the differences back.
 *
 * 1. Credentials. s3rver looks up the access key of every signed request in its account registry, which holds
 *    one pair, S3RVER/S3RVER; any other key is `InvalidAccessKeyId`. A developer's shell usually carries real
 *    credentials or a profile (and LocalStack users export test/test), so every command failed until they
 *    overrode them. Local AWS stand-ins conventionally accept any credentials, as dynalite does: here any
 *    non-empty access key resolves to s3rver's one account, and signatures are not checked (s3rver never checks
 *    SigV4 ones anyway; it cannot check a SigV2 one without the secret).
 * 2. Consistent objects. s3rver writes an upload in place (the object file truncated, then streamed, then its
 *    MD5 and metadata files), so a GET racing an overwrite read a file being replaced: a wrong length, then
 *    ECONNRESET, and the processor's message was retried 181 s later as stale. S3 serves the old or the new
 *    object, whole. Here an upload is staged beside the store and moved into place with renames while no read
 *    of that key is between reading its metadata and opening its file; a read that has opened the file keeps
 *    the old object (POSIX rename keeps open files intact).
 * 3. Copy sources. s3rver reads x-amz-copy-source with decodeURI, which leaves the escapes of reserved
 *    characters in place, so a CopyObject from a key with `#`, `?`, `+`, `&`, `=`, `,`, `;`, `:`, `@` or `$`
 *    looked up `a%23b` and answered NoSuchKey. The header is re-encoded so that decodeURI yields the key.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const requireCjs = createRequire(import.meta.url);

/** s3rver 3.7's lib/models/account.js. */
interface AccountModule {
  readonly registry: Map<string, unknown>;
  readonly DUMMY_ACCOUNT: { readonly accessKeys: Map<string, string> };
}

/** An access key as a client sends it: non-empty, no whitespace or separators that would break the header. */
const WELL_FORMED_ACCESS_KEY = /^[^\s/,=]{1,128}$/;

let credentialsOpened = false;

/**
 * Makes every s3rver in this process accept any well-formed access key (the registry is module-wide in s3rver).
 * Idempotent. Pair it with the server option `allowMismatchedSignatures: true`.
 */
export function acceptAnyCredentials(): void {
  if (credentialsOpened) return;
  let account: AccountModule;
  try {
    account = requireCjs('s3rver/lib/models/account') as AccountModule;
  } catch (error) {
    throw new Error(`s3rver has no lib/models/account: cannot accept other credentials (${String(error)})`);
  }
  const { registry, DUMMY_ACCOUNT } = account;
  if (!(registry instanceof Map) || !(DUMMY_ACCOUNT?.accessKeys instanceof Map)) {
    throw new Error(
      's3rver account registry is not the Map this code patches: cannot accept other credentials',
    );
  }
  const knownAccount = registry.get('S3RVER');
  const accountGet = registry.get.bind(registry);
  registry.get = (accessKeyId: string) =>
    accountGet(accessKeyId) ??
    (typeof accessKeyId === 'string' && WELL_FORMED_ACCESS_KEY.test(accessKeyId) ? knownAccount : undefined);
  // A SigV2 signature is computed with the account's secret; an unknown key's is unknowable, so any string does
  // (the mismatch is then allowed by the server option).
  const keys = DUMMY_ACCOUNT.accessKeys;
  const secretGet = keys.get.bind(keys);
  keys.get = (accessKeyId: string) => secretGet(accessKeyId) ?? 'unknown';
  credentialsOpened = true;
}

/** The parts of s3rver 3.7's FilesystemStore this relies on. */
interface FilesystemStore {
  readonly rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: unknown,
  ): Promise<unknown>;
}
interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: unknown;
  readonly metadata: unknown;
}

const CONSISTENT = Symbol('consistent objects');

/** The files one object is stored as; renamed in this order, all while the key is locked. */
const RESOURCES = ['object', 'object.md5', 'metadata.json'] as const;

/**
 * Makes reads of a key see one whole version (see the module comment). `stagingDir` must be on the same file
 * system as the store and outside it; it is emptied first (an upload interrupted by a crash leaves files there).
 */
export async function serveConsistentObjects(s3rver: unknown, stagingDir: string): Promise<void> {
  const store = (s3rver as { store?: FilesystemStore & { [CONSISTENT]?: true } }).store;
  const methods = ['getResourcePath', 'getObject', 'putObject', 'copyObject'] as const;
  if (!store || methods.some((m) => typeof store[m] !== 'function')) {
    throw new Error(
      `s3rver has no FilesystemStore with ${methods.join('/')}: cannot serve consistent objects`,
    );
  }
  if (store[CONSISTENT]) return;
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true });
  const StoreClass = store.constructor as new (root: string) => FilesystemStore;
  const staging = new StoreClass(stagingDir);
  const locks = new KeyedLock();
  const lockKey = (bucket: string, key: string) => `${bucket}\u0000${key}`;

  const getObject = store.getObject.bind(store);
  // Resolves once the object's file is open: from then on a rename cannot change what this read returns.
  store.getObject = (bucket, key, options) =>
    locks.run(lockKey(bucket, key), () => getObject(bucket, key, options));

  store.putObject = async (object) => {
    const stagedKey = randomUUID();
    // s3rver's own upload code, into the staging store: the same size, MD5 and metadata files.
    const result = await staging.putObject({
      bucket: object.bucket,
      key: stagedKey,
      content: object.content,
      metadata: object.metadata,
    });
    await locks.run(lockKey(object.bucket, object.key), async () => {
      await mkdir(dirname(store.getResourcePath(object.bucket, object.key, 'object')), { recursive: true });
      for (const resource of RESOURCES) {
        await rename(
          staging.getResourcePath(object.bucket, stagedKey, resource),
          store.getResourcePath(object.bucket, object.key, resource),
        );
      }
    });
    return result;
  };

  // Copies are local and short: the destination stays locked for the copy, so no read sees it half written.
  const copyObject = store.copyObject.bind(store);
  store.copyObject = (srcBucket, srcKey, destBucket, destKey, replacementMetadata) =>
    locks.run(lockKey(destBucket, destKey), () =>
      copyObject(srcBucket, srcKey, destBucket, destKey, replacementMetadata),
    );
  store[CONSISTENT] = true;
}

/** One holder at a time per key; the others wait in order. Keys with nobody waiting cost nothing. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chained = previous.then(() => tail);
    this.tails.set(key, chained);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === chained) this.tails.delete(key);
    }
  }
}

/**
 * Rewrites a request's x-amz-copy-source (URL-encoded `bucket/key`, optionally `?versionId=...`) so that s3rver's
 * decodeURI yields the key S3 would: decodeURI(encodeURI(k)) is k for every key.
 */
export function correctCopySource(headers: Record<string, string | string[] | undefined>): void {
  const header = headers['x-amz-copy-source'];
  if (typeof header !== 'string') return;
  const query = header.indexOf('?');
  const path = query < 0 ? header : header.slice(0, query);
  try {
    headers['x-amz-copy-source'] =
      encodeURI(decodeURIComponent(path)) + (query < 0 ? '' : header.slice(query));
  } catch {
    // Not valid percent-encoding: s3rver answers it as it would.
  }
}
