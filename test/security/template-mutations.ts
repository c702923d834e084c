/**
 * Deliberate damage to a synthesized template, for the non-vacuity tests: each mutation removes a required
 * statement or opens a denied flow, the way a careless edit would, so a test can show which rows flip.
 */

interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}
interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** The one resource whose logical ID is `readableId` plus CDK's hash. */
export function resourceNamed(template: Record<string, unknown>, readableId: string): Resource {
  const resources = template.Resources as Record<string, Resource>;
  const found = Object.entries(resources).filter(([id]) => id.replace(/[0-9A-F]{8}$/, '') === readableId);
  if (found.length !== 1 || !found[0])
    throw new Error(`expected one resource ${readableId}, found ${found.length}`);
  return found[0][1];
}

/** The statements of a resource's policy document (resource policy, key policy, managed or inline policy). */
export function statementsOf(resource: Resource): Statement[] {
  const document = (resource.Properties.PolicyDocument ?? resource.Properties.KeyPolicy) as {
    Statement: Statement[];
  };
  if (!document) throw new Error(`${resource.Type} has no policy document`);
  return document.Statement;
}

/** Removes the statements `matches` selects; throws when it selects none (the mutation would prove nothing). */
export function removeStatements(resource: Resource, matches: (s: Statement) => boolean): void {
  const statements = statementsOf(resource);
  const kept = statements.filter((s) => !matches(s));
  if (kept.length === statements.length) throw new Error('the mutation matched no statement');
  statements.splice(0, statements.length, ...kept);
}

/** Changes the one statement `matches` selects. */
export function changeStatement(
  resource: Resource,
  matches: (s: Statement) => boolean,
  change: (s: Statement) => void,
): void {
  const selected = statementsOf(resource).filter(matches);
  if (selected.length !== 1 || !selected[0])
    throw new Error(`the mutation matched ${selected.length} statements`);
  change(selected[0]);
}

export const bySid = (sid: string) => (s: Statement) => s.Sid === sid;

/** The TLS-only deny CDK's `enforceSSL` writes. */
export const isTlsDeny = (s: Statement) =>
  s.Effect === 'Deny' && String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false';

/** A statement whose principal mentions `text` (an account, a role name). */
export const principalMentions = (text: string) => (s: Statement) =>
  JSON.stringify(s.Principal ?? '').includes(text);
