import {
  PROCESSOR_METRICS_NAMESPACE,
  PROCESSOR_SERVICE_NAME,
} from '../../services/processor/src/metric-names.ts';
import type { StageConfig } from './stage-config.ts';

/**
 * The processor's environment, derived from the stage configuration. The stack sets exactly this on the function
 * and the local environment runs the bundle with exactly this, so the two cannot drift.
 */
export function processorEnvironment(stage: StageConfig, tableName: string): Record<string, string> {
  return {
    TABLE_NAME: tableName,
    MAX_OBJECT_BYTES: String(stage.objects.maxObjectBytes),
    ALLOWED_CONTENT_TYPES: stage.objects.allowedContentTypes.join(','),
    PROCESSING_CONCURRENCY: String(stage.processor.recordConcurrency),
    POWERTOOLS_SERVICE_NAME: PROCESSOR_SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: PROCESSOR_METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: stage.processor.logLevel,
    STAGE_NAME: stage.stageName,
  };
}
