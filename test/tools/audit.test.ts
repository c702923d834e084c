import { describe, expect, it } from 'vitest';
import {
  AUDIT_HELP,
  audit,
  type NpmResult,
  type NpmRunner,
  REGISTRY_UNREACHABLE,
} from '../../tools/audit.ts';
import { AUDIT_SCOPES, type AuditAcknowledgement } from '../../tools/lib/audit-policy.ts';
import { captureIo } from './helpers.ts';

/**
 * `npm run audit` against a stand-in for npm that answers with the JSON npm 10/11 prints: no registry in unit
 * tests. What the real registry says today is in the report of the pipeline's synth step (docs/supply-chain.md).
 */

type Severity = 'low' | 'moderate' | 'high' | 'critical';

/** An `npm audit --json` report (auditReportVersion 2) with one advisory per entry. */
function report(
  ...advisories: Array<{ name: string; severity: Severity; ghsa: string; fix?: boolean }>
): string {
  const vulnerabilities: Record<string, unknown> = {};
  for (const a of advisories) {
    vulnerabilities[a.name] = {
      name: a.name,
      severity: a.severity,
      isDirect: false,
      via: [
        {
          source: 1_100_000,
          name: a.name,
          dependency: a.name,
          title: `${a.name} is vulnerable`,
          url: `https://github.com/advisories/${a.ghsa}`,
          severity: a.severity,
          range: '<9.9.9',
        },
      ],
      effects: ['dependent'],
      range: '<9.9.9',
      nodes: [`node_modules/${a.name}`],
      fixAvailable: a.fix ?? true,
    };
    // A package vulnerable only through its dependency: npm lists it with the dependency's name in `via`.
    vulnerabilities.dependent = {
      name: 'dependent',
      severity: a.severity,
      via: [a.name],
      effects: [],
      fixAvailable: true,
    };
  }
  return JSON.stringify({ auditReportVersion: 2, vulnerabilities, metadata: {} });
}

const CLEAN = report();
const SIGNED = JSON.stringify({ invalid: [], missing: [] });
const ok = (stdout: string): NpmResult => ({ status: 0, stdout, stderr: '' });
const failed = (stdout: string, stderr = ''): NpmResult => ({ status: 1, stdout, stderr });

/** npm answering per command: production audit, full audit, signatures. */
function npm(answers: { production?: NpmResult; all?: NpmResult; signatures?: NpmResult }) {
  const calls: string[][] = [];
  const runner: NpmRunner = (args) => {
    calls.push([...args]);
    if (args[1] === 'signatures') return answers.signatures ?? ok(SIGNED);
    return (args.includes('--omit=dev') ? answers.production : answers.all) ?? ok(CLEAN);
  };
  return { runner, calls };
}

async function run(answers: Parameters<typeof npm>[0], acknowledgements: AuditAcknowledgement[] = []) {
  const { runner, calls } = npm(answers);
  const io = captureIo();
  const code = await audit([], io, { npm: runner, acknowledgements, today: '2026-12-01' });
  return { code, io, calls };
}

