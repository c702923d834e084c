import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readResults } from '../../bench/summary.ts';
import { loadAppConfig, stageByName } from '../../lib/config/app-config.ts';
import { buildDiagram, type Diagram, referencesIn } from '../../tools/docs/architecture.ts';
import { replaceBlock } from '../../tools/docs/blocks.ts';
import {
  averageBatch,
  MIB_PER_VCPU,
  readMeasuredCpu,
  renderBudgets,
  stageCost,
  VOLUMES,
  WORKLOAD,
  warmInvocationMs,
} from '../../tools/docs/cost-model.ts';
import { DIAGRAM_STAGE, type GeneratedDocs, generateDocs } from '../../tools/docs/generate.ts';
import { inventoryFromTemplate, stageInventory } from '../../tools/docs/inventory.ts';
import { flattenStage, renderStageDifferences } from '../../tools/docs/stage-differences.ts';
import { ALARM_RUNBOOKS, BUDGET_RUNBOOK, runbookFor } from '../../tools/lib/runbooks.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const config = loadAppConfig();
// The one synth of this file: the generator synthesizes the diagram stage once; every check below reuses it.
let generated: GeneratedDocs;
let diagram: Diagram;

beforeAll(async () => {
  generated = await generateDocs(ROOT);
  diagram = buildDiagram(generated.synthesized);
});

describe('generated docs', () => {
  it('are up to date with the code (run `npm run docs:generate` when this fails)', async () => {
    for (const [path, content] of generated.files) {
      const onDisk = await readFile(join(ROOT, path), 'utf8');
      expect(onDisk, `${path} is stale: run npm run docs:generate`).toBe(content);
    }
    expect([...generated.files.keys()].sort()).toEqual(
      ['README.md', 'docs/cost-model.md', 'docs/disaster-recovery.md', 'docs/promotion.md'].sort(),
    );
  });

  it('replace only the body of their block and refuse a document without one', () => {
    const doc = 'intro\n<!-- generated:x -->\nold\n<!-- /generated:x -->\noutro\n';
    expect(replaceBlock(doc, 'x', 'new')).toBe(
      'intro\n<!-- generated:x -->\nnew\n<!-- /generated:x -->\noutro\n',
    );
    expect(() => replaceBlock('no markers', 'x', 'new')).toThrow('expected exactly one');
  });
});

describe('architecture diagram', () => {
  const resourcesOfType = (type: string) =>
    Object.entries(generated.synthesized.resources).filter(([, r]) => r.Type === type);
  const nodeFor = (logicalId: string) =>
    (generated.synthesized.paths.get(logicalId) ?? '').replaceAll(/[^A-Za-z0-9]/g, '_');

  it('draws every bucket, queue, table and our function of the synthesized stack', () => {
    const stateful = [
      ...resourcesOfType('AWS::S3::Bucket'),
      ...resourcesOfType('AWS::SQS::Queue'),
      ...resourcesOfType('AWS::DynamoDB::Table'),
    ];
    expect(stateful.length).toBeGreaterThanOrEqual(5);
    for (const [id] of stateful) expect(diagram.nodes.has(nodeFor(id)), id).toBe(true);
    const functions = [...diagram.nodes.values()].filter((n) => n.label.endsWith('Lambda function'));
    expect(functions).toHaveLength(1);
  });

  it('derives the data path from the template references', () => {
    const [queueId, queue] =
      resourcesOfType('AWS::SQS::Queue').find(([, r]) => r.Properties?.RedrivePolicy) ?? [];
    const redrive = queue?.Properties?.RedrivePolicy as { deadLetterTargetArn?: unknown } | undefined;
    const dlq = [...referencesIn(redrive?.deadLetterTargetArn)][0];
    const edge = (from: string, to: string) => diagram.edges.find((e) => e.from === from && e.to === to);
    expect(edge(nodeFor(queueId as string), nodeFor(dlq as string))?.label).toMatch(/^after \d+ receives$/);
    const notifications = resourcesOfType('Custom::S3BucketNotifications')[0]?.[1];
    const bucket = [...referencesIn(notifications?.Properties?.BucketName)][0] as string;
    expect(edge(nodeFor(bucket), nodeFor(queueId as string))?.label).toBe('ObjectCreated:*, ObjectRemoved:*');
    const [tableId] = resourcesOfType('AWS::DynamoDB::Table')[0] ?? [];
    const writer = diagram.edges.find(
      (e) => e.to === nodeFor(tableId as string) && e.label.includes('PutItem'),
    );
    expect(writer?.from).toMatch(/Function$/);
    expect(diagram.edges.filter((e) => e.to === 'Alarms' || e.from === 'Alarms').length).toBeGreaterThan(2);
  });
});

describe('runbooks', () => {
  it('exist for every alarm of the stack, and every runbook file is indexed', async () => {
    const alarmIds = Object.entries(generated.synthesized.resources)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .map(([id]) => id);
    expect(alarmIds.length).toBe(Object.keys(ALARM_RUNBOOKS).length);
    for (const id of alarmIds) expect(runbookFor(`stack-${id}-ABC123`), id).toBeDefined();
    const files = (await readdir(join(ROOT, 'docs/runbooks'))).filter((f) => f.endsWith('.md'));
    const indexed = [
      ...Object.values(ALARM_RUNBOOKS),
      BUDGET_RUNBOOK,
      'docs/runbooks/backfill.md',
      'docs/runbooks/README.md',
    ];
    expect(files.map((f) => `docs/runbooks/${f}`).sort()).toEqual([...indexed].sort());
    const index = await readFile(join(ROOT, 'docs/runbooks/README.md'), 'utf8');
    for (const path of [...Object.values(ALARM_RUNBOOKS), BUDGET_RUNBOOK]) {
      expect(index).toContain(`(${path.replace('docs/runbooks/', '')})`);
      const text = await readFile(join(ROOT, path), 'utf8');
      for (const section of ['## What it means', '## Confirm', '## Fix', '## Verify']) {
        expect(text, `${path} lacks "${section}"`).toContain(section);
      }
    }
  });
});

