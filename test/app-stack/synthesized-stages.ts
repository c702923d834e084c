/**
 * The three configured stages, synthesized once and shared by the per-construct test files of this folder: they
 * run in one worker without isolation (the `app-stack` project in vitest.config.ts), so this module, and the
 * synth, is evaluated once for all of them instead of once per file.
 */
import { synthStages } from './stage-synth.ts';

export const { stages } = synthStages();
export const STAGES = ['dev', 'staging', 'prod'] as const;

/** Logical IDs of the stateful resources. Changing one replaces the resource (and loses its data). */
export const STATEFUL_LOGICAL_IDS = {
  ProcessorObjectsKey6523F857: 'AWS::KMS::Key',
  ProcessorQueueKeyFBEE3808: 'AWS::KMS::Key',
  ProcessorTableKey153CFAA0: 'AWS::KMS::Key',
  ProcessorLogsKeyD8E74634: 'AWS::KMS::Key',
  ProcessorObjectsBucketDD8AF4B1: 'AWS::S3::Bucket',
  ProcessorAccessLogsBucket5A05A37B: 'AWS::S3::Bucket',
  ProcessorIngestQueue3759D326: 'AWS::SQS::Queue',
  ProcessorDeadLetterQueue959FA4E1: 'AWS::SQS::Queue',
  ProcessorObjectsTableD8F1E774: 'AWS::DynamoDB::Table',
  ProcessorFunctionLogGroupC3BE1B2E: 'AWS::Logs::LogGroup',
} as const;
export const BUCKET = 'ProcessorObjectsBucketDD8AF4B1';
export const LOG_BUCKET = 'ProcessorAccessLogsBucket5A05A37B';
export const INGEST_QUEUE = 'ProcessorIngestQueue3759D326';
export const DEAD_LETTER_QUEUE = 'ProcessorDeadLetterQueue959FA4E1';
export const TABLE = 'ProcessorObjectsTableD8F1E774';
export const FUNCTION_LOG_GROUP = 'ProcessorFunctionLogGroupC3BE1B2E';
export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
/** Service-principal conditions use the deploy-time account (`AWS::AccountId`), right in any account. */
export const ACCOUNT_ID = { Ref: 'AWS::AccountId' };
