import { describe, expect, it } from 'vitest';
import { loadAppConfig, stageByName } from '../../lib/config/app-config.ts';
import { INTEG_ENV, OUTPUT_KEYS, processorStackName, stageId } from '../../lib/config/names.ts';
import { processorEnvironment } from '../../lib/config/processor-environment.ts';
import {
  PROCESSOR_METRICS_NAMESPACE,
  PROCESSOR_SERVICE_NAME,
} from '../../services/processor/src/metric-names.ts';

describe('names', () => {
  it('PascalCases stage construct IDs', () => {
    expect(stageId('dev')).toBe('Dev');
    expect(stageId('staging')).toBe('Staging');
    expect(stageId('load-test')).toBe('LoadTest');
  });

  it('derives the processor stack name from project and stage', () => {
    expect(processorStackName('s3-object-processor', { stageName: 'prod' })).toBe(
      's3-object-processor-prod-processor',
    );
  });

  it('keeps output keys unique and valid CloudFormation output identifiers', () => {
    const keys = Object.values(OUTPUT_KEYS);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(key).toMatch(/^[A-Za-z0-9]+$/);
    expect(new Set(Object.values(INTEG_ENV)).size).toBe(Object.values(INTEG_ENV).length);
  });
});

describe('processorEnvironment', () => {
  const config = loadAppConfig();

  it('carries exactly the settings the handler reads, from the stage configuration', () => {
    const dev = stageByName(config, 'dev');
    expect(processorEnvironment(dev, 'the-table')).toEqual({
      TABLE_NAME: 'the-table',
      MAX_OBJECT_BYTES: String(dev.objects.maxObjectBytes),
      ALLOWED_CONTENT_TYPES: dev.objects.allowedContentTypes.join(','),
      PROCESSING_CONCURRENCY: String(dev.processor.recordConcurrency),
      POWERTOOLS_SERVICE_NAME: PROCESSOR_SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: PROCESSOR_METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
      STAGE_NAME: 'dev',
    });
  });

  it('differs between stages where their configuration differs (log level)', () => {
    const dev = processorEnvironment(stageByName(config, 'dev'), 't');
    const prod = processorEnvironment(stageByName(config, 'prod'), 't');
    expect(dev.POWERTOOLS_LOG_LEVEL).toBe('DEBUG');
    expect(prod.POWERTOOLS_LOG_LEVEL).toBe('INFO');
    expect(prod.STAGE_NAME).toBe('prod');
  });
});
