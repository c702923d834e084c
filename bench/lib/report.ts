/** A target and whether the measured figure met it; `npm run bench` prints these, it never fails on them. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** What one benchmark section hands to the runner: a printable table and the machine-readable figures. */
export interface SectionReport {
  readonly key: string;
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly targets: readonly TargetCheck[];
  /** Sentences that explain a figure (what a reference is, what a miss costs); printed under the table. */
  readonly notes: readonly string[];
  readonly results: unknown;
}

export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

export function times(value: number): string {
  return `${value.toFixed(2)}x`;
}
