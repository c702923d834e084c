import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ClientConfig } from '../devkit/aws-servers.ts';
import { startLocalEnvironment } from '../local/environment.ts';
import { ms, type SectionReport } from './lib/report.ts';
import { PNG_BYTES } from './lib/s3-events.ts';
import { round } from './lib/stats.ts';

/** Uploads in flight at once: a busy client, not a flood that only measures socket exhaustion. */
const UPLOAD_CONCURRENCY = 20;
const DRAIN_TIMEOUT_MS = 180_000;

/**
 * Objects per second end to end through `npm start`'s environment (s3rver -> notification emulator -> local
 * queue and event source mapping -> the deployed bundle in Lambda-like processes -> dynalite), next to the rate
 * at which s3rver alone accepts the same uploads. Reported, not targeted: it mostly measures the emulators.
 */
export async function throughputSection(objects = 300, stage = 'dev'): Promise<SectionReport> {
  const environment = await startLocalEnvironment({ stage });
  const s3 = new S3Client(
    s3ClientConfig({ s3Endpoint: environment.info.s3Endpoint, region: environment.info.region }),
  );
  try {
    const { bucket } = environment.info;
    const upload = async (prefix: string) => {
      const keys = Array.from({ length: objects }, (_, i) => `${prefix}/object-${i}.png`);
      for (let i = 0; i < keys.length; i += UPLOAD_CONCURRENCY) {
        await Promise.all(
          keys
            .slice(i, i + UPLOAD_CONCURRENCY)
            .map((Key) =>
              s3.send(
                new PutObjectCommand({ Bucket: bucket, Key, Body: PNG_BYTES, ContentType: 'image/png' }),
              ),
            ),
        );
      }
    };

    const started = performance.now();
    await upload('throughput');
    const uploadedMs = performance.now() - started;
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (environment.progress.totalsSoFar().processed < objects) {
      if (Date.now() > deadline) {
        throw new Error(
          `local throughput: ${environment.progress.totalsSoFar().processed}/${objects} processed after ${DRAIN_TIMEOUT_MS} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const endToEndMs = performance.now() - started;
    const totals = environment.progress.totalsSoFar();
    const source = environment.deployed.eventSource;
    const endToEndRate = round((objects / endToEndMs) * 1000, 1);
    const uploadRate = round((objects / uploadedMs) * 1000, 1);
    return {
      key: 'localThroughput',
      title: `Local throughput: ${objects} objects through npm start's environment (stage ${stage})`,
      header: ['path', 'wall', 'objects/s'],
      rows: [
        ['uploads alone (s3rver accepting PUTs, notifications emitted)', ms(uploadedMs), String(uploadRate)],
        [
          'end to end (upload -> notification -> queue -> function -> item)',
          ms(endToEndMs),
          String(endToEndRate),
        ],
      ],
      targets: [],
      notes: [
        `Event source as synthesized for ${stage}: batch size ${source.batchSize}, batching window ${source.maxBatchingWindowSeconds} s, at most ${source.maxConcurrency} concurrent batches; ${UPLOAD_CONCURRENCY} uploads in flight.`,
        `Outcome: ${totals.processed} processed, ${totals.rejected} rejected, ${totals.retries} retries, ${totals.deadLettered} dead-lettered. This figure mostly measures the emulators on this machine; it is reported, not targeted.`,
      ],
      results: {
        stage,
        objects,
        uploadMs: uploadedMs,
        endToEndMs,
        uploadRate,
        endToEndRate,
        eventSource: source,
        totals,
      },
    };
  } finally {
    s3.destroy();
    await environment.close();
  }
}
