/**
 * @module features/exports/errors
 * Why an export failed, as the job reports it (`error.code`, `error.message`). Messages are
 * written for the customer: no stack traces, no credentials, no raw responses.
 */
import type { DestinationErrorCode } from "../../destinations/errors.ts";

/** A destination's own failures (its secret, its endpoint, its answers), and the export's. */
export type FailureCode =
  | DestinationErrorCode
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
