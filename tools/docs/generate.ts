/**
 * `npm run docs:generate`: rewrites the generated blocks of the operations docs and the README's architecture
 * picture from the code (lib/config and a synthesized ProcessorStack). `--check` writes nothing and exits 1 when a
 * document is stale; test/tools/docs.test.ts runs the same comparison inside `npm test`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stageByName } from '../../lib/config/app-config.ts';
import { loadProjectConfig } from '../../lib/config/resolve.ts';
import { buildDiagram, renderMermaid, type SynthesizedStack, synthesizeStage } from './architecture.ts';
import { GENERATED_NOTE, replaceBlock } from './blocks.ts';
import { renderAssumptions, renderBudgets, renderStageCost } from './cost-model.ts';
import { stageInventory } from './inventory.ts';
import { renderRecoveryPerStage } from './recovery.ts';
import { renderStageDifferences } from './stage-differences.ts';

/** The stage drawn in the README: production, which has every optional part the configuration enables. */
export const DIAGRAM_STAGE = 'prod';

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
  const blocks: Record<string, Record<string, string>> = {
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

async function main(argv: readonly string[]): Promise<number> {
  const root = join(import.meta.dirname, '..', '..');
  const generated = await generateDocs(root);
  const stale = await staleDocs(root, generated);
  if (argv.includes('--check')) {
    for (const path of stale) process.stderr.write(`stale: ${path} (run npm run docs:generate)\n`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const path of stale) {
    await writeFile(join(root, path), generated.files.get(path) as string);
    process.stdout.write(`updated ${path}\n`);
  }
  if (stale.length === 0) process.stdout.write('docs are up to date\n');
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