describe('cost model', () => {
  it('counts the keys, alarms, dashboards and endpoints the synthesized stack really has', () => {
    const prod = stageByName(config, DIAGRAM_STAGE);
    const { emfMetrics: _, ...counted } = stageInventory(prod);
    expect(inventoryFromTemplate(generated.synthesized.resources)).toEqual(counted);
  });

  it('follows the configuration: memory drives compute, batches fill only at volume, storage is separate', () => {
    const dev = stageByName(config, 'dev');
    const inventory = stageInventory(dev);
    const [low, , high] = VOLUMES;
    const compute = (memoryMiB: number) =>
      stageCost({ ...dev, processor: { ...dev.processor, memoryMiB } }, inventory, high).lines.find(
        (l) => l.component === 'Lambda compute (arm64)',
      )?.usd ?? 0;
    // Below one vCPU more memory also shortens the CPU-bound part, so it costs less than proportionally more;
    // above it (1,769 MB) duration no longer shrinks and cost grows with memory.
    expect(compute(1024)).toBeGreaterThan(compute(512));
    expect(compute(1024)).toBeLessThan(2 * compute(512));
    expect(compute(2 * MIB_PER_VCPU)).toBeCloseTo(2 * compute(MIB_PER_VCPU), 1);
    expect(averageBatch(dev, high.objects)).toBe(dev.ingestQueue.batchSize);
    expect(averageBatch(dev, low.objects)).toBeLessThan(1.01);
    // 100M objects in batches of 10 = 10M invocations at $0.20 per million.
    expect(stageCost(dev, inventory, high).lines[0]).toMatchObject({ component: 'Lambda requests', usd: 2 });
    const cost = stageCost(dev, inventory, high);
    expect(cost.totalUsd).toBeCloseTo(cost.processingUsd + cost.storageUsd, 6);
    expect(cost.lines.some((l) => l.component.startsWith('AWS Backup'))).toBe(dev.backup.awsBackup);
  });

  it('bills the CPU time of the committed `npm run bench` run', () => {
    const measured = readResults().sections.costGrowth.results.processorCpuModel;
    expect(WORKLOAD.measuredCpu).toEqual(measured);
    const prod = stageByName(config, 'prod');
    const cpuShare = prod.processor.memoryMiB / MIB_PER_VCPU;
    const batch = prod.ingestQueue.batchSize;
    expect(warmInvocationMs(prod, batch)).toBe(
      Math.round(
        WORKLOAD.runtimeOverheadMs +
          Math.ceil(batch / prod.processor.recordConcurrency) * 2 * WORKLOAD.roundTripMs +
          (measured.perInvocationMs + batch * measured.perObjectMs) / cpuShare,
      ),
    );
  });

  it('refuses a results file without the CPU fit, naming what to run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cost-model-'));
    const file = join(dir, 'results.json');
    await writeFile(file, JSON.stringify({ sections: { costGrowth: { results: {} } } }));
    expect(() => readMeasuredCpu(file)).toThrow('no sections.costGrowth.results.processorCpuModel');
    await writeFile(
      file,
      JSON.stringify({
        sections: { costGrowth: { results: { processorCpuModel: { perInvocationMs: 1, perObjectMs: 2 } } } },
      }),
    );
    expect(readMeasuredCpu(file)).toEqual({ perInvocationMs: 1, perObjectMs: 2 });
  });

  it('shows where each budget alerts from the configured amount', () => {
    const rendered = renderBudgets(config.stages);
    for (const stage of config.stages) {
      expect(rendered).toContain(
        `| ${stage.stageName} | $${stage.budget.monthlyUsd} | $${(stage.budget.monthlyUsd * 0.8).toFixed(2)} |`,
      );
    }
  });
});

describe('stage differences', () => {
  it('lists a setting that differs with each stage value and one that does not under "the same"', () => {
    const rendered = renderStageDifferences(config);
    const [dev, staging, prod] = config.stages.map((s) => flattenStage(s).get('processor.memoryMiB'));
    expect(rendered).toContain(`| \`processor.memoryMiB\` | ${dev} | ${staging} | ${prod} |`);
    const [differences, same] = rendered.split('The same in every stage');
    expect(differences).not.toContain('`ingestQueue.batchSize`');
    expect(same).toContain('| `ingestQueue.batchSize` | 10 |');
    expect(rendered).not.toContain('| `account` |');
  });

  it('prints a list of records (a stateful-change allowance) as its fields, an empty list as "(none)"', () => {
    const [, , prod] = config.stages;
    if (!prod) throw new Error('no prod stage');
    expect(flattenStage(prod).get('changeReview.allowStatefulChanges')).toBe('(none)');
    const allowance = {
      logicalId: 'ProcessorObjectsTableD8F1E774',
      reason: 'KeySchema migration, refilled by backfill',
    };
    const allowing = { ...prod, changeReview: { enabled: true, allowStatefulChanges: [allowance] } };
    expect(flattenStage(allowing).get('changeReview.allowStatefulChanges')).toBe(JSON.stringify(allowance));
  });
});
