/**
 * @module features/exports/errors
 * Why an export failed, as the job reports it (`error.code`, `error.message`). Messages are
 * written for the customer: no stack traces, no credentials, no raw responses.
 */
export type FailureCode =
  | "secret_not_found"
  | "secret_invalid"
  | "secret_unavailable"
  | "endpoint_not_allowed"
  | "destination_error"
  | "snapshot_expired"
  | "snapshot_mismatch"
  | "too_many_attempts"
  | "internal";

export class ExportFailure extends Error {
  override name = "ExportFailure";
  readonly code: FailureCode;
  constructor(code: FailureCode, message: string) {
    super(message);
    this.code = code;
  }
}
