import { readFile, rename, writeFile } from 'node:fs/promises';
import { ToolError } from './cli.ts';

/** Progress of a backfill, saved after every fully sent page so that an interrupted run resumes where it was. */
export interface BackfillCheckpoint {
  readonly version: 1;
  readonly bucket: string;
  readonly prefix: string;
  readonly mode: string;
  readonly queueUrl: string;
  /** Last key of the last fully sent page: the listing resumes after it (Marker / KeyMarker). */
  readonly after?: string;
  readonly listed: number;
  readonly sent: number;
  readonly skipped: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly done: boolean;
}

export async function readCheckpoint(path: string): Promise<BackfillCheckpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as BackfillCheckpoint;
    if (parsed.version !== 1) throw new Error(`version ${String(parsed.version)}`);
    return parsed;
  } catch (error) {
    throw new ToolError(
      `checkpoint ${path} is unreadable (${(error as Error).message}); remove it or pass --restart`,
    );
  }
}

/** Written to a temporary file and renamed over the old one: an interruption never leaves half a checkpoint. */
export async function writeCheckpoint(path: string, checkpoint: BackfillCheckpoint): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
  await rename(temporary, path);
}
