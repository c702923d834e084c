/**
 * The repository's module graph, read by the TypeScript compiler itself, and the rules it must obey.
 *
 * Hand-written on purpose: dependency-cruiser and madge would be the libraries of the field, but both parse
 * TypeScript through the `typescript` package's JavaScript compiler API (ts.createSourceFile), which TypeScript 7,
 * the compiler this project pins, no longer has. TypeScript 7 ships its parser behind `typescript/unstable/sync`
 * instead, so this module asks it for the syntax trees (with `noResolve`, only the project's own files are parsed,
 * in about 0.2 s) and walks their import and export declarations. Type-only imports count like any other: a cycle
 * through `import type` is still a cycle between two modules that cannot be understood apart.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Node, type SourceFile, SyntaxKind } from 'typescript/unstable/ast';
import {
  isCallExpression,
  isExportDeclaration,
  isExternalModuleReference,
  isImportDeclaration,
  isImportEqualsDeclaration,
  isImportTypeNode,
  isLiteralTypeNode,
  isNamedExports,
  isNamedImports,
  isStringLiteral,
} from 'typescript/unstable/ast/is';
import { API } from 'typescript/unstable/sync';

/** `type` for imports erased at compile time (`import type`, `export type ... from`, `import('x').T`). */
export type ImportKind = 'value' | 'type';

/** One relative import of one repository file, resolved to the file it names. */
export interface ImportEdge {
  /** Repository-relative paths, with '/'. */
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
  readonly kind: ImportKind;
  /** 1-based line of the specifier. */
  readonly line: number;
}

export interface ImportGraph {
  /** Repository-relative paths of every file read. */
  readonly files: readonly string[];
  readonly edges: readonly ImportEdge[];
  /** Relative specifiers that name no file (a broken import; the typecheck would fail too). */
  readonly unresolved: readonly ImportEdge[];
}

/** Reads the imports of `files` (repository-relative) under `root`. */
export function readImportGraph(root: string, files: readonly string[]): ImportGraph {
  const dir = mkdtempSync(path.join(tmpdir(), 'import-graph-'));
  const api = new API({ cwd: dir });
  try {
    const tsconfig = path.join(dir, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: {
          noResolve: true,
          noLib: true,
          types: [],
          noEmit: true,
          allowImportingTsExtensions: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2024',
        },
        files: files.map((f) => path.join(root, f)),
      }),
    );
    const project = api.updateSnapshot({ openProjects: [tsconfig] }).getProject(tsconfig);
    if (!project) throw new Error('import-graph: the TypeScript API did not open the generated project');
    const edges: ImportEdge[] = [];
    const unresolved: ImportEdge[] = [];
    for (const file of files) {
      const source = project.program.getSourceFile(path.join(root, file));
      if (!source) throw new Error(`import-graph: TypeScript did not read ${file}`);
      for (const found of importsOf(source)) {
        if (!found.specifier.startsWith('./') && !found.specifier.startsWith('../')) continue;
        const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), found.specifier));
        const edge = { from: file, to, ...found };
        (isFile(path.join(root, to)) ? edges : unresolved).push(edge);
      }
    }
    return { files: [...files], edges, unresolved };
  } finally {
    api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Every module specifier of a file: declarations, re-exports, `import('x')` calls and `import('x').T` types. */
function importsOf(source: SourceFile): Array<Omit<ImportEdge, 'from' | 'to'>> {
  const found: Array<Omit<ImportEdge, 'from' | 'to'>> = [];
  const add = (specifier: Node | undefined, kind: ImportKind) => {
    if (specifier === undefined || !isStringLiteral(specifier)) return;
    found.push({ specifier: specifier.text, kind, line: lineOf(source.text, specifier.getStart(source)) });
  };
  const visit = (node: Node): void => {
    if (isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.phaseModifier === SyntaxKind.TypeKeyword ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly ? 'type' : 'value');
    } else if (isExportDeclaration(node)) {
      const clause = node.exportClause;
      const typeOnly =
        node.isTypeOnly ||
        (clause !== undefined &&
          isNamedExports(clause) &&
          clause.elements.length > 0 &&
          clause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, typeOnly ? 'type' : 'value');
    } else if (isImportEqualsDeclaration(node) && isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly ? 'type' : 'value');
    } else if (isImportTypeNode(node) && isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, 'type');
    } else if (isCallExpression(node) && node.expression.kind === SyntaxKind.ImportKeyword) {
      add(node.arguments[0], 'value');
    }
    node.forEachChild(visit);
  };
  source.forEachChild(visit);
  return found;
}

