import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseEndpoints } from '../../tools/lib/targets.ts';

/**
 * The AWS CLI commands the local environment's documentation shows must work with AWS CLI v1 and v2: v1 reads
 * the region from --region or AWS_DEFAULT_REGION only (never AWS_REGION), and both need the local endpoint. The
 * commands themselves were run with AWS CLI 1.45 and 2.9 (docs/local-environment.md); this keeps later edits to
 * the same rule. The commands `npm start` prints are checked in start.test.ts.
 */

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');

function readmeSection(name: string): string {
  const readme = read('README.md');
  const start = readme.indexOf(`<!-- section:${name} -->`);
  const end = readme.indexOf(`<!-- /section:${name} -->`);
  if (start < 0 || end < start) throw new Error(`README has no section ${name}`);
  return readme.slice(start, end);
}

/** Shell code blocks as lists of lines. */
function codeBlocks(markdown: string): string[][] {
  return [...markdown.matchAll(/```(?:bash|sh)\n([\s\S]*?)```/g)].map((m) => (m[1] ?? '').split('\n'));
}

/** Problems of one block's `aws` commands under AWS CLI v1's rules. */
function cliProblems(block: readonly string[]): string[] {
  const problems: string[] = [];
  let defaultRegion = false;
  for (const line of block) {
    const command = line.replace(/#.*$/, '').trim();
    if (/^export\b/.test(command)) {
      if (/\bAWS_DEFAULT_REGION=/.test(command)) defaultRegion = true;
      if (/\bAWS_REGION=/.test(command) && !/\bAWS_DEFAULT_REGION=/.test(command)) {
        problems.push(`exports AWS_REGION without AWS_DEFAULT_REGION (AWS CLI v1 ignores it): ${command}`);
      }
    }
    if (!/^aws\s/.test(command)) continue;
    if (!/\s--endpoint-url\s+http:\/\/127\.0\.0\.1:\d+/.test(command))
      problems.push(`no local --endpoint-url: ${command}`);
    if (!defaultRegion && !/\s--region\s+\S+/.test(command)) problems.push(`no --region: ${command}`);
  }
  return problems;
}

describe('documented local commands', () => {
  const documents = {
    'README "Local environment"': readmeSection('local'),
    'docs/local-environment.md': read('docs/local-environment.md'),
  };

  it.each(Object.entries(documents))('in %s name their endpoint and a region AWS CLI v1 reads', (_, text) => {
    const blocks = codeBlocks(text);
    const commands = blocks.flat().filter((l) => /^aws\s/.test(l.trim()));
    expect(commands.length).toBeGreaterThan(2);
    expect(blocks.flatMap(cliProblems)).toEqual([]);
  });

  it('in docs/local-environment.md point the tools at the environment with flags they accept', () => {
    const tools = codeBlocks(documents['docs/local-environment.md'])
      .flat()
      .filter((l) => /^npm run (status|redrive|backfill) -- /.test(l));
    expect(tools.length).toBeGreaterThanOrEqual(3);
    for (const line of tools) {
      const endpoints = [...line.matchAll(/--endpoint (\S+)/g)].map((m) => m[1] as string);
      expect(parseEndpoints(endpoints)).toMatchObject({
        s3: 'http://127.0.0.1:4568',
        dynamodb: 'http://127.0.0.1:4567',
        sqs: 'http://127.0.0.1:4569',
        cloudformation: 'http://127.0.0.1:4569',
      });
    }
  });

  it('the rule catches what AWS CLI v1 cannot run', () => {
    expect(
      cliProblems(['export AWS_REGION=eu-west-1', 'aws s3 ls --endpoint-url http://127.0.0.1:4568']),
    ).toEqual([
      'exports AWS_REGION without AWS_DEFAULT_REGION (AWS CLI v1 ignores it): export AWS_REGION=eu-west-1',
      'no --region: aws s3 ls --endpoint-url http://127.0.0.1:4568',
    ]);
    expect(cliProblems(['aws s3 ls --region eu-west-1'])).toEqual([
      'no local --endpoint-url: aws s3 ls --region eu-west-1',
    ]);
    expect(
      cliProblems([
        'export AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1',
        'aws s3 ls --endpoint-url http://127.0.0.1:1',
      ]),
    ).toEqual([]);
  });
});
