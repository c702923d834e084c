import type { AwsFixture } from './lib/aws-fixture.ts';
import { hostHandler } from './lib/handler-host.ts';
import type { SectionReport } from './lib/report.ts';
import { overBudget, REQUEST_BUDGET, runRequestScenarios } from './lib/request-scenarios.ts';

function describeCounts(perObject: Readonly<Record<string, number>>): string {
  const entries = Object.entries(perObject).filter(([, n]) => n > 0);
  return entries.length === 0 ? 'none' : entries.map(([op, n]) => `${n} ${op}`).join(' + ');
}

/**
 * AWS requests per object for each kind of event, counted at the proxies, against the budget `npm test` enforces,
 * next to what Powertools batch + idempotency (bench/reference) makes for the same events.
 */
export async function requestsSection(
  fixture: AwsFixture,
  bundleUrl: string,
  peerUrl: string,
): Promise<SectionReport> {
  fixture.setLatency(0);
  const handler = await hostHandler(bundleUrl, 'handler', fixture.handlerEnvironment());
  const peer = await hostHandler(
    peerUrl,
    'handler',
    fixture.handlerEnvironment({ IDEMPOTENCY_TABLE_NAME: fixture.idempotencyTable }),
  );
  try {
    const { scenarios } = await runRequestScenarios(
      fixture,
      { invoke: async (event) => (await handler.invoke(event)).response, logBytes: handler.logBytes },
      'requests',
    );
    const peerRun = await runRequestScenarios(
      fixture,
      { invoke: async (event) => (await peer.invoke(event)).response },
      'requests-peer',
    );
    const peerCounts = new Map(peerRun.scenarios.map((s) => [s.scenario, s.perObject]));
    const checked = scenarios.map((s) => ({
      ...s,
      problems: overBudget(s.perObject, REQUEST_BUDGET[s.scenario]),
    }));
    return {
      key: 'requestsPerObject',
      title: 'AWS requests per object, counted at the proxies (deployed bundle, 10 objects per scenario)',
      header: [
        'event',
        'requests per object',
        'budget (npm test guard)',
        'log bytes per object',
        'Powertools batch + idempotency',
      ],
      rows: checked.map((s) => [
        s.scenario,
        describeCounts(s.perObject),
        describeCounts(REQUEST_BUDGET[s.scenario]),
        s.logBytesPerObject === undefined ? '-' : `${Math.round(s.logBytesPerObject)} B`,
        describeCounts(peerCounts.get(s.scenario) ?? {}),
      ]),
      targets: checked.map((s) => ({
        target: `${s.scenario}: within ${describeCounts(REQUEST_BUDGET[s.scenario])}`,
        measured: s.problems.length === 0 ? describeCounts(s.perObject) : s.problems.join('; '),
        met: s.problems.length === 0 && s.batchItemFailures === 0,
      })),
      notes: [
        'No HeadObject: the ranged GetObject returns the declared Content-Type, the ETag and (in Content-Range) the total size.',
        'A stale create whose object has since been overwritten stops after the GET (the ETag no longer matches), so it makes no write at all.',
        'Log bytes are what the function writes to stdout per object (its JSON log line and its share of the EMF metrics line); CloudWatch Logs bills ingestion by volume.',
        "Powertools idempotency claims each message id (PutItem) and marks it completed (UpdateItem) in its own table around the same GET and write: two more DynamoDB writes per object. It does not catch S3's duplicate notifications, which arrive as new SQS messages with new ids; the processor's conditional write does, at no extra request.",
      ],
      results: checked.map(({ problems, ...s }) => ({
        ...s,
        budget: REQUEST_BUDGET[s.scenario],
        withinBudget: problems.length === 0,
        peerPerObject: peerCounts.get(s.scenario) ?? {},
      })),
    };
  } finally {
    await Promise.all([handler.stop(), peer.stop()]);
  }
}
