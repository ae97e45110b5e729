/**
 * @module logger
 * JSON logs (pino). Request logs carry method, path, status, duration and request id; never
 * headers, query strings or bodies, so tokens and audit payloads stay out of the log.
 */
import { pino } from "pino";

export type Logger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { service: "scaivault-audit" }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}
