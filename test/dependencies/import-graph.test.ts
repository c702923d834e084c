import { globSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { areaOf, type ImportEdge, importCycles, importViolations, readImportGraph } from './import-graph.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const IGNORED = ['node_modules', 'cdk.out', 'dist', '.git', '.local-data', 'coverage'];

/** Every TypeScript file of the repository (whatever tsconfig.json includes, so a new folder cannot escape). */
const files = globSync('**/*.ts', {
  cwd: ROOT,
  exclude: (name) => IGNORED.includes(path.basename(name)),
}).map((f) => f.split(path.sep).join('/'));
const graph = readImportGraph(ROOT, files);

describe('the repository import graph', () => {
  it('is read from every file, type-only imports included', () => {
    expect(files.length).toBeGreaterThan(150);
    expect(graph.unresolved).toEqual([]);
    const kinds = new Set(graph.edges.map((e) => e.kind));
    expect(kinds).toEqual(new Set(['value', 'type']));
    // Known edges, one of each kind: bin/ builds the app from the resolver; the stage reads a type of the config.
    expect(graph.edges).toContainEqual(
      expect.objectContaining({ from: 'bin/build-app.ts', to: 'lib/config/resolve.ts', kind: 'value' }),
    );
    expect(graph.edges).toContainEqual(
      expect.objectContaining({
        from: 'lib/stages/processor-stage.ts',
        to: 'lib/config/stage-config.ts',
        kind: 'type',
      }),
    );
  });

  it('points one way: production code imports no development code, and each layer only what is below it', () => {
    expect(importViolations(graph)).toEqual([]);
  });

  it('has no import cycle, counting type-only imports', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('fails on a deliberately bad edge added to the real graph', () => {
    const bad: ImportEdge[] = [
      { from: 'lib/config/names.ts', to: 'devkit/clock.ts', specifier: '', kind: 'type', line: 1 },
      {
        from: 'tools/lib/cli.ts',
        to: 'test/app-stack/stage-synth.ts',
        specifier: '',
        kind: 'value',
        line: 1,
      },
      {
        from: 'lib/config/stage-config.ts',
        to: 'lib/stages/processor-stage.ts',
        specifier: '',
        kind: 'type',
        line: 1,
      },
    ];
    const mutated = { edges: [...graph.edges, ...bad] };
    const violations = importViolations(mutated);
    expect(violations).toHaveLength(2);
    expect(violations[0]).toMatch(
      /^lib\/config\/names\.ts:1 imports devkit\/clock\.ts \(type\): lib may import only lib, service;/,
    );
    expect(violations[1]).toMatch(/^tools\/lib\/cli\.ts:1 imports test\/app-stack\/stage-synth\.ts/);
    const cycles = importCycles(mutated);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toEqual(
      expect.arrayContaining(['lib/config/stage-config.ts', 'lib/stages/processor-stage.ts']),
    );
  });
});

describe('readImportGraph on a fixture repository', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'import-graph-fixture-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  write(
    'lib/a.ts',
    [
      "import { helper } from '../local/helper.ts';",
      "import type { B } from './b.ts';",
      "import { type C, type D } from './c.ts';",
      "export type { E } from './e.ts';",
      "export * from './e.ts';",
      "import 'node:fs';",
      'export const a = (b: B, c: C, d: D) => helper(b, c, d);',
      "export type F = import('./f.ts').F;",
      "export const later = () => import('./f.ts');",
    ].join('\n'),
  );
  write('lib/b.ts', "import { a } from './a.ts';\nexport type B = typeof a;\n");
  write('lib/c.ts', 'export type C = 1;\nexport type D = 2;\n');
  write('lib/e.ts', 'export type E = 1;\n');
  write('lib/f.ts', 'export type F = 1;\n');
  write(
    'local/helper.ts',
    "import { missing } from './missing.ts';\nexport const helper = (..._: unknown[]) => missing;\n",
  );
  write('services/p/src/h.ts', "import type { F } from '../../../lib/f.ts';\nexport type H = F;\n");
  const fixture = readImportGraph(root, [
    'lib/a.ts',
    'lib/b.ts',
    'lib/c.ts',
    'lib/e.ts',
    'lib/f.ts',
    'local/helper.ts',
    'services/p/src/h.ts',
  ]);
  const edge = (from: string, to: string, kind: string, line: number) => ({ from, to, kind, line });

  it('finds every relative import with its kind and line, and ignores packages', () => {
    expect(fixture.edges.map(({ from, to, kind, line }) => ({ from, to, kind, line }))).toEqual([
      edge('lib/a.ts', 'local/helper.ts', 'value', 1),
      edge('lib/a.ts', 'lib/b.ts', 'type', 2),
      edge('lib/a.ts', 'lib/c.ts', 'type', 3),
      edge('lib/a.ts', 'lib/e.ts', 'type', 4),
      edge('lib/a.ts', 'lib/e.ts', 'value', 5),
      edge('lib/a.ts', 'lib/f.ts', 'type', 8),
      edge('lib/a.ts', 'lib/f.ts', 'value', 9),
      edge('lib/b.ts', 'lib/a.ts', 'value', 1),
      edge('services/p/src/h.ts', 'lib/f.ts', 'type', 1),
    ]);
    expect(fixture.unresolved).toEqual([
      expect.objectContaining({ from: 'local/helper.ts', to: 'local/missing.ts' }),
    ]);
  });

  it('reports the import from production into local/, a service reaching out, and the cycle through a type import', () => {
    expect(importViolations(fixture)).toEqual([
      expect.stringMatching(/^lib\/a\.ts:1 imports local\/helper\.ts \(value\): lib may import only/),
      expect.stringMatching(
        /^services\/p\/src\/h\.ts:1 imports lib\/f\.ts \(type\): service may import only service/,
      ),
    ]);
    expect(importCycles(fixture)).toEqual([['lib/a.ts', 'lib/b.ts']]);
  });

  it('places files in their layer', () => {
    expect(
      [
        'bin/app.ts',
        'lib/x.ts',
        'services/p/src/x.ts',
        'services/p/test/x.ts',
        'services/p/scripts/x.ts',
        'local/x.test.ts',
        'vitest.config.ts',
      ].map(areaOf),
    ).toEqual(['bin', 'lib', 'service', 'test', 'script', 'test', 'root']);
  });
});
