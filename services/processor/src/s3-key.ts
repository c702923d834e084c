/**
 * How S3 writes an object key into an event notification, and how to read it back. The S3 user guide ("Event
 * message structure") says the key "is URL encoded. For example, "red flower.jpg" becomes "red+flower.jpg" (Amazon
 * S3 returns "application/x-www-form-urlencoded" as the content type in the response)". Events recorded from real
 * S3 add what the guide leaves open: '/' is kept as it is ("in/dir1/file.txt" arrives unchanged) while every other
 * reserved character is percent-encoded ("a@b" arrives as "a%40b"). So: form encoding of the UTF-8 bytes (letters,
 * digits and `*-._` as they are, a space as '+', everything else `%XX`), except '/'.
 *
 * This is the one encoder and decoder of that format: the processor decodes with it, and everything that writes
 * notifications for it (the local emulator, the backfill tool, the benchmark, the tests) encodes with it.
 */

/** Decodes a key as S3 encodes it in notifications: '+' is a space, then percent-escapes of UTF-8 bytes. */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replaceAll('+', ' '));
}

/**
 * Encodes a key the way S3 does in notifications (the inverse of `decodeS3Key`). The platform's
 * application/x-www-form-urlencoded serializer (URLSearchParams) does the form encoding; only '/' is given back.
 * Throws for a string with a lone surrogate: it has no UTF-8 form, so it cannot be an S3 key.
 */
export function encodeS3Key(key: string): string {
  if (!key.isWellFormed()) {
    throw new TypeError(`not an S3 object key: ${JSON.stringify(key)} holds a lone UTF-16 surrogate`);
  }
  return new URLSearchParams({ k: key }).toString().slice('k='.length).replaceAll('%2F', '/');
}
