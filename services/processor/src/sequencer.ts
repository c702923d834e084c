/**
 * S3 `sequencer` values order the events of one object key. They are hexadecimal numbers of varying length:
 * AWS says to left-pad the shorter with zeros before comparing. Storing them already padded to one fixed width
 * lets DynamoDB's string comparison (`sequencer < :seq` in a ConditionExpression) order them as numbers.
 */

/** Width of a normalised sequencer, in hex digits. S3 uses about 18 today; 32 (128 bits) leaves ample room. */
export const SEQUENCER_WIDTH = 32;

const HEX_RE = /^[0-9A-Fa-f]+$/;

/** Raised for a sequencer that is not hexadecimal or does not fit the fixed width (it could not be ordered). */
export class InvalidSequencerError extends Error {
  constructor(sequencer: string, why: string) {
    super(`sequencer "${sequencer}" ${why}`);
    this.name = 'InvalidSequencerError';
  }
}

/** Uppercase, left-padded with zeros to `SEQUENCER_WIDTH` digits: string order equals numeric order. */
export function normaliseSequencer(sequencer: string): string {
  if (!HEX_RE.test(sequencer)) throw new InvalidSequencerError(sequencer, 'is not hexadecimal');
  const significant = sequencer.replace(/^0+/, '').toUpperCase();
  if (significant.length > SEQUENCER_WIDTH) {
    throw new InvalidSequencerError(sequencer, `has more than ${SEQUENCER_WIDTH} significant hex digits`);
  }
  return significant.padStart(SEQUENCER_WIDTH, '0');
}

/** Orders two raw sequencers as numbers: negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareSequencers(a: string, b: string): number {
  const x = normaliseSequencer(a);
  const y = normaliseSequencer(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
