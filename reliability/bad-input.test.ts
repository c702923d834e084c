import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notification } from './events.ts';
import {
  type ReliabilityEnv,
  type SynthesizedProcessor,
  startReliabilityEnv,
  synthesizeProcessor,
} from './harness.ts';

/**
 * Hostile input: keys, declared sizes and content built to break a processor. Each gets a defined outcome (an
 * item with the exact key, a REJECTED item with its reason code, or the dead-letter store with the reason logged)
 * and none makes the function crash, time out or loop.
 */

let processor: SynthesizedProcessor;
let env: ReliabilityEnv;
beforeAll(async () => {
  processor = await synthesizeProcessor();
  // Short, so the invalid messages reach the receive limit quickly; above any healthy batch on a busy machine.
  env = await startReliabilityEnv({ processor, visibilityTimeoutMs: 1_000 });
});
afterAll(async () => {
  await env?.close();
  await processor?.dispose();
});

/** 1,024 bytes, the longest key S3 allows (s3rver stores keys as paths, so no segment exceeds 255 bytes). */
const LONGEST_KEY = `long/${Array.from({ length: 8 }, (_, i) => String(i).repeat(120)).join('/')}`.padEnd(
  1024,
  'x',
);

const HOSTILE_KEYS = {
  longest: LONGEST_KEY,
  controlCharacters: 'ctrl/a\u0001b\u0007c\td\ne\u001bf\u007f.txt',
  parentSegments: 'dots/../../escape.txt',
  leadingParent: '../up.txt',
  nfc: 'unicode/caf\u00e9.txt',
  nfd: 'unicode/cafe\u0301.txt',
  mixedScripts: 'unicode/😀 ✓ عربي ｆｕｌｌ.txt',
  encodingLookalikes: 'enc/a+b c%2F%20.txt',
  trailingSpaceAndDot: 'trailing/name. ',
} as const;

describe('hostile keys', () => {
  const eTags = new Map<string, string>();
  beforeAll(async () => {
    for (const key of Object.values(HOSTILE_KEYS)) {
      eTags.set(key, (await env.upload(key, `content of ${JSON.stringify(key)}\n`, 'text/plain')).eTag);
    }
    await env.drained(30_000);
  });

  it('each becomes one PROCESSED item under exactly its key; NFC and NFD forms stay distinct', async () => {
    expect(Buffer.byteLength(LONGEST_KEY)).toBe(1024);
    expect(HOSTILE_KEYS.nfc.normalize('NFC')).toBe(HOSTILE_KEYS.nfd.normalize('NFC'));
    const items = await env.items();
    for (const [name, key] of Object.entries(HOSTILE_KEYS)) {
      expect(items.get(key), name).toMatchObject({
        objectKey: key,
        status: 'PROCESSED',
        eTag: eTags.get(key),
      });
    }
    expect(items.get(HOSTILE_KEYS.nfc)?.eTag).not.toBe(items.get(HOSTILE_KEYS.nfd)?.eTag);
  });

  it('a 1,024-byte key in one segment (removal event) is recorded DELETED under that key', async () => {
    const key = 'L'.repeat(1024);
    env.send(notification({ bucket: env.bucket, key, sequencer: '0A', eventName: 'ObjectRemoved:Delete' }));
    await env.drained(10_000);
    expect((await env.items()).get(key)).toMatchObject({ objectKey: key, status: 'DELETED' });
  });
});

