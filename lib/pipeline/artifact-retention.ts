import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * Days a pipeline artifact is kept (CT.S3.PR.6). Each object belongs to one execution; 90 days keeps every
 * execution that a retry or a V2 stage rollback can return to, and no artifact forever.
 */
export const ARTIFACT_RETENTION_DAYS = 90;

/** Gives the CDK Pipelines artifact bucket (which CDK creates without lifecycle rules) an expiry. */
export function expireArtifacts(bucket: s3.IBucket): void {
  if (!(bucket instanceof s3.Bucket)) {
    throw new Error(
      'CDK Pipelines no longer creates its artifact bucket as an s3.Bucket; aws-cdk-lib changed it',
    );
  }
  bucket.addLifecycleRule({
    id: 'ExpireArtifacts',
    expiration: Duration.days(ARTIFACT_RETENTION_DAYS),
    abortIncompleteMultipartUploadAfter: Duration.days(1),
  });
}
