import { describe, expect, it } from 'vitest';
import { PROCESSOR_RUNTIME } from '../lib/app-stack/processor-bundling.ts';

describe('toolchain', () => {
  it('runs the tests on the Node.js major the function runs on in Lambda', () => {
    // `nodejs24.x` -> 24. npm scripts take Node from the `node` devDependency (node_modules/.bin); if its install
    // script is blocked (package.json allowScripts), the machine's Node runs everything instead, and this fails.
    const lambdaMajor = Number(/^nodejs(\d+)\.x$/.exec(PROCESSOR_RUNTIME.name)?.[1]);
    expect(Number.isInteger(lambdaMajor)).toBe(true);
    expect(process.versions.node.split('.')[0], `running ${process.execPath}`).toBe(String(lambdaMajor));
  });
});
