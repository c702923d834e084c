/**
 * The registry checks of the supply-chain gate, in one command for the pipeline and for developers:
 * `npm audit` over the production dependencies and over everything, each with its threshold, and
 * `npm audit signatures` (registry signatures and provenance attestations of every installed package).
 *
 * A wrapper rather than the bare npm commands because the gate must tell three outcomes apart, each in one line:
 * pass, a finding (which package, which advisory, the fix npm knows), and "the registry could not be asked",
 * which must fail the release too, never pass it silently.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../lib/config/resolve.ts';
import {
  AUDIT_ACKNOWLEDGEMENTS,
  AUDIT_SCOPES,
  type AuditAcknowledgement,
  type AuditScope,
  SEVERITIES,
  type Severity,
} from './lib/audit-policy.ts';
import { type Io, runTool, ToolError } from './lib/cli.ts';

export const AUDIT_HELP = `Usage: npm run audit -- [options]

Asks the npm registry about the installed dependencies (package-lock.json):
${AUDIT_SCOPES.map((s) => `  npm audit ${[...s.args, '--json'].join(' ')}   ${s.name}: fails at ${s.failAt} or above`).join('\n')}
  npm audit signatures --json   registry signatures and provenance attestations of every installed package
Advisories acknowledged in tools/lib/audit-policy.ts do not fail until their date passes.

Exit codes: 0 passed; 1 a finding; 3 the registry could not be asked (the line names the endpoint and error).
Options:
  --json       print the result as JSON
  -h, --help   this text`;

/** Exit code when a check could not run because the registry did not answer. */
export const REGISTRY_UNREACHABLE = 3;

export interface NpmResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
/** Runs npm with arguments in the project root. */
export type NpmRunner = (args: readonly string[]) => NpmResult;

