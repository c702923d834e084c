/**
 * Vitest global setup of the integration project: the target the runner exported (a deployed stage, or a local
 * environment it attached to), or else a fresh local environment on free ports for this run only.
 */
import type { TestProject } from 'vitest/node';
import { startLocalEnvironment } from '../../local/environment.ts';
import { type IntegTarget, localTarget, targetFromEnv } from './target.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    integTarget: IntegTarget;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const exported = targetFromEnv(process.env);
  if (exported) {
    project.provide('integTarget', exported);
    return undefined;
  }
  const environment = await startLocalEnvironment({ stage: 'dev' });
  project.provide('integTarget', localTarget(environment.info));
  return async () => {
    await environment.close();
  };
}
