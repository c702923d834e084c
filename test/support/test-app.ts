import { SCHEMA_VALIDATION_CONTEXT } from '../../lib/config/names.ts';

/**
 * Context for an in-process test App: no bundling (the stacks' shapes are under test, not the bundle's bytes) and
 * no CloudFormation schema validation (lib/config/names.ts says where that is proven instead).
 */
export const TEST_APP_CONTEXT = {
  'aws:cdk:bundling-stacks': [],
  [SCHEMA_VALIDATION_CONTEXT]: false,
} as const;

/** The same, with bundling on (tests that read the function's asset). */
export const TEST_APP_CONTEXT_WITH_BUNDLING = { [SCHEMA_VALIDATION_CONTEXT]: false } as const;
