/**
 * @module errors
 * What domain code throws when a request cannot be served: typed errors that know nothing of
 * HTTP. The edge (http/problem `toProblem`) maps each kind to a problem+json status in one place,
 * so a service, a worker thread or a test never thinks in status codes.
 */

/** One offending field of a request, by its name as the client wrote it (`filters.from`, `limit`). */
export interface FieldError {
  field: string;
  message: string;
}

/** The request is wrong; `errors` names each offending field. (400) */
export class InvalidInput extends Error {
  override name = "InvalidInput";
  readonly errors: FieldError[];
  constructor(detail: string, errors: FieldError[]) {
    super(detail);
    this.errors = errors;
  }
}

/** The request is bigger than the service takes at once. (413) */
export class TooLarge extends Error {
  override name = "TooLarge";
}

/** One field is wrong. */
export const invalidField = (field: string, message: string, detail = `${field} ${message}`) =>
  new InvalidInput(detail, [{ field, message }]);

/** Nothing of that name exists for this tenant (another tenant's included). (404) */
export class NotFound extends Error {
  override name = "NotFound";
}

/** The thing exists, but its state does not allow the change. (409) */
export class Conflict extends Error {
  override name = "Conflict";
}

/** Refused for now, not for good: the client should retry after `retryAfterSeconds`. */
abstract class RetryLater extends Error {
  readonly retryAfterSeconds: number;
  constructor(detail: string, retryAfterSeconds: number) {
    super(detail);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The thing is not in the state the request needs yet (an event not sealed yet); retry after `retryAfterSeconds`. (409) */
export class NotYet extends RetryLater {
  override name = "NotYet";
}

/** A limit of this tenant or replica is reached; retry after `retryAfterSeconds`. (429) */
export class LimitReached extends RetryLater {
  override name = "LimitReached";
}

/** The request is fine but cannot be served now (the store, or this replica, is not able to); retry. (503) */
export class Unavailable extends RetryLater {
  override name = "Unavailable";
}

/** The request's deadline passed before the store answered; it may still take effect (a retry is safe). (504) */
export class TimedOut extends Error {
  override name = "TimedOut";
}

/** Something that passed validation was refused by the store: a bug or a changed template. (500) */
export class Internal extends Error {
  override name = "Internal";
}
