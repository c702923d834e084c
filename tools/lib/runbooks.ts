/**
 * The runbook of each alarm, keyed by the alarm's construct ID in ProcessorMonitoring. CloudFormation names an
 * alarm `<stack>-<logicalId>-<suffix>` and the logical ID contains the construct ID, so the key finds the runbook
 * from the alarm name alone. A docs test checks that every alarm of the synthesized stack has an entry here and
 * that every file exists.
 */
export const ALARM_RUNBOOKS = {
  FunctionErrorsAlarm: 'docs/runbooks/function-errors.md',
  FunctionThrottlesAlarm: 'docs/runbooks/function-throttles.md',
  FunctionDurationP99Alarm: 'docs/runbooks/function-duration-p99.md',
  IngestOldestMessageAlarm: 'docs/runbooks/ingest-oldest-message.md',
  DeadLetterMessagesAlarm: 'docs/runbooks/dead-letter-messages.md',
  TableThrottledRequestsAlarm: 'docs/runbooks/table-throttled-requests.md',
  TableSystemErrorsAlarm: 'docs/runbooks/table-system-errors.md',
} as const;

/** Budget notifications reach the same topic; they have a runbook too. */
export const BUDGET_RUNBOOK = 'docs/runbooks/budget.md';

/** The runbook for an alarm name as CloudWatch shows it, if the alarm is one of the processor's. */
export function runbookFor(alarmName: string): string | undefined {
  return Object.entries(ALARM_RUNBOOKS).find(([constructId]) => alarmName.includes(constructId))?.[1];
}
