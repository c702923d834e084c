import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** A commit's author by commit id, or undefined when unknown. */
export type CommitAuthors = (commitId: string) => Promise<string | undefined>;

const run = promisify(execFile);

/**
 * Looks commit authors up in a local git checkout. CodePipeline records a commit's id, message and author date but
 * not its author; the operator runs the tool from a clone of the repository, which has them (after `git fetch`).
 * Any failure (no git, not a repository, a commit not fetched) is "unknown", never an error.
 */
export function gitCommitAuthors(cwd: string): CommitAuthors {
  const known = new Map<string, Promise<string | undefined>>();
  return (commitId) => {
    if (!/^[0-9a-f]{7,40}$/i.test(commitId)) return Promise.resolve(undefined);
    let author = known.get(commitId);
    if (!author) {
      author = run('git', ['show', '--no-patch', '--format=%an', commitId, '--'], {
        cwd,
        timeout: 5000,
      }).then(
        ({ stdout }) => stdout.trim() || undefined,
        () => undefined,
      );
      known.set(commitId, author);
    }
    return author;
  };
}
