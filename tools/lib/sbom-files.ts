/** Where `npm run sbom` writes, and `npm run licenses` and the pipeline's artifact read. */
export const DEFAULT_SBOM_DIR = 'sbom';

/** The SBOM files in that directory. */
export const SBOM_FILES = {
  function: 'function.cdx.json',
  app: 'app.cdx.json',
  publisher: 'publisher.cdx.json',
} as const;
