/**
 * End-to-end behaviour of the processor, written once for every target: the local environment (`npm test`,
 * `npm run integ -- --target local`) and each deployed stage after the pipeline deploys it
 * (`npm run integ -- --stage <name>`). Objects go in through S3; the tests only read the table.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IntegHarness, type Item, JPEG, PNG, ZIP } from './lib/harness.ts';

let harness: IntegHarness;

beforeAll(() => {
  harness = new IntegHarness(inject('integTarget'));
});

afterAll(async () => {
  try {
    await harness?.cleanUp();
  } finally {
    harness?.destroy();
  }
});

const settled = (item: Item) => item.status === 'PROCESSED' || item.status === 'REJECTED';

describe.concurrent('object processing', () => {
  it('[smoke] an allowed object becomes PROCESSED with its size, eTag and detected content type', async () => {
    const { key, eTag } = await harness.put(harness.key('smoke/pixel.png'), PNG, 'image/png');

    const item = await harness.waitForItem(key, settled, 'PROCESSED');

    expect(item).toMatchObject({
      objectKey: key,
      bucket: harness.target.bucket,
      status: 'PROCESSED',
      size: PNG.length,
      eTag,
      contentType: 'image/png',
      declaredContentType: 'image/png',
      eventName: expect.stringMatching(/^ObjectCreated:/),
    });
    expect(item.sequencer).toMatch(/^[0-9A-F]+$/);
    expect(item).not.toHaveProperty('reason');
  });

  it.each([
    ['spaces', 'keys/with some spaces.json'],
    ["'+' signs", 'keys/c++ plus+sign.json'],
    ['unicode', 'keys/ünïcödé 日本語 😀.json'],
    ['nested prefixes and reserved characters', 'keys/a/b/c/d/report (final) 100% = done?.json'],
  ])('keeps the exact key when it has %s', async (_what, name) => {
    const { key, eTag } = await harness.put(
      harness.key(name),
      Buffer.from('{"ok":true}'),
      'application/json',
    );

    const item = await harness.waitForItem(key, settled, 'PROCESSED');

    expect(item).toMatchObject({
      objectKey: key,
      status: 'PROCESSED',
      eTag,
      contentType: 'application/json',
    });
  });

  it('rejects a type that is not allowed, with the reason', async () => {
    const { key } = await harness.put(harness.key('rejected/archive.zip'), ZIP, 'application/zip');

    const item = await harness.waitForItem(key, settled, 'REJECTED');

    expect(item).toMatchObject({
      status: 'REJECTED',
      reasonCode: 'CONTENT_TYPE_NOT_ALLOWED',
      contentType: 'application/zip',
      size: ZIP.length,
    });
    expect(item.reason).toMatch(/^CONTENT_TYPE_NOT_ALLOWED: .*application\/zip/);
  });

  it('rejects content whose bytes contradict its declared type', async () => {
    const { key } = await harness.put(
      harness.key('rejected/not-really.png'),
      Buffer.from('plain text'),
      'image/png',
    );

    const item = await harness.waitForItem(key, settled, 'REJECTED');

    expect(item).toMatchObject({
      status: 'REJECTED',
      reasonCode: 'CONTENT_TYPE_MISMATCH',
      contentType: 'text/plain',
    });
  });

  it("rejects an object one byte over the stage's size limit, with the reason", async () => {
    // The real limit and real bytes, on every target: a PNG-headed object of MAX_OBJECT_BYTES + 1, so size is the
    // only thing wrong with it. See the README's local section for why this is uploaded rather than faked.
    const size = harness.target.maxObjectBytes + 1;
    const body = Buffer.alloc(size);
    PNG.copy(body);
    const { key } = await harness.put(harness.key('rejected/oversized.png'), body, 'image/png');

    const item = await harness.waitForItem(key, settled, 'REJECTED');

    expect(item).toMatchObject({ status: 'REJECTED', reasonCode: 'OBJECT_TOO_LARGE', size });
    expect(item.reason).toContain(String(harness.target.maxObjectBytes));
  });

  it('records a zero-byte object as REJECTED (empty), not as an error', async () => {
    const { key, eTag } = await harness.put(
      harness.key('empty/zero-bytes.txt'),
      Buffer.alloc(0),
      'text/plain',
    );

    const item = await harness.waitForItem(key, settled, 'REJECTED');

    expect(item).toMatchObject({ status: 'REJECTED', reasonCode: 'EMPTY_OBJECT', size: 0, eTag });
  });

  it('updates the item when the key is uploaded again', async () => {
    const key = harness.key('updated/picture');
    const first = await harness.put(key, PNG, 'image/png');
    const before = await harness.waitForItem(key, (i) => i.eTag === first.eTag, 'for the first upload');

    const second = await harness.put(key, JPEG, 'image/jpeg');
    const after = await harness.waitForItem(key, (i) => i.eTag === second.eTag, 'for the second upload');

    expect(before).toMatchObject({ status: 'PROCESSED', contentType: 'image/png', size: PNG.length });
    expect(after).toMatchObject({ status: 'PROCESSED', contentType: 'image/jpeg', size: JPEG.length });
    expect(String(after.sequencer) > String(before.sequencer)).toBe(true);
  });

  it('marks the item DELETED when the object is deleted', async () => {
    const { key } = await harness.put(harness.key('deleted/pixel.png'), PNG, 'image/png');
    const created = await harness.waitForItem(key, settled, 'PROCESSED');

    await harness.delete(key);
    const deleted = await harness.waitForItem(key, (i) => i.status === 'DELETED', 'DELETED');

    expect(created.status).toBe('PROCESSED');
    expect(deleted).toMatchObject({
      objectKey: key,
      status: 'DELETED',
      eventName: expect.stringMatching(/^ObjectRemoved:/),
    });
    expect(deleted).not.toHaveProperty('size');
    expect(String(deleted.sequencer) > String(created.sequencer)).toBe(true);
  });
});
