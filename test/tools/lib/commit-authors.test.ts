import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config/resolve.ts';
import { gitCommitAuthors } from '../../../tools/lib/commit-authors.ts';

describe('gitCommitAuthors', () => {
  it("reads a commit's author from the checkout, and says unknown for a commit it does not have", async () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    const author = execFileSync('git', ['log', '-1', '--format=%an'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    }).trim();
    const authors = gitCommitAuthors(PROJECT_ROOT);
    expect(await authors(head)).toBe(author);
    expect(await authors('0'.repeat(40))).toBeUndefined();
    // Not a commit id: never handed to git as an option or a revision range.
    expect(await authors('--output=/tmp/x')).toBeUndefined();
    expect(await gitCommitAuthors('/')(head)).toBeUndefined();
  });
});
