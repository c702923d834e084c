import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp, PIPELINE_STACK_ID } from '../../bin/build-app.ts';
import { loadAppConfig } from '../../lib/config/app-config.ts';
import { stageId } from '../../lib/config/names.ts';
import type { StageConfig } from '../../lib/config/stage-config.ts';
import { ProcessorStage } from '../../lib/stages/processor-stage.ts';
import { TEST_APP_CONTEXT } from '../support/test-app.ts';
import { checkTemplateSecurity, formatViolations } from './template-policy.ts';

/**
 * Every template the project deploys: the app exactly as `cdk synth` builds it through bin/ (the pipeline stack
 * and, inside its stages, every stage's processor stack), plus every stage in VPC mode (a configuration switch
 * that adds resources: flow logs, endpoints, ENI permissions). Bundling is skipped: the policy reads templates.
 */
const NO_BUNDLING = TEST_APP_CONTEXT;

function deployedTemplates(): Array<[string, Record<string, unknown>]> {
  const app = new App({ context: NO_BUNDLING });
  const built = buildApp(app, {});
  if (built.kind !== 'pipeline') throw new Error('expected the pipeline app without a sandbox setting');
  const stacks: Stack[] = [
    built.pipelineStack,
    ...built.pipelineStack.stages.map((s) => s.stack),
    ...app.node.findAll().filter((c): c is Stack => Stack.isStack(c) && c !== built.pipelineStack),
  ];
  const unique = [...new Set(stacks)];
  return unique.map((s) => [s.node.path, Template.fromStack(s).toJSON()]);
}

function vpcModeTemplates(): Array<[string, Record<string, unknown>]> {
  const config = loadAppConfig({}, (stage: StageConfig) => ({
    ...stage,
    network: { ...stage.network, vpc: true },
  }));
  const app = new App({ context: NO_BUNDLING });
  return config.stages.map((stage) => {
    const s = new ProcessorStage(app, stageId(stage.stageName), { config: stage, project: config.project });
    return [`${stage.stageName} (vpc)`, Template.fromStack(s.stack).toJSON()];
  });
}

const templates = [...deployedTemplates(), ...vpcModeTemplates()];

it('covers the pipeline stack and a processor stack per stage, in both network modes', () => {
  const names = templates.map(([name]) => name);
  expect(names).toContain(PIPELINE_STACK_ID);
  const config = loadAppConfig();
  for (const stage of config.stages) {
    expect(
      names.filter((n) => n.includes(stageId(stage.stageName))).length,
      stage.stageName,
    ).toBeGreaterThanOrEqual(1);
    expect(names).toContain(`${stage.stageName} (vpc)`);
  }
});

describe.each(templates)('security policy: %s', (_name, template) => {
  const report = checkTemplateSecurity(template);

  it('grants no wildcard actions or logs on *; every bucket, queue, topic and table is encrypted and TLS-only', () => {
    expect(formatViolations(report.violations)).toEqual([]);
  });

  it('looked at IAM policies (so a pass is not vacuous)', () => {
    expect(report.coverage.policyDocuments).toBeGreaterThan(0);
  });
});

describe.each(templates.filter(([name]) => name !== PIPELINE_STACK_ID))(
  'processor stack %s',
  (_name, template) => {
    it('has the buckets, queues, topic and table the policy vouches for', () => {
      const { coverage } = checkTemplateSecurity(template);
      // Objects and access-log buckets, ingest and dead-letter queues, the alarm topic, the table.
      expect(coverage.buckets).toBeGreaterThanOrEqual(2);
      expect(coverage.queues).toBeGreaterThanOrEqual(2);
      expect(coverage.topics).toBeGreaterThanOrEqual(1);
      expect(coverage.tables).toBe(1);
    });
  },
);
