/**
 * Entry of the bundled publisher (`node pipeline-tools/publish-assets.mjs ...` in the Assets stage). Runs
 * unconditionally: the Assets image's Node 22 has no `import.meta.main`.
 */
import { main } from './publish-assets.ts';

process.exitCode = await main(process.argv.slice(2));
