/**
 * Bundled in place of `@aws-sdk/credential-provider-node` (an esbuild alias in lib/app-stack/processor-bundling.ts).
 *
 * Lambda hands the function its execution role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, and the SDK's default chain takes them from there first, so on Lambda the result is the same.
 * The rest of that chain (ini files, SSO, login, process, web identity, container and instance metadata) can never
 * run there, yet it is ~95 KB of minified code parsed at every cold start. The local environment and the benchmark
 * run the bundle with credentials in the same variables.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
