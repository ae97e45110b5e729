/**
 * What every part of `npm run bench` gets and gives back: the running service and cluster, the
 * seeded data; a titled table for the report and the raw figures for results JSON.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { BenchEnv } from "../support.ts";

export interface BenchContext {
  env: BenchEnv;
  client: Client;
  /** Events in the stream (the naive index holds the same ones). */
  events: number;
  /** The seed's busiest tenant: the one every query asks about. */
  tenant: string;
  /** The end of the seeded 90 days (fixed, so data is reused between runs). */
  end: Date;
  iterations: number;
  /** Moto's endpoint and the bucket the export part writes to. */
  s3?: { endpoint: string; bucket: string; secret: string };
}

export interface Table {
  title: string;
  head: string[];
  rows: (string | number)[][];
  note?: string;
}

export interface PartResult {
  tables: Table[];
  /** Raw figures, kept in bench/results/run-<size>.json. */
  data: Record<string, unknown>;
  /** When it was measured (ISO): a run of some parts keeps the others from earlier runs. */
  measured?: string;
}

export type Part = (ctx: BenchContext) => Promise<PartResult>;

/** `x` to one decimal; ratios to two. */
export const ms = (x: number): string => x.toFixed(1);
export const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : "—");