function lineOf(text: string, position: number): number {
  let line = 1;
  for (let i = 0; i < position; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * The layer a file belongs to. Tests (`*.test.ts`, everything under `test/` and `services/<name>/test/`) may import
 * anything; nothing outside them may import a test.
 */
export type Area =
  | 'bin'
  | 'lib'
  | 'service'
  | 'tools'
  | 'devkit'
  | 'local'
  | 'integ'
  | 'bench'
  | 'reliability'
  | 'script'
  | 'test'
  | 'root';

export function areaOf(file: string): Area {
  if (file.endsWith('.test.ts')) return 'test';
  const [top, name, sub] = file.split('/');
  switch (top) {
    case 'bin':
    case 'lib':
    case 'tools':
    case 'devkit':
    case 'local':
    case 'integ':
    case 'bench':
    case 'reliability':
    case 'test':
      return top;
    case 'services':
      if (name !== undefined && sub === 'src') return 'service';
      if (sub === 'scripts') return 'script';
      return 'test';
    default:
      return 'root';
  }
}

/** The areas each area may import from, and why. Dependencies point down: bin -> lib -> services. */
export const IMPORT_RULES: Readonly<Record<Exclude<Area, 'test'>, { may: readonly Area[]; why: string }>> = {
  service: { may: ['service'], why: 'a service stands alone: it is bundled and deployed by itself' },
  lib: {
    may: ['lib', 'service'],
    why: 'the infrastructure code uses only itself and the services it deploys',
  },
  bin: { may: ['bin', 'lib'], why: 'the CDK app composes lib/' },
  tools: { may: ['tools', 'lib', 'service'], why: 'operator tools use the configuration and the services' },
  devkit: {
    may: ['devkit', 'lib', 'service'],
    why: 'the development kit sits on production code and under everything that uses it',
  },
  local: {
    may: ['local', 'devkit', 'lib', 'service'],
    why: 'the local environment is built from the devkit',
  },
  integ: {
    may: ['integ', 'local', 'devkit', 'lib', 'service'],
    why: 'integration tests run against the local environment or a deployed stage',
  },
  bench: {
    may: ['bench', 'local', 'devkit', 'lib', 'service', 'tools'],
    why: 'the benchmark measures production code with the devkit',
  },
  reliability: {
    may: ['reliability', 'devkit', 'lib', 'service'],
    why: 'the reliability suites assemble the devkit around production code',
  },
  script: { may: ['script', 'devkit', 'lib', 'service'], why: 'measurement scripts use the devkit' },
  root: {
    may: [
      'root',
      'bin',
      'lib',
      'service',
      'tools',
      'devkit',
      'local',
      'integ',
      'bench',
      'reliability',
      'script',
    ],
    why: 'root configuration files may not import tests',
  },
};

/** One import that breaks a rule, as a line a person can act on. */
export function importViolations(graph: Pick<ImportGraph, 'edges'>): string[] {
  const violations: string[] = [];
  for (const edge of graph.edges) {
    const from = areaOf(edge.from);
    if (from === 'test') continue;
    const to = areaOf(edge.to);
    const rule = IMPORT_RULES[from];
    const sameService = from !== 'service' || edge.from.split('/')[1] === edge.to.split('/')[1];
    if (!rule.may.includes(to) || !sameService) {
      violations.push(
        `${edge.from}:${edge.line} imports ${edge.to} (${edge.kind}): ${from} may import only ${rule.may.join(', ')}; ${rule.why}`,
      );
    }
  }
  return violations;
}

/**
 * The import cycles: each strongly connected component of more than one file (or a file importing itself), as
 * its files in order. Tarjan's algorithm, iterative so a long chain cannot overflow the stack.
 */
export function importCycles(graph: Pick<ImportGraph, 'edges'>): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of graph.edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of [...next.keys()].sort()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; child: number }> = [{ node: start, child: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; child: number };
      const targets = next.get(frame.node) ?? [];
      if (frame.child < targets.length) {
        const target = targets[frame.child++] as string;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, child: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(target) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent)
        low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      const selfLoop = targets.includes(frame.node);
      if (component.length > 1 || selfLoop) cycles.push(component.reverse());
    }
  }
  return cycles;
}
