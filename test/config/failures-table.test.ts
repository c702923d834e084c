import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config/resolve.ts';

/**
 * The README's table of the naive version's 25 failures says, for each, where it is fixed and which test proves
 * it. It is the first thing a reviewer checks, so it must stay true as files move and tests are renamed: every
 * path it names exists, and every test title it quotes is in the file named just before the quote.
 */

const README = path.join(PROJECT_ROOT, 'README.md');
const FAILURE_COUNT = 25;

/** How the checker sees the repository, so a test can hand it a damaged README against the real files. */
interface Repository {
  /** Repository-relative paths of every file and folder (folders end with '/'), excluding dependencies. */
  readonly entries: readonly string[];
  readonly read: (relativePath: string) => string;
}

function listRepository(root: string): string[] {
  const entries: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.') || name === 'node_modules' || name.startsWith('cdk.out')) continue;
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        entries.push(`${prefix}${name}/`);
        walk(full, `${prefix}${name}/`);
      } else {
        entries.push(`${prefix}${name}`);
      }
    }
  };
  walk(root, '');
  return entries;
}

const realRepository: Repository = {
  entries: listRepository(PROJECT_ROOT),
  read: (relativePath) => readFileSync(path.join(PROJECT_ROOT, relativePath), 'utf8'),
};

/**
 * A backticked token that names a file or folder of this repository rather than an identifier, an ARN or a key
 * prefix: a file with a source or document extension, or a path with at least one folder (`lib/stages`,
 * `docs/runbooks/`). A bare `integ-tests/` is the tests' S3 prefix, not a folder.
 */
const PATH_LIKE = /^(?:[\w.-]+\/)*[\w.-]+\.(?:ts|mjs|md|json|yml)$|^(?:[\w.-]+\/)+[\w.-]+\/?$/;

function failuresSection(readme: string): string {
  const match = /<!-- section:failures -->([\s\S]*?)<!-- \/section:failures -->/.exec(readme);
  if (!match?.[1]) throw new Error('README.md has no failures section (<!-- section:failures -->)');
  return match[1];
}

/** Resolves a named path: exact when it has a folder, by file name (which must be unique) when it is bare. */
function resolvePath(token: string, repo: Repository): { file?: string; problem?: string } {
  if (token.includes('/')) {
    const found = repo.entries.find((entry) => entry === token || entry === `${token}/`);
    return found ? { file: found } : { problem: `\`${token}\` does not exist` };
  }
  const matches = repo.entries.filter((entry) => entry === token || entry.endsWith(`/${token}`));
  if (matches.length === 1) return { file: matches[0] };
  return matches.length === 0
    ? { problem: `\`${token}\` matches no file` }
    : { problem: `\`${token}\` is ambiguous: ${matches.join(', ')}` };
}

/** Everything wrong with the failures table of `readme`, one line each; empty when it is true. */
function failuresTableProblems(readme: string, repo: Repository): string[] {
  const problems: string[] = [];
  const rows = failuresSection(readme)
    .split('\n')
    .filter((line) => /^\| \d+ \|/.test(line));
  const numbers = rows.map((row) => Number(/^\| (\d+) \|/.exec(row)?.[1]));
  const expected = Array.from({ length: FAILURE_COUNT }, (_, i) => i + 1);
  if (numbers.join() !== expected.join()) {
    problems.push(`rows are numbered ${numbers.join(', ')}; expected 1 to ${FAILURE_COUNT} in order`);
  }
  for (const row of rows) {
    const cells = row.split(' | ');
    const number = cells[0]?.replace('| ', '');
    if (cells.length !== 4) {
      problems.push(`row ${number}: ${cells.length} cells, expected 4 (# | failure | fixed in | proven by)`);
      continue;
    }
    // Scan the row's tokens in order: a quoted title belongs to the last .ts file named before it in its cell.
    for (const [column, cell] of [
      ['fixed in', cells[2] ?? ''],
      ['proven by', cells[3] ?? ''],
    ] as const) {
      let lastTsFile: string | undefined;
      for (const token of cell.matchAll(/`([^`]+)`|"([^"]+)"/g)) {
        const [, code, quoted] = token;
        if (code !== undefined) {
          if (!PATH_LIKE.test(code)) continue;
          const { file, problem } = resolvePath(code, repo);
          if (problem) problems.push(`row ${number} (${column}): ${problem}`);
          if (code.endsWith('.ts')) lastTsFile = file;
        } else if (quoted !== undefined && column === 'proven by') {
          const title = quoted.replace(/\s*…$/, '');
          if (!lastTsFile) {
            problems.push(`row ${number}: "${quoted}" follows no test file`);
          } else if (!repo.read(lastTsFile).includes(title)) {
            problems.push(`row ${number}: "${title}" is not in ${lastTsFile}`);
          }
        }
      }
    }
  }
  return problems;
}

describe("README's table of the naive version's failures", () => {
  const readme = readFileSync(README, 'utf8');

  it('has rows 1 to 25, and every path and test title it names exists', () => {
    expect(failuresTableProblems(readme, realRepository)).toEqual([]);
  });

  it('names every test file it cites: the table is not made of prose alone', () => {
    const section = failuresSection(readme);
    const cited = new Set([...section.matchAll(/`([^`]+\.test\.ts)`/g)].map((m) => m[1]));
    expect(cited.size).toBeGreaterThanOrEqual(FAILURE_COUNT);
  });

  describe('fails on a table that has drifted from the code', () => {
    const firstTitle = /"(keeps one item per key when an event is delivered twice)/;

    it('a renamed test', () => {
      expect(firstTitle.test(readme)).toBe(true);
      const damaged = readme.replace(firstTitle, '"keeps one item per key when an event arrives twice');
      expect(failuresTableProblems(damaged, realRepository)).toEqual([
        'row 13: "keeps one item per key when an event arrives twice, in one batch or across invocations" is not in services/processor/test/handler.integration.test.ts',
      ]);
    });

    it('a moved file', () => {
      const damaged = readme.replace('`test/tools/restore-table.test.ts`', '`test/tools/restore.test.ts`');
      expect(failuresTableProblems(damaged, realRepository)).toEqual([
        'row 25 (proven by): `test/tools/restore.test.ts` does not exist',
      ]);
    });

    it('a title quoted under the wrong file', () => {
      const damaged = readme.replace(
        '`test/security/flows.ts` "alarms-publish-to-alarm-topic"',
        '`test/security/evaluate.ts` "alarms-publish-to-alarm-topic"',
      );
      expect(failuresTableProblems(damaged, realRepository)).toEqual([
        'row 10: "alarms-publish-to-alarm-topic" is not in test/security/evaluate.ts',
        'row 10: "alarms-use-alarm-topic-key" is not in test/security/evaluate.ts',
      ]);
    });

    it('a missing or repeated failure', () => {
      const withoutRow25 = readme.replace(/^\| 25 \|.*\n/m, '');
      expect(failuresTableProblems(withoutRow25, realRepository)).toContain(
        'rows are numbered 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24; expected 1 to 25 in order',
      );
      const row1 = /^\| 1 \|.*$/m.exec(readme)?.[0] ?? '';
      const repeated = readme.replace(row1, `${row1}\n${row1}`);
      expect(failuresTableProblems(repeated, realRepository)[0]).toMatch(/^rows are numbered 1, 1, 2/);
    });

    it('a section that is gone', () => {
      expect(() =>
        failuresTableProblems(readme.replace('<!-- section:failures -->', ''), realRepository),
      ).toThrow(/no failures section/);
    });
  });
});
