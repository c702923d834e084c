import { describe, expect, it } from 'vitest';
import { managedPolicyStatements, stageOf } from './stage-synth.ts';
import {
  arnOf,
  BUCKET,
  FUNCTION_LOG_GROUP,
  INGEST_QUEUE,
  STAGES,
  stages,
  TABLE,
} from './synthesized-stages.ts';

/** The function's written-out policy (lib/app-stack/processor-function-policy.ts), in every configured stage. */
describe.each(STAGES)('stage %s', (name) => {
  const { template, config } = stageOf(stages, name);

  describe('function', () => {
    it('may do exactly what processing needs, each on its own resource', () => {
      const via = (service: string) => ({
        StringEquals: { 'kms:ViaService': `${service}.${config.region}.amazonaws.com` },
      });
      expect(managedPolicyStatements(template, 'ProcessorFunctionPolicy')).toEqual([
        {
          Sid: 'WriteOwnLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: arnOf(FUNCTION_LOG_GROUP),
        },
        {
          Sid: 'ReadObjects',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion'],
          Resource: { 'Fn::Join': ['', [arnOf(BUCKET), '/*']] },
        },
        { Sid: 'TellMissingObjectsApart', Effect: 'Allow', Action: 's3:ListBucket', Resource: arnOf(BUCKET) },
        {
          Sid: 'DecryptObjects',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: arnOf('ProcessorObjectsKey6523F857'),
          Condition: via('s3'),
        },
        {
          Sid: 'ConsumeIngestQueue',
          Effect: 'Allow',
          Action: [
            'sqs:ReceiveMessage',
            'sqs:DeleteMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueAttributes',
          ],
          Resource: arnOf(INGEST_QUEUE),
        },
        {
          Sid: 'DecryptIngestMessages',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: arnOf('ProcessorQueueKeyFBEE3808'),
          Condition: via('sqs'),
        },
        {
          Sid: 'WriteObjectRecords',
          Effect: 'Allow',
          Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
          Resource: arnOf(TABLE),
        },
        {
          Sid: 'UseTableKey',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
          Resource: arnOf('ProcessorTableKey153CFAA0'),
          Condition: via('dynamodb'),
        },
        {
          Sid: 'PublishTraces',
          Effect: 'Allow',
          Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          Resource: '*',
        },
      ]);
    });
  });
});
