import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../lib/config/app-config.ts';
import { stageId } from '../../lib/config/names.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { ProcessorStage } from '../../lib/stages/processor-stage.ts';
import { checkTemplateSecurity, formatViolations } from './template-policy.ts';

/**
 * Every stage exactly as deployed (a ProcessorStage per configured stage), plus every stage in VPC mode (a
 * configuration switch that adds resources: flow logs, endpoints, ENI permissions). Bundling is skipped: the
 * policy reads the template, not the code.
 */
function synthesize(
  customise?: (stage: StageConfig) => StageConfig,
): Array<[string, Record<string, unknown>]> {
  const config = loadAppConfig({}, customise);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stages = config.stages.map(
    (stage) => new ProcessorStage(app, stageId(stage.stageName), { config: stage, project: config.project }),
  );
  return stages.map((s) => [s.config.stageName, Template.fromStack(s.stack).toJSON()]);
}

const templates = [
  ...synthesize(),
  ...synthesize((stage) => ({ ...stage, network: { ...stage.network, vpc: true } })).map(
    ([name, template]) => [`${name} (vpc)`, template] as [string, Record<string, unknown>],
  ),
];

describe.each(templates)('security policy: stage %s', (_name, template) => {
  const report = checkTemplateSecurity(template);

  it('grants no wildcard actions or logs on *, and every bucket, queue, topic and table is encrypted and TLS-only', () => {
    expect(formatViolations(report.violations)).toEqual([]);
  });

  it('looked at the resources it vouches for', () => {
    // objects + access-log buckets, ingest + dead-letter queues, the alarm topic, the table, and IAM policies.
    expect(report.coverage.buckets).toBeGreaterThanOrEqual(2);
    expect(report.coverage.queues).toBeGreaterThanOrEqual(2);
    expect(report.coverage.topics).toBeGreaterThanOrEqual(1);
    expect(report.coverage.tables).toBe(1);
    expect(report.coverage.policyDocuments).toBeGreaterThanOrEqual(5);
  });
});
