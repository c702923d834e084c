/**
 * Lambda entry point (S3 -> SQS -> this function). Cold start reads and validates the environment and creates
 * the clients, logger and metrics once; each invocation only processes its batch. See docs/processor.md.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createClients } from './clients.ts';
import { loadConfig } from './config.ts';
import { createHandler } from './processor.ts';

const config = loadConfig(process.env);
const { s3, dynamodb } = createClients(config);

const logger = new Logger({
  serviceName: config.serviceName,
  logLevel: config.logLevel,
  ...(config.stageName !== undefined && { persistentKeys: { stage: config.stageName } }),
});
const metrics = new Metrics({ namespace: config.metricsNamespace, serviceName: config.serviceName });

export const handler = createHandler({ config, s3, dynamodb, logger, metrics });