describe('npm run audit', () => {
  it('asks npm about production dependencies, all dependencies and signatures, and passes when all are clean', async () => {
    const { code, io, calls } = await run({});
    expect(code).toBe(0);
    expect(calls).toEqual([
      ['audit', '--omit=dev', '--json'],
      ['audit', '--json'],
      ['audit', 'signatures', '--json'],
    ]);
    expect(io.lines).toEqual([
      'ok   npm audit --omit=dev: production dependencies: 0 advisories at high or above',
      'ok   npm audit: all dependencies, build and test tools included: 0 advisories at critical or above',
      'ok   npm audit signatures: registry signatures and provenance attestations: none invalid or missing',
    ]);
  });

  it('fails on a high advisory in a production dependency, naming the package, the advisory and the fix', async () => {
    const finding = { name: 'fast-xml-parser', severity: 'high' as const, ghsa: 'GHSA-aaaa-bbbb-cccc' };
    const { code, io } = await run({ production: failed(report(finding)), all: failed(report(finding)) });
    expect(code).toBe(1);
    expect(io.lines[0]).toBe(
      'FAIL npm audit --omit=dev: production dependencies: 1 advisories at high or above',
    );
    expect(io.lines[1]).toBe(
      '       high fast-xml-parser <9.9.9: fast-xml-parser is vulnerable https://github.com/advisories/GHSA-aaaa-bbbb-cccc; fix: `npm audit fix`',
    );
    // Below the all-dependencies threshold (critical), the same advisory does not fail that scope again.
    expect(io.lines[2]).toMatch(/^ok {3}npm audit: .*0 advisories at critical/);
  });

  it('lets a moderate production advisory and a high build-tool advisory through; fails a critical build-tool one', async () => {
    const moderate = { name: 'semver', severity: 'moderate' as const, ghsa: 'GHSA-1111-2222-3333' };
    const high = { name: 'vite', severity: 'high' as const, ghsa: 'GHSA-4444-5555-6666' };
    expect(
      (await run({ production: failed(report(moderate)), all: failed(report(moderate, high)) })).code,
    ).toBe(0);
    const critical = { name: 'vite', severity: 'critical' as const, ghsa: 'GHSA-7777-8888-9999', fix: false };
    const { code, io } = await run({ all: failed(report(critical)) });
    expect(code).toBe(1);
    expect(io.text()).toMatch(/critical vite <9\.9\.9: .*GHSA-7777-8888-9999; fix: no fix released/);
  });

  it('does not fail on an acknowledged advisory until its date passes', async () => {
    const finding = { name: 'fast-xml-parser', severity: 'high' as const, ghsa: 'GHSA-aaaa-bbbb-cccc' };
    const ack = (until: string): AuditAcknowledgement => ({
      advisory: 'GHSA-aaaa-bbbb-cccc',
      package: 'fast-xml-parser',
      reason: 'only parses our own templates',
      until,
    });
    const current = await run({ production: failed(report(finding)) }, [ack('2026-12-31')]);
    expect(current.code).toBe(0);
    expect(current.io.text()).toMatch(
      /1 acknowledged.*\n.*acknowledged until 2026-12-31: only parses our own templates/,
    );
    expect((await run({ production: failed(report(finding)) }, [ack('2026-11-30')])).code).toBe(1);
  });

  it('fails on an invalid or missing registry signature', async () => {
    const signatures = failed(
      JSON.stringify({
        invalid: [{ name: 'left-pad', version: '1.3.0', code: 'EINTEGRITYSIGNATURE', message: 'bad sig' }],
        missing: [{ name: 'tiny', version: '0.0.1' }],
      }),
    );
    const { code, io } = await run({ signatures });
    expect(code).toBe(1);
    expect(io.text()).toMatch(/FAIL npm audit signatures: .*1 invalid, 1 missing/);
    expect(io.text()).toMatch(/left-pad@1\.3\.0: bad sig/);
    expect(io.text()).toMatch(/tiny@0\.0\.1: missing registry signature/);
  });

  it('says in one line per check that the registry could not be asked, and fails with its own exit code', async () => {
    // What npm 11 prints when the registry (or a mirror) refuses the bulk advisory endpoint ...
    const refused = failed(
      JSON.stringify({
        message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
        statusCode: 405,
        error: { summary: '', detail: '' },
      }),
    );
    // ... and when a host does not resolve (here the Sigstore TUF repository behind attestation checks).
    const offline = failed(
      JSON.stringify({
        error: {
          code: 'ENOTFOUND',
          summary:
            'request to https://tuf-repo-cdn.sigstore.dev/15.root.json failed, reason: getaddrinfo ENOTFOUND',
          detail: 'This is a problem related to network connectivity.',
        },
      }),
    );
    const { code, io } = await run({ production: refused, all: refused, signatures: offline });
    expect(code).toBe(REGISTRY_UNREACHABLE);
    expect(io.lines).toEqual([
      "FAIL npm audit --omit=dev: the registry's advisory endpoint could not be asked: HTTP 405: 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
      "FAIL npm audit: the registry's advisory endpoint could not be asked: HTTP 405: 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
      'FAIL npm audit signatures: registry keys or attestations could not be fetched: ENOTFOUND: request to https://tuf-repo-cdn.sigstore.dev/15.root.json failed, reason: getaddrinfo ENOTFOUND',
    ]);
  });

  it('treats output that is no report at all as "could not ask", never as a pass', async () => {
    const garbage = failed('', 'npm error code ECONNRESET\nnpm error network aborted\n');
    const { code, io } = await run({ production: garbage });
    expect(code).toBe(REGISTRY_UNREACHABLE);
    expect(io.lines[0]).toBe(
      "FAIL npm audit --omit=dev: the registry's advisory endpoint could not be asked: code ECONNRESET",
    );
  });

  it('a finding outranks an unreachable registry in the exit code, and --json reports both', async () => {
    const finding = { name: 'x', severity: 'critical' as const, ghsa: 'GHSA-xxxx-xxxx-xxxx' };
    const { runner } = npm({
      production: failed(report(finding)),
      signatures: failed('', 'npm error offline'),
    });
    const io = captureIo();
    expect(await audit(['--json'], io, { npm: runner, acknowledgements: [], today: '2026-12-01' })).toBe(1);
    const result = JSON.parse(io.lines.join('\n'));
    expect(result.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      'fail',
      'pass',
      'unreachable',
    ]);
  });

  it('documents its thresholds in --help, from the policy it applies', async () => {
    expect(AUDIT_SCOPES.map((s) => [s.args.join(' '), s.failAt])).toEqual([
      ['--omit=dev', 'high'],
      ['', 'critical'],
    ]);
    const io = captureIo();
    expect(await audit(['--help'], io)).toBe(0);
    expect(io.text()).toBe(AUDIT_HELP);
    expect(AUDIT_HELP).toMatch(/--omit=dev --json +production dependencies: fails at high/);
  });
});
