import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsFixture, startAwsFixture } from '../../bench/lib/aws-fixture.ts';
import { type HostedHandler, hostHandler } from '../../bench/lib/handler-host.ts';
import {
  overBudget,
  REQUEST_BUDGET,
  runRequestScenarios,
  type ScenarioCounts,
  type ScenarioName,
  type ScenarioRun,
} from '../../bench/lib/request-scenarios.ts';
import { PROCESSOR_ENTRY } from '../../lib/app-stack/processor-bundling.ts';

/**
 * AWS requests per object are the other deterministic half of cost (timings live in `npm run bench`). The handler
 * runs from its source in a worker thread with the stage's environment, against s3rver and dynalite behind
 * counting proxies; each scenario's requests are divided by its objects and checked against REQUEST_BUDGET. Each
 * scenario also checks its outcome, so a handler that skipped work could not pass by making fewer requests.
 */

let fixture: AwsFixture;
let handler: HostedHandler;
let run: ScenarioRun;

beforeAll(async () => {
  fixture = await startAwsFixture('prod');
  handler = await hostHandler(pathToFileURL(PROCESSOR_ENTRY).href, 'handler', fixture.handlerEnvironment());
  run = await runRequestScenarios(
    fixture,
    { invoke: async (e) => (await handler.invoke(e)).response },
    'budget',
  );
});

afterAll(async () => {
  await handler?.stop();
  await fixture?.close();
});

function scenario(name: ScenarioName): ScenarioCounts {
  const found = run.scenarios.find((s) => s.scenario === name);
  if (!found) throw new Error(`scenario ${name} did not run`);
  return found;
}

function expectWithinBudget(s: ScenarioCounts): void {
  expect(overBudget(s.perObject, REQUEST_BUDGET[s.scenario]), JSON.stringify(s.perObject)).toEqual([]);
  expect(s.batchItemFailures).toBe(0);
}

describe('AWS requests per object', () => {
  it('a created object costs one ranged GetObject and one conditional write', () => {
    const s = scenario('created object');
    expectWithinBudget(s);
    expect(s.perObject).toEqual({ GetObjectRange: 1, PutItem: 1 });
    expect(s.statuses.every((status) => status === 'PROCESSED')).toBe(true);
    expect(s.eTags).toEqual(run.originalETags);
  });

  it('a redelivered create costs no more than the first delivery and changes nothing', () => {
    const s = scenario('duplicate (redelivered create)');
    expectWithinBudget(s);
    expect(s.statuses.every((status) => status === 'PROCESSED')).toBe(true);
    expect(s.eTags).toEqual(run.originalETags);
  });

  it('a stale create for an overwritten object costs at most the read and leaves the newer content', () => {
    const s = scenario('stale (older create, object since overwritten)');
    expectWithinBudget(s);
    expect(s.eTags).toEqual(run.overwrittenETags);
  });

  it('a delete costs one write and no S3 request', () => {
    const s = scenario('delete');
    expectWithinBudget(s);
    expect(s.totalPerObject).toBe(1);
    expect(s.statuses.every((status) => status === 'DELETED')).toBe(true);
  });

  it('an s3:TestEvent costs nothing', () => {
    const s = scenario('s3:TestEvent');
    expect(s.totalPerObject).toBe(0);
    expect(s.batchItemFailures).toBe(0);
  });
});

describe('overBudget', () => {
  it('flags an operation the budget does not allow, such as an extra HeadObject', () => {
    expect(
      overBudget({ HeadObject: 1, GetObjectRange: 1, PutItem: 1 }, REQUEST_BUDGET['created object']),
    ).toEqual(['1 HeadObject per object; budget 0']);
  });

  it('counts PutItem and UpdateItem together as the one allowed write', () => {
    expect(overBudget({ UpdateItem: 1 }, REQUEST_BUDGET.delete)).toEqual([]);
    expect(overBudget({ UpdateItem: 1, PutItem: 1 }, REQUEST_BUDGET.delete)).toEqual([
      '2 DynamoDB writes per object; budget 1',
    ]);
  });

  it('flags a second read of the same object', () => {
    expect(overBudget({ GetObjectRange: 2, PutItem: 1 }, REQUEST_BUDGET['created object'])).toEqual([
      '2 GetObjectRange per object; budget 1',
    ]);
  });
});
