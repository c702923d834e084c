import type { StageConfig } from '../lib/config/stage-config.ts';
import {
  type SynthesizeStageOptions,
  synthesizeProcessorStage,
  type TemplateResource,
} from '../lib/stages/function-asset.ts';

/**
 * The processor exactly as a stage deploys it, read from that stage's synthesized CloudFormation: the code asset
 * CDK uploads (the same esbuild bundle, byte for byte, because it is the same synth), the function's handler,
 * timeout, memory and environment, and the settings of its queue, event source mapping and bucket notification.
 * Nothing here is re-derived from the configuration, so the local environment cannot drift from the stack.
 */

export interface DeployedFunction {
  readonly stage: StageConfig;
  readonly project: string;
  readonly stackName: string;
  /** Directory of the function's code asset in the cloud assembly (what CDK zips and uploads). */
  readonly assetDir: string;
  /** Handler setting, e.g. `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** Lambda log format (`JSON` or `Text`). */
  readonly logFormat: string;
  /** Environment variables as in the template; references to resources are resolved by `resolveEnvironment`. */
  readonly environment: Readonly<Record<string, TemplateValue>>;
  readonly eventSource: {
    readonly batchSize: number;
    readonly maxBatchingWindowSeconds: number;
    readonly maxConcurrency: number;
    readonly reportBatchItemFailures: boolean;
  };
  readonly ingestQueue: { readonly visibilityTimeoutSeconds: number; readonly maxReceiveCount: number };
  /** Key filter of the bucket's notification to the ingest queue. */
  readonly notificationFilter: { readonly prefix?: string; readonly suffix?: string };
  /** Logical ID of the table. */
  readonly tableLogicalId: string;
  /** The table's key schema and attribute definitions, as CreateTable takes them. */
  readonly tableKeys: {
    readonly KeySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' }>;
    readonly AttributeDefinitions: Array<{ AttributeName: string; AttributeType: 'S' | 'N' | 'B' }>;
  };
  /** Logical ID of the objects bucket. */
  readonly bucketLogicalId: string;
}

export type TemplateValue = string | { readonly Ref: string } | Readonly<Record<string, unknown>>;

export type SynthesizeOptions = SynthesizeStageOptions;

/** Synthesizes the stage the way the pipeline does (a ProcessorStage in an App) and reads its processor. */
export function synthesizeDeployedFunction(options: SynthesizeOptions): DeployedFunction {
  const synthesized = synthesizeProcessorStage(options);
  const { stack, resources, logicalIdOf } = synthesized;
  const functionId = synthesized.functionLogicalId;
  const queueId = logicalIdOf(stack.processor.ingestQueue);
  const tableLogicalId = logicalIdOf(stack.processor.table);
  const bucketLogicalId = logicalIdOf(stack.processor.bucket);

  const props = required(resources, functionId, 'AWS::Lambda::Function').Properties ?? {};
  const mappings = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
  const mapping = mappings.find((r) => JSON.stringify(r.Properties?.EventSourceArn ?? '').includes(queueId));
  if (!mapping) throw new Error(`no event source mapping reads the ingest queue ${queueId}`);
  const mappingProps = mapping.Properties ?? {};
  const queueProps = required(resources, queueId, 'AWS::SQS::Queue').Properties ?? {};
  const tableProps = required(resources, tableLogicalId, 'AWS::DynamoDB::Table').Properties ?? {};
  const redrive = queueProps.RedrivePolicy as { maxReceiveCount?: number } | undefined;

  return {
    stage: synthesized.stage,
    project: synthesized.project,
    stackName: stack.stackName,
    assetDir: synthesized.assetDir,
    handler: String(props.Handler),
    runtime: String(props.Runtime),
    timeoutSeconds: numberOf(props.Timeout, 3),
    memoryMiB: numberOf(props.MemorySize, 128),
    logFormat: String((props.LoggingConfig as { LogFormat?: string } | undefined)?.LogFormat ?? 'Text'),
    environment: ((props.Environment as { Variables?: Record<string, TemplateValue> } | undefined)
      ?.Variables ?? {}) as Record<string, TemplateValue>,
    eventSource: {
      batchSize: numberOf(mappingProps.BatchSize, 10),
      maxBatchingWindowSeconds: numberOf(mappingProps.MaximumBatchingWindowInSeconds, 0),
      maxConcurrency: numberOf(
        (mappingProps.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency,
        1000,
      ),
      reportBatchItemFailures: ((mappingProps.FunctionResponseTypes as string[] | undefined) ?? []).includes(
        'ReportBatchItemFailures',
      ),
    },
    ingestQueue: {
      visibilityTimeoutSeconds: numberOf(queueProps.VisibilityTimeout, 30),
      maxReceiveCount: numberOf(redrive?.maxReceiveCount, Number.POSITIVE_INFINITY),
    },
    notificationFilter: notificationFilter(resources, queueId),
    tableLogicalId,
    tableKeys: {
      KeySchema: tableProps.KeySchema as DeployedFunction['tableKeys']['KeySchema'],
      AttributeDefinitions:
        tableProps.AttributeDefinitions as DeployedFunction['tableKeys']['AttributeDefinitions'],
    },
    bucketLogicalId,
  };
}

/**
 * The function's environment with references to the stack's resources replaced by their local names. A reference
 * to anything the local environment does not provide is an error: silently passing a token would run the bundle
 * with a configuration the stack never gives it.
 */
export function resolveEnvironment(
  fn: DeployedFunction,
  localNames: { readonly table: string; readonly bucket: string },
): Record<string, string> {
  const byLogicalId: Record<string, string> = {
    [fn.tableLogicalId]: localNames.table,
    [fn.bucketLogicalId]: localNames.bucket,
  };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    if (typeof value === 'string') {
      out[name] = value;
      continue;
    }
    const ref = (value as { Ref?: unknown }).Ref;
    const local = typeof ref === 'string' ? byLogicalId[ref] : undefined;
    if (local === undefined) {
      throw new Error(
        `environment variable ${name} of the function is ${JSON.stringify(value)}, which the local environment cannot provide`,
      );
    }
    out[name] = local;
  }
  return out;
}

function notificationFilter(
  resources: Record<string, TemplateResource>,
  queueId: string,
): { prefix?: string; suffix?: string } {
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'Custom::S3BucketNotifications') continue;
    const config = resource.Properties?.NotificationConfiguration as
      | { QueueConfigurations?: Array<Record<string, unknown>> }
      | undefined;
    for (const queue of config?.QueueConfigurations ?? []) {
      if (!JSON.stringify(queue.QueueArn ?? '').includes(queueId)) continue;
      const rules =
        (queue.Filter as { Key?: { FilterRules?: Array<{ Name: string; Value: string }> } } | undefined)?.Key
          ?.FilterRules ?? [];
      const filter: { prefix?: string; suffix?: string } = {};
      for (const rule of rules) {
        if (rule.Name.toLowerCase() === 'prefix') filter.prefix = rule.Value;
        if (rule.Name.toLowerCase() === 'suffix') filter.suffix = rule.Value;
      }
      return filter;
    }
  }
  throw new Error(`the objects bucket sends no notification to the ingest queue ${queueId}`);
}

function required(resources: Record<string, TemplateResource>, id: string, type: string): TemplateResource {
  const resource = resources[id];
  if (!resource || resource.Type !== type)
    throw new Error(`expected ${type} ${id} in the synthesized template`);
  return resource;
}

function numberOf(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`expected a number in the template, got ${JSON.stringify(value)}`);
  return n;
}
