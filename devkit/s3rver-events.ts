import { EventEmitter } from 'node:events';
import { unlink } from 'node:fs/promises';
import type { S3rverEvent } from './s3-notifications.ts';

/**
 * s3rver (3.7) loses removals that S3 notifies: DeleteObjects (what `aws s3 rm --recursive` sends) raises no event at
 * all, and two concurrent DeleteObject calls under one prefix race in its empty-directory cleanup
 * (readdir, then rmdir of a directory another delete already removed): the request fails after the object is gone,
 * the SDK retries, the retry finds nothing to delete and no event is ever raised. Both lose the DELETED item.
 *
 * This wraps the store's deleteObject (the one place both operations go through, and only for objects that exist)
 * so that every deletion raises exactly one removal event, and leaves empty directories in place, which s3rver
 * never lists. Creations still come from s3rver's own events; its removal events are dropped in favour of these.
 */

/** The s3rver internals this relies on (s3rver 3.7's FilesystemStore). */
interface FilesystemStore {
  deleteObject(bucket: string, key: string): Promise<void>;
  getResourcePath(bucket: string, key: string, resource: string): string;
}

/** Marks a store already wrapped, so a second call cannot emit every removal twice. */
const WRAPPED = Symbol('removal events');

/**
 * Returns an emitter of s3rver-shaped 'event's with complete removals. Throws if the s3rver build does not have the
 * store this patches, rather than silently losing removals.
 */
export function completeS3rverEvents(s3rver: EventEmitter): EventEmitter {
  const store = (s3rver as EventEmitter & { store?: FilesystemStore & { [WRAPPED]?: EventEmitter } }).store;
  if (!store || typeof store.deleteObject !== 'function' || typeof store.getResourcePath !== 'function') {
    throw new Error(
      's3rver has no FilesystemStore with deleteObject/getResourcePath: removal events cannot be completed',
    );
  }
  const existing = store[WRAPPED];
  if (existing) return existing;

  const events = new EventEmitter();
  s3rver.on('event', (event: S3rverEvent) => {
    const creations = event.Records.filter((r) => !r.eventName.startsWith('ObjectRemoved:'));
    if (creations.length > 0) events.emit('event', { Records: creations });
  });
  store.deleteObject = async (bucket: string, key: string) => {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((resource) =>
        unlink(store.getResourcePath(bucket, key, resource)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        }),
      ),
    );
    const removal: S3rverEvent = {
      Records: [
        {
          eventName: 'ObjectRemoved:Delete',
          eventTime: new Date().toISOString(),
          s3: { bucket: { name: bucket }, object: { key } },
        },
      ],
    };
    events.emit('event', removal);
  };
  store[WRAPPED] = events;
  return events;
}
