import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProjectConfig, PROJECT_ROOT } from '../../lib/config/resolve.ts';
import type { AppConfig } from '../../lib/config/stage-config.ts';
import { replaceBlock, table } from '../../tools/docs/blocks.ts';
import { type Io, parseCommandArgs, runTool } from '../../tools/lib/cli.ts';
import type { Flow } from './flow-model.ts';
import { FLOWS, NOT_MODELLED } from './flows.ts';

/**
 * docs/security.md's flow table, rendered from the rows in flows.ts: the test compares the document with this
 * rendering, and `npm run docs:flows` writes it. The table shows what each row claims; flows.test.ts proves it.
 */

export const FLOW_DOC = 'docs/security.md';
export const FLOW_TABLE_BLOCK = 'flow-table';
export const FLOW_COUNTS_BLOCK = 'flow-counts';
export const NOT_MODELLED_BLOCK = 'flows-not-modelled';

const WHERE: Record<Flow['scope'], string> = {
  stage: 'each stage',
  'pipeline-to-stage': 'pipeline -> each stage account',
  pipeline: 'pipeline (tooling account)',
};

const code = (text: string) => `\`${text}\``;

function whereOf(flow: Flow): string {
  return flow.when ? `${WHERE[flow.scope]}: ${flow.when.label}` : WHERE[flow.scope];
}

function row(flow: Flow): string[] {
  const unevaluable = flow.unevaluable ? ` (hand-checked: ${code(flow.unevaluable.key)})` : '';
  return [
    code(flow.id),
    whereOf(flow),
    flow.principal.label,
    flow.actions.map(code).join(', '),
    flow.resource.label,
    (flow.context?.label ?? '') + unevaluable,
    flow.decidedBy.map(code).join(', '),
    flow.expect,
  ];
}

export function renderFlowTable(flows: readonly Flow[] = FLOWS): string {
  const header = [
    'Flow',
    'Where',
    'Principal',
    'Actions',
    'Resource',
    'Request context',
    'Decided by',
    'Expected',
  ];
  const section = (phase: Flow['phase']) =>
    [
      `#### ${phase === 'run time' ? 'Run time' : 'Deploy time'}`,
      '',
      table(header, flows.filter((f) => f.phase === phase).map(row)),
    ].join('\n');
  return [section('run time'), '', section('deploy time')].join('\n');
}

/** How many rows apply to each template, and how many of them must be allowed / denied. */
export function flowCounts(
  config: AppConfig,
  flows: readonly Flow[] = FLOWS,
): Array<[string, number, number]> {
  const count = (applies: (f: Flow) => boolean): [number, number] => {
    const rows = flows.filter(applies);
    const allowed = rows.filter((f) => f.expect === 'allowed').length;
    return [allowed, rows.length - allowed];
  };
  return [
    ...config.stages.map((stage): [string, number, number] => [
      stage.stageName,
      ...count((f) => f.scope !== 'pipeline' && (f.when === undefined || f.when.test(stage))),
    ]),
    ['pipeline', ...count((f) => f.scope === 'pipeline')],
  ];
}

export function renderFlowCounts(config: AppConfig, flows: readonly Flow[] = FLOWS): string {
  return table(
    ['Evaluated against', 'Rows', 'Allowed', 'Denied'],
    flowCounts(config, flows).map(([name, allowed, denied]) => [
      name,
      String(allowed + denied),
      String(allowed),
      String(denied),
    ]),
  );
}

export function renderNotModelled(): string {
  if (NOT_MODELLED.length === 0)
    return 'None: a row evaluates every role and resource policy of every template.';
  return table(
    ['Template', 'Role or policy', 'Why no row evaluates it'],
    NOT_MODELLED.map((n) => [n.template === 'stage' ? 'each stage' : n.template, code(n.id), n.reason]),
  );
}

const NOTE =
  '<!-- Generated from test/security/flows.ts by `npm run docs:flows`; flows.test.ts fails when it is stale. -->';

/** The documented configuration is the committed one (cdk.json), never the shell's environment. */
const committedConfig = () => loadProjectConfig({ env: {} }).config;

/** docs/security.md as it must read. */
export function renderFlowDoc(document: string, config: AppConfig = committedConfig()): string {
  const withTable = replaceBlock(document, FLOW_TABLE_BLOCK, `${NOTE}\n${renderFlowTable()}`);
  const withCounts = replaceBlock(withTable, FLOW_COUNTS_BLOCK, `${NOTE}\n${renderFlowCounts(config)}`);
  return replaceBlock(withCounts, NOT_MODELLED_BLOCK, `${NOTE}\n${renderNotModelled()}`);
}

export const DOCS_FLOWS_HELP = `Usage: npm run docs:flows

Rewrites the generated blocks of ${FLOW_DOC} (${FLOW_TABLE_BLOCK}, ${FLOW_COUNTS_BLOCK}, ${NOT_MODELLED_BLOCK}) from the
rows in test/security/flows.ts, as test/security/flows.test.ts expects them.

Options:
  -h, --help   this text
Exit codes: 0 written, 2 usage.`;

/** `npm run docs:flows`: rewrites the generated blocks of docs/security.md. */
export async function docsFlows(argv: readonly string[], io: Io): Promise<number> {
  if (parseCommandArgs(argv, {}).help) {
    io.out(DOCS_FLOWS_HELP);
    return 0;
  }
  const path = join(PROJECT_ROOT, FLOW_DOC);
  writeFileSync(path, renderFlowDoc(readFileSync(path, 'utf8')));
  io.progress(`${FLOW_DOC}: flow table written (${FLOWS.length} rows)`);
  return 0;
}

if (import.meta.main) await runTool(docsFlows);
