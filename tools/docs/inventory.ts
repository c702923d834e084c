import type { StageConfig } from '../../lib/config/stage-config.ts';
import { PROCESSOR_METRICS } from '../../services/processor/src/metric-names.ts';
import { ALARM_RUNBOOKS } from '../lib/runbooks.ts';
import type { StageInventory } from './cost-model.ts';

/**
 * What a stage's stack creates that costs money by existing, from its configuration: four data keys (objects,
 * queue, table, logs) and the alarm topic key, plus the backup key with AWS Backup and the disaster-recovery
 * vault's key in the copy region; one alarm per runbook; one dashboard; the processor's EMF metrics plus
 * Powertools' ColdStart metric; the X-Ray
 * interface endpoint in VPC mode. The docs test compares this with a synthesized stack, so it cannot drift.
 */
export function stageInventory(stage: StageConfig): StageInventory {
  return {
    kmsKeys: 5 + (stage.backup.awsBackup ? 1 : 0) + (stage.backup.copyToRegion === undefined ? 0 : 1),
    alarms: Object.keys(ALARM_RUNBOOKS).length,
    dashboards: 1,
    emfMetrics: Object.keys(PROCESSOR_METRICS).length + 1,
    interfaceEndpoints: stage.network.vpc ? 1 : 0,
  };
}

/** The same counts read from a synthesized template (keys in other regions are not in it). */
export function inventoryFromTemplate(
  resources: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>
  >,
) {
  const count = (type: string) => Object.values(resources).filter((r) => r.Type === type).length;
  return {
    kmsKeys: count('AWS::KMS::Key'),
    alarms: count('AWS::CloudWatch::Alarm'),
    dashboards: count('AWS::CloudWatch::Dashboard'),
    interfaceEndpoints: Object.values(resources).filter(
      (r) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties?.VpcEndpointType === 'Interface',
    ).length,
  };
}
