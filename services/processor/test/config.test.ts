import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const valid = {
  TABLE_NAME: 'objects-table',
  MAX_OBJECT_BYTES: '52428800',
  ALLOWED_CONTENT_TYPES: 'image/png, image/JPEG,application/json',
};

function problems(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads the required variables and applies the documented defaults', () => {
    expect(loadConfig(valid)).toEqual({
      tableName: 'objects-table',
      maxObjectBytes: 52428800,
      allowedContentTypes: new Set(['image/png', 'image/jpeg', 'application/json']),
      processingConcurrency: 10,
      serviceName: 's3-object-processor',
      metricsNamespace: 'S3ObjectProcessor',
      logLevel: 'INFO',
    });
  });

  it('reads the optional variables, including the SDK endpoint overrides', () => {
    const config = loadConfig({
      ...valid,
      PROCESSING_CONCURRENCY: '4',
      POWERTOOLS_SERVICE_NAME: 'svc',
      POWERTOOLS_METRICS_NAMESPACE: 'Ns',
      POWERTOOLS_LOG_LEVEL: 'debug',
      STAGE_NAME: 'dev',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4568',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4567',
    });
    expect(config).toMatchObject({
      processingConcurrency: 4,
      serviceName: 'svc',
      metricsNamespace: 'Ns',
      logLevel: 'DEBUG',
      stageName: 'dev',
      s3Endpoint: 'http://127.0.0.1:4568',
      dynamodbEndpoint: 'http://127.0.0.1:4567',
    });
  });

  it('names every missing required variable at once', () => {
    expect(problems({})).toEqual([
      'TABLE_NAME is required but not set',
      'MAX_OBJECT_BYTES is required but not set',
      'ALLOWED_CONTENT_TYPES is required but not set',
    ]);
  });

  it('says which variable is malformed and what it should be', () => {
    expect(
      problems({
        TABLE_NAME: 'x',
        MAX_OBJECT_BYTES: '50MB',
        ALLOWED_CONTENT_TYPES: 'image/png,pictures',
        PROCESSING_CONCURRENCY: '0',
        POWERTOOLS_LOG_LEVEL: 'LOUD',
        AWS_ENDPOINT_URL_S3: 'localhost:4568',
      }),
    ).toEqual([
      'TABLE_NAME is "x"; not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -)',
      'MAX_OBJECT_BYTES is "50MB"; must be an integer in 1..9007199254740991',
      'ALLOWED_CONTENT_TYPES has "pictures"; not a MIME type like image/png',
      'PROCESSING_CONCURRENCY is "0"; must be an integer in 1..1000',
      'POWERTOOLS_LOG_LEVEL is "LOUD"; must be one of TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL, SILENT',
      'AWS_ENDPOINT_URL_S3 is "localhost:4568"; must be an http(s) URL like http://127.0.0.1:4569',
    ]);
  });

  it('rejects a list of content types with no entry', () => {
    expect(problems({ ...valid, ALLOWED_CONTENT_TYPES: ' , ' })).toEqual([
      'ALLOWED_CONTENT_TYPES lists no MIME type',
    ]);
  });

  it('puts the variable names in the error message a cold start fails with', () => {
    expect(() => loadConfig({ ...valid, MAX_OBJECT_BYTES: '-1' })).toThrow(
      /Invalid processor environment:\n {2}- MAX_OBJECT_BYTES is "-1"/,
    );
  });
});
