/**
 * Keeps one item per object key with ONE conditional write per event and no read-before-write: DynamoDB itself
 * decides, atomically, whether the event is newer than what the item reflects. A failed condition means the
 * event is a duplicate or older than the item (at-least-once, out-of-order delivery) and is skipped, not retried.
 *
 * Ordering rule:
 * - events carrying a sequencer replace an item with a smaller sequencer (normalised, so string order is
 *   numeric order), or an item without one whose eventTime is earlier;
 * - events without a sequencer (some lifecycle expirations) cannot be ordered by sequencer, so they are ordered by
 *   eventTime: they replace an item only when its eventTime is strictly earlier. Lifecycle acts on objects at
 *   least a day old, far beyond the millisecond precision of eventTime.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type ObjectRecord, toItem } from './object-record.ts';
import type { ObjectEvent } from './s3-event.ts';

export type WriteResult =
  | { readonly written: true }
  | {
      readonly written: false;
      /** The item that won, when DynamoDB returned it (ReturnValuesOnConditionCheckFailure), for the log. */
      readonly current?: {
        readonly sequencer?: string;
        readonly eventTime?: string;
        readonly versionId?: string;
      };
    };

const NEWER_WITH_SEQUENCER =
  'attribute_not_exists(objectKey) OR sequencer < :sequencer OR (attribute_not_exists(sequencer) AND eventTime < :eventTime)';
const NEWER_WITHOUT_SEQUENCER = 'attribute_not_exists(objectKey) OR eventTime < :eventTime';

export class ObjectRecordStore {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#client = client;
    this.#tableName = tableName;
  }

  /** Writes the whole item if the event is newer than the stored one (see the ordering rule above). */
  async putIfNewer(record: ObjectRecord): Promise<WriteResult> {
    const values: Record<string, AttributeValue> = { ':eventTime': { S: record.eventTime } };
    if (record.sequencer !== undefined) values[':sequencer'] = { S: record.sequencer };
    const command = new PutItemCommand({
      TableName: this.#tableName,
      Item: toItem(record),
      ConditionExpression: record.sequencer !== undefined ? NEWER_WITH_SEQUENCER : NEWER_WITHOUT_SEQUENCER,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    return this.#conditional(() => this.#client.send(command));
  }

  /**
   * Marks the item DELETED because one object version was permanently deleted, but only if that version is the
   * one on record: deleting a noncurrent version (by hand or by a noncurrent-version lifecycle rule) leaves the
   * current object in place. The sequencer is left as it was, so that a create event of a newer version that
   * arrives late still wins, and a late duplicate of the deleted version's own create still loses.
   */
  async markVersionDeleted(
    event: ObjectEvent & { readonly versionId: string },
    processedAt: Date,
  ): Promise<WriteResult> {
    const command = new UpdateItemCommand({
      TableName: this.#tableName,
      Key: { objectKey: { S: event.key } },
      UpdateExpression:
        'SET #status = :deleted, eventName = :eventName, eventTime = :eventTime, processedAt = :processedAt ' +
        'REMOVE #size, eTag, contentType, declaredContentType, reason, reasonCode',
      ConditionExpression: 'versionId = :versionId',
      ExpressionAttributeNames: { '#status': 'status', '#size': 'size' },
      ExpressionAttributeValues: {
        ':deleted': { S: 'DELETED' },
        ':eventName': { S: event.eventName },
        ':eventTime': { S: event.eventTime },
        ':processedAt': { S: processedAt.toISOString() },
        ':versionId': { S: event.versionId },
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    return this.#conditional(() => this.#client.send(command));
  }

  /** Runs one conditional write; a failed condition is a result, every other error propagates. */
  async #conditional(write: () => Promise<unknown>): Promise<WriteResult> {
    try {
      await write();
      return { written: true };
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      const item = (error as { Item?: Record<string, AttributeValue> }).Item;
      if (item === undefined) return { written: false };
      return {
        written: false,
        current: {
          ...(item.sequencer?.S !== undefined && { sequencer: item.sequencer.S }),
          ...(item.eventTime?.S !== undefined && { eventTime: item.eventTime.S }),
          ...(item.versionId?.S !== undefined && { versionId: item.versionId.S }),
        },
      };
    }
  }
}