const runNpm: NpmRunner = (args) => {
  const result = spawnSync('npm', [...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw new ToolError(`cannot run npm: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};

interface Advisory {
  readonly source?: number;
  readonly name?: string;
  readonly title?: string;
  readonly url?: string;
  readonly severity?: Severity;
  readonly range?: string;
}
interface AuditReport {
  readonly auditReportVersion?: number;
  readonly vulnerabilities?: Record<
    string,
    {
      readonly name: string;
      readonly severity: Severity;
      readonly via: ReadonlyArray<string | Advisory>;
      readonly fixAvailable?: boolean | { readonly name: string; readonly version: string };
    }
  >;
}

/** One advisory at or above a scope's threshold. */
export interface Finding {
  readonly package: string;
  readonly severity: Severity;
  readonly advisory: string;
  readonly title: string;
  readonly url: string;
  readonly fix: string;
  /** Set when an acknowledgement covers it (then it does not fail the gate). */
  readonly acknowledged?: string;
}

export type CheckResult =
  | { readonly check: string; readonly outcome: 'pass'; readonly note: string; readonly findings: Finding[] }
  | { readonly check: string; readonly outcome: 'fail'; readonly note: string; readonly findings: Finding[] }
  | { readonly check: string; readonly outcome: 'unreachable'; readonly note: string };

const atLeast = (severity: Severity, threshold: Severity) =>
  SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);

/** What npm printed when it could not ask the registry, as one line; undefined when the output is a result. */
export function registryError(result: NpmResult): string | undefined {
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  if (parsed && ('auditReportVersion' in parsed || 'invalid' in parsed)) return undefined;
  const error = parsed?.error as { code?: string; summary?: string } | undefined;
  const message =
    error?.summary ||
    (typeof parsed?.message === 'string' ? parsed.message : undefined) ||
    result.stderr
      .split('\n')
      .filter((l) => l.startsWith('npm error') || l.startsWith('npm warn'))
      .map((l) => l.replace(/^npm (error|warn) /, ''))
      .find((l) => l.trim() !== '') ||
    `npm exited with ${result.status} and printed no result`;
  const code =
    error?.code ?? (typeof parsed?.statusCode === 'number' ? `HTTP ${parsed.statusCode}` : undefined);
  return `${code ? `${code}: ` : ''}${message.split('\n')[0]}`;
}

function advisoryId(url: string | undefined, source: number | undefined): string {
  return /GHSA-[\w-]+$/.exec(url ?? '')?.[0] ?? `npm-${source ?? 'unknown'}`;
}

/** The advisories of a report at or above `failAt`, each once, with the acknowledgements applied. */
export function findingsOf(
  report: AuditReport,
  failAt: Severity,
  acknowledgements: readonly AuditAcknowledgement[],
  today: string,
): Finding[] {
  const findings = new Map<string, Finding>();
  for (const vulnerability of Object.values(report.vulnerabilities ?? {})) {
    const fix =
      vulnerability.fixAvailable === true
        ? '`npm audit fix`'
        : vulnerability.fixAvailable
          ? `upgrade to ${vulnerability.fixAvailable.name}@${vulnerability.fixAvailable.version}`
          : 'no fix released';
    for (const via of vulnerability.via) {
      // A string names the dependency it is vulnerable through; that package's own entry has the advisory.
      if (typeof via === 'string' || !via.severity || !atLeast(via.severity, failAt)) continue;
      const advisory = advisoryId(via.url, via.source);
      const key = `${advisory} ${via.name}`;
      if (findings.has(key)) continue;
      const ack = acknowledgements.find((a) => a.advisory === advisory && a.package === via.name);
      findings.set(key, {
        package: `${via.name ?? vulnerability.name}${via.range ? ` ${via.range}` : ''}`,
        severity: via.severity,
        advisory,
        title: via.title ?? '',
        url: via.url ?? '',
        fix,
        ...(ack && ack.until >= today ? { acknowledged: `until ${ack.until}: ${ack.reason}` } : {}),
      });
    }
  }
  return [...findings.values()];
}

export function auditScope(
  scope: AuditScope,
  npm: NpmRunner,
  acknowledgements: readonly AuditAcknowledgement[],
  today: string,
): CheckResult {
  const check = `npm audit ${scope.args.join(' ')}`.trim();
  const result = npm(['audit', ...scope.args, '--json']);
  const unreachable = registryError(result);
  if (unreachable) {
    return {
      check,
      outcome: 'unreachable',
      note: `the registry's advisory endpoint could not be asked: ${unreachable}`,
    };
  }
  const findings = findingsOf(
    JSON.parse(result.stdout) as AuditReport,
    scope.failAt,
    acknowledgements,
    today,
  );
  const failing = findings.filter((f) => !f.acknowledged);
  const note = `${scope.name}: ${failing.length} advisories at ${scope.failAt} or above${
    findings.length > failing.length ? ` (${findings.length - failing.length} acknowledged)` : ''
  }`;
  return { check, outcome: failing.length > 0 ? 'fail' : 'pass', note, findings };
}

interface SignatureProblem {
  readonly name?: string;
  readonly version?: string;
  readonly code?: string;
  readonly message?: string;
}

export function auditSignatures(npm: NpmRunner): CheckResult {
  const check = 'npm audit signatures';
  const result = npm(['audit', 'signatures', '--json']);
  const unreachable = registryError(result);
  if (unreachable) {
    return {
      check,
      outcome: 'unreachable',
      note: `registry keys or attestations could not be fetched: ${unreachable}`,
    };
  }
  const { invalid = [], missing = [] } = JSON.parse(result.stdout) as {
    invalid?: SignatureProblem[];
    missing?: SignatureProblem[];
  };
  const findings: Finding[] = [
    ...invalid.map((p) => ({
      p,
      what: p.code === 'EATTESTATIONVERIFY' ? 'invalid attestation' : 'invalid signature',
    })),
    ...missing.map((p) => ({ p, what: 'missing registry signature' })),
  ].map(({ p, what }) => ({
    package: `${p.name}@${p.version}`,
    severity: 'critical' as const,
    advisory: what,
    title: p.message ?? what,
    url: '',
    fix: 'reinstall from the registry (npm ci); if it persists, do not release: report it to the registry',
  }));
  const note =
    findings.length === 0
      ? 'registry signatures and provenance attestations: none invalid or missing'
      : `registry signatures and provenance attestations: ${invalid.length} invalid, ${missing.length} missing`;
  return { check, outcome: findings.length > 0 ? 'fail' : 'pass', note, findings };
}

export interface AuditDeps {
  readonly npm?: NpmRunner;
  readonly acknowledgements?: readonly AuditAcknowledgement[];
  /** ISO date, for acknowledgement expiry. @default today (UTC) */
  readonly today?: string;
}

export async function audit(argv: readonly string[], io: Io, deps: AuditDeps = {}): Promise<number> {
  let args: { json?: boolean; help?: boolean };
  try {
    args = parseArgs({
      args: [...argv],
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }).values;
  } catch (error) {
    throw new ToolError(`${(error as Error).message}; see --help`, 2);
  }
  if (args.help) {
    io.out(AUDIT_HELP);
    return 0;
  }
  const npm = deps.npm ?? runNpm;
  const acknowledgements = deps.acknowledgements ?? AUDIT_ACKNOWLEDGEMENTS;
  const today = deps.today ?? new Date().toISOString().slice(0, 10);
  const results: CheckResult[] = [];
  for (const scope of AUDIT_SCOPES) {
    io.progress(`${`npm audit ${scope.args.join(' ')}`.trim()}...`);
    results.push(auditScope(scope, npm, acknowledgements, today));
  }
  io.progress('npm audit signatures...');
  results.push(auditSignatures(npm));

  const code = results.some((r) => r.outcome === 'fail')
    ? 1
    : results.some((r) => r.outcome === 'unreachable')
      ? REGISTRY_UNREACHABLE
      : 0;
  if (args.json) {
    io.out(JSON.stringify({ ok: code === 0, results }, null, 2));
    return code;
  }
  for (const r of results) {
    const mark = r.outcome === 'pass' ? 'ok  ' : 'FAIL';
    io.out(`${mark} ${r.check}: ${r.note}`);
    if (r.outcome === 'unreachable') continue;
    for (const f of r.findings) {
      const ack = f.acknowledged ? ` (acknowledged ${f.acknowledged})` : '';
      io.out(`       ${f.severity} ${f.package}: ${f.title} ${f.url}; fix: ${f.fix}${ack}`.trimEnd());
    }
  }
  return code;
}

if (import.meta.main) await runTool(audit);
