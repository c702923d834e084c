/**
 * `npm run docs:generate`: rewrites the generated blocks of the operations docs and the README's architecture
 * picture from the code (lib/config and a synthesized ProcessorStack). `--check` writes nothing and exits 1 when a
 * document is stale; test/tools/docs.test.ts runs the same comparison inside `npm test`. `--help` for the usage.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stageByName } from '../../lib/config/app-config.ts';
import { loadProjectConfig } from '../../lib/config/resolve.ts';
import { type Io, parseCommandArgs, runTool } from '../lib/cli.ts';
import { buildDiagram, renderMermaid, type SynthesizedStack, synthesizeStage } from './architecture.ts';
import { GENERATED_NOTE, replaceBlock } from './blocks.ts';
import { renderAssumptions, renderBudgets, renderStageCost } from './cost-model.ts';
import { stageInventory } from './inventory.ts';
import { renderRecoveryPerStage } from './recovery.ts';
import { renderStageDifferences } from './stage-differences.ts';

/** The stage drawn in the README: production, which has every optional part the configuration enables. */
export const DIAGRAM_STAGE = 'prod';

/** The documents with generated blocks (the usage text names them; `generateDocs` must fill each one). */
export const GENERATED_DOCS = [
  'README.md',
  'docs/promotion.md',
  'docs/cost-model.md',
  'docs/disaster-recovery.md',
] as const;

export interface GeneratedDocs {
  /** Repository-relative path -> the document as the generator would write it. */
  readonly files: ReadonlyMap<string, string>;
  /** The stack synthesized for the picture, for checks that need a template. */
  readonly synthesized: SynthesizedStack;
}

export async function generateDocs(root: string): Promise<GeneratedDocs> {
  // The documented settings are the committed ones: cdk.json, never the generating shell's environment.
  const { config } = loadProjectConfig({ root, env: {} });
  const diagramStage = stageByName(config, DIAGRAM_STAGE);
  const synthesized = synthesizeStage(config, diagramStage);
  const note = `<!-- ${GENERATED_NOTE} -->`;
  const blocks: Record<(typeof GENERATED_DOCS)[number], Record<string, string>> = {
    'README.md': {
      architecture: [
        note,
        renderMermaid(
          buildDiagram(synthesized),
          `${config.project}: the ${diagramStage.stageName} stage as synthesized (dashed: encryption and metrics)`,
        ),
      ].join('\n'),
    },
    'docs/promotion.md': { 'stage-differences': [note, renderStageDifferences(config)].join('\n') },
    'docs/cost-model.md': {
      'cost-assumptions': [note, renderAssumptions()].join('\n'),
      'cost-per-stage': [note, ...config.stages.map((s) => renderStageCost(s, stageInventory(s)))].join(
        '\n\n',
      ),
      budgets: [note, renderBudgets(config.stages)].join('\n'),
    },
    'docs/disaster-recovery.md': {
      'recovery-per-stage': [note, renderRecoveryPerStage(config.stages)].join('\n'),
    },
  };
  const files = new Map<string, string>();
  for (const [path, byName] of Object.entries(blocks)) {
    let document = await readFile(join(root, path), 'utf8');
    for (const [name, body] of Object.entries(byName)) {
      try {
        document = replaceBlock(document, name, body);
      } catch (error) {
        throw new Error(`${path}: ${(error as Error).message}`);
      }
    }
    files.set(path, document);
  }
  return { files, synthesized };
}

/** Paths whose content on disk differs from the generated content. */
export async function staleDocs(root: string, generated: GeneratedDocs): Promise<string[]> {
  const stale: string[] = [];
  for (const [path, content] of generated.files) {
    if ((await readFile(join(root, path), 'utf8')) !== content) stale.push(path);
  }
  return stale;
}

export const DOCS_GENERATE_HELP = `Usage: npm run docs:generate -- [--check]

Rewrites the generated blocks of ${GENERATED_DOCS.join(', ')}
from the code (lib/config and a synthesized ${DIAGRAM_STAGE} ProcessorStack), each file only when its content changes,
and prints the files it updated.

Options:
  --check      write nothing; name each stale document on stderr
  -h, --help   this text
Exit codes: 0 up to date (or rewritten), 1 stale (--check), 2 usage.`;

export async function docsGenerate(argv: readonly string[], io: Io): Promise<number> {
  const args = parseCommandArgs(argv, { check: { type: 'boolean' } });
  if (args.help) {
    io.out(DOCS_GENERATE_HELP);
    return 0;
  }
  const root = join(import.meta.dirname, '..', '..');
  const generated = await generateDocs(root);
  const stale = await staleDocs(root, generated);
  if (args.check) {
    for (const path of stale) io.progress(`stale: ${path} (run npm run docs:generate)`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const path of stale) {
    await writeFile(join(root, path), generated.files.get(path) as string);
    io.out(`updated ${path}`);
  }
  if (stale.length === 0) io.out('docs are up to date');
  return 0;
}

if (import.meta.main) await runTool(docsGenerate);
