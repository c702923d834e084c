import type { AppConfig, StageConfig } from '../../lib/config/stage-config.ts';
import { table } from './blocks.ts';

/** Settings that come from cdk.json context or environment variables (bin/), not from the reviewed code. */
const FROM_DEPLOYMENT = new Set([
  'account',
  'region',
  'alarms.email',
  'integTestTrustedAccount',
  'budget.email',
]);

/** Every leaf setting of a stage as `dotted.path -> printable value`. */
export function flattenStage(stage: StageConfig): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (value: unknown, path: string) => {
    // A list of records (changeReview.allowStatefulChanges) prints each as JSON; an empty list says so.
    if (Array.isArray(value)) {
      const items = value.map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)));
      out.set(path, items.length > 0 ? items.join(', ') : '(none)');
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    } else out.set(path, String(value));
  };
  walk(stage, '');
  out.delete('stageName');
  return out;
}

/**
 * Two tables from the configuration: the settings that differ between stages (each stage's value), and those
 * that are the same everywhere. Paths present in only some stages (optional settings) count as differing.
 */
export function renderStageDifferences(config: AppConfig): string {
  const flat = config.stages.map(flattenStage);
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].filter((p) => !FROM_DEPLOYMENT.has(p));
  const differing: string[][] = [];
  const same: string[][] = [];
  for (const path of paths) {
    const values = flat.map((f) => f.get(path) ?? '(not set)');
    if (new Set(values).size > 1) differing.push([`\`${path}\``, ...values]);
    else same.push([`\`${path}\``, values[0] as string]);
  }
  const stageNames = config.stages.map((s) => s.stageName);
  const deployment = [...FROM_DEPLOYMENT].map((p) => `\`${p}\``).join(', ');
  return [
    `Differences between stages (${differing.length} settings):`,
    '',
    table(['setting', ...stageNames], differing),
    '',
    `The same in every stage (${same.length} settings):`,
    '',
    table(['setting', 'value'], same),
    '',
    `Set per deployment in \`bin/\` (cdk.json context or environment), not in code: ${deployment}.`,
  ].join('\n');
}
