/**
 * What `npm run audit` fails on. Reviewed like the license policy: a change says why in its commit.
 */

export const SEVERITIES = ['info', 'low', 'moderate', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface AuditScope {
  /** How the report names it. */
  readonly name: string;
  /** Extra `npm audit` arguments that select the dependencies. */
  readonly args: readonly string[];
  /** The lowest severity that fails the gate. */
  readonly failAt: Severity;
}

/**
 * Production dependencies are what ships in the function bundle and what the CDK app runs at synth: a high
 * finding there is a release blocker. Development dependencies (test tools, esbuild, the CDK CLI) never ship but
 * do run in the pipeline's synth step with its credentials, so a critical finding among them blocks too; lower
 * ones there are rarely reachable (a ReDoS in a test reporter) and are left to routine upgrades.
 */
export const AUDIT_SCOPES: readonly AuditScope[] = [
  { name: 'production dependencies', args: ['--omit=dev'], failAt: 'high' },
  { name: 'all dependencies, build and test tools included', args: [], failAt: 'critical' },
];

/** An advisory that does not fail the gate for a while, with the review that decided so. */
export interface AuditAcknowledgement {
  /** GitHub advisory ID (`GHSA-xxxx-xxxx-xxxx`), as the advisory URL npm reports ends. */
  readonly advisory: string;
  /** The vulnerable package. */
  readonly package: string;
  /** Why it is not exploitable here, or what is waited for (a fixed release). */
  readonly reason: string;
  /** ISO date after which the advisory fails the gate again: acknowledgements are never open-ended. */
  readonly until: string;
}

export const AUDIT_ACKNOWLEDGEMENTS: readonly AuditAcknowledgement[] = [];