describe('declared sizes', () => {
  it('a size above MAX_OBJECT_BYTES is REJECTED from the event alone, without reading the object', async () => {
    const { eTag } = await env.upload('size/small-but-declared-huge.txt', 'tiny\n', 'text/plain');
    await env.drained(10_000);
    const getsBefore = env.s3Proxy.requests().length;
    env.send(
      notification({
        bucket: env.bucket,
        key: 'size/small-but-declared-huge.txt',
        sequencer: 'FF00000000000000000000',
        size: 5_000_000_000_000_000,
        eTag,
      }),
    );
    await env.drained(10_000);

    const item = (await env.items()).get('size/small-but-declared-huge.txt');
    expect(item).toMatchObject({
      status: 'REJECTED',
      reasonCode: 'OBJECT_TOO_LARGE',
      size: '5000000000000000',
    });
    expect(item?.reason).toMatch(/5000000000000000 bytes.*MAX_OBJECT_BYTES/);
    expect(env.s3Proxy.requests().length).toBe(getsBefore);
  });

  it('sizes that are not byte counts (beyond 2^53, negative) and an undecodable key are dead-lettered with the reason logged', async () => {
    const crafted = (key: string, size: number) =>
      notification({ bucket: env.bucket, key, sequencer: 'FF00000000000000000001', size, eTag: 'abc' });
    const ids = new Map([
      [env.send(crafted('size/unsafe.txt', 1e20)), /size/],
      [env.send(crafted('size/negative.txt', -1)), /size/],
      [
        env.send(crafted('PLACEHOLDER', 5).replace('"key":"PLACEHOLDER"', '"key":"bad%E0%A4%"')),
        /not valid URL encoding/,
      ],
    ]);
    await env.drained(30_000);

    const dead = new Set(env.deadLetters().map((d) => d.messageId));
    for (const [id, reason] of ids) {
      expect(dead.has(id), id).toBe(true);
      const logged = env.logRecords().filter((r) => r.messageId === id && r.level === 'ERROR');
      expect(logged.length).toBe(env.deployed.ingestQueue.maxReceiveCount);
      expect(JSON.stringify(logged[0]?.problems)).toMatch(reason);
    }
  });
});

describe('content that lies about its type', () => {
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    Buffer.alloc(64, 1),
  ]);
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01]), Buffer.alloc(64, 0)]);
  const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(64, 0)]);
  const cases = [
    {
      key: 'lie/png-as-pdf.pdf',
      body: png,
      declared: 'application/pdf',
      status: 'REJECTED',
      reasonCode: 'CONTENT_TYPE_MISMATCH',
      detected: 'image/png',
    },
    {
      key: 'lie/text-as-png.png',
      body: Buffer.from('just words\n'),
      declared: 'image/png',
      status: 'REJECTED',
      reasonCode: 'CONTENT_TYPE_MISMATCH',
      detected: 'text/plain',
    },
    {
      key: 'lie/elf-as-text.txt',
      body: elf,
      declared: 'text/plain',
      status: 'REJECTED',
      reasonCode: 'CONTENT_TYPE_MISMATCH',
      detected: 'application/octet-stream',
    },
    {
      key: 'lie/zip-as-json.json',
      body: zip,
      declared: 'application/json',
      status: 'REJECTED',
      reasonCode: 'CONTENT_TYPE_MISMATCH',
      detected: 'application/zip',
    },
    {
      key: 'lie/html-declared-html.html',
      body: Buffer.from('<html><script>x()</script></html>'),
      declared: 'text/html',
      status: 'REJECTED',
      reasonCode: 'CONTENT_TYPE_NOT_ALLOWED',
      detected: 'text/plain',
    },
    {
      key: 'lie/empty.txt',
      body: Buffer.alloc(0),
      declared: 'text/plain',
      status: 'REJECTED',
      reasonCode: 'EMPTY_OBJECT',
    },
    {
      key: 'lie/honest.pdf',
      body: Buffer.from('%PDF-1.7\n%âãÏÓ\n'),
      declared: 'application/pdf',
      status: 'PROCESSED',
      detected: 'application/pdf',
    },
    { key: 'lie/undeclared-png', body: png, declared: undefined, status: 'PROCESSED', detected: 'image/png' },
  ] as const;

  it('each is recorded with the outcome its bytes call for, the reason machine-readable', async () => {
    for (const c of cases) await env.upload(c.key, c.body, c.declared);
    await env.drained(30_000);

    const items = await env.items();
    for (const c of cases) {
      const expected: Record<string, string> = { status: c.status };
      if ('reasonCode' in c) expected.reasonCode = c.reasonCode;
      if ('detected' in c) expected.contentType = c.detected;
      expect(items.get(c.key), c.key).toMatchObject(expected);
    }
  });
});

describe('no crash loop', () => {
  it('after all of the above: no crashed or timed-out invocation, the queue drained, only the invalid messages dead-lettered', async () => {
    await env.drained(10_000);
    expect(env.lambda.stats()).toMatchObject({ crashes: 0, timeouts: 0 });
    expect(env.queue.stats()).toMatchObject({ visible: 0, invisible: 0 });
    expect(env.deadLetters()).toHaveLength(3);
  });
});
