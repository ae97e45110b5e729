/**
 * @module destinations/errors
 * Why a destination could not be used, as the job (an export) or the stream (a delivery) reports
 * it. Messages are written for the customer: no stack traces, no credentials, no raw responses.
 */
export type DestinationErrorCode =
  | "secret_not_found"
  | "secret_invalid"
  | "secret_unavailable"
  | "endpoint_not_allowed"
  | "destination_error";

export class DestinationError extends Error {
  override name = "DestinationError";
  readonly code: DestinationErrorCode;
  constructor(code: DestinationErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
