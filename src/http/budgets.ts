/**
 * @module http/budgets
 * Per-tenant request budgets, weighted by cost: a 5-row page costs 1, a 1,000-row page 11, a
 * 90-day summary 15 (each route says what it costs, http/admission). Two limits:
 *
 * - **Rate**: a token bucket per tenant and one per token subject (so one runaway script cannot
 *   spend its whole tenant's budget). A request takes its cost from both, or is refused with the
 *   seconds until enough has refilled.
 * - **Concurrency**: the cost a tenant may have in flight on this replica, and the replica's total.
 *   When the total is reached, only tenants below their fair share (total ÷ tenants in flight) get
 *   in — so a flood from one tenant cannot take the slots another needs. A request costing more than
 *   the whole per-tenant allowance still runs when the tenant has nothing else in flight.
 *
 * Budgets are per replica, kept in memory: no shared store on the hot path. With N replicas behind
 * a balancer that spreads requests evenly, a tenant's budget across the service is N times this
 * (README › Reliability says how to size it).
 */

export interface BudgetSettings {
  tenantPerSecond: number;
  tenantBurst: number;
  subjectPerSecond: number;
  subjectBurst: number;
  /** Cost a tenant may have in flight on this replica. */
  tenantConcurrency: number;
  /** Cost in flight on this replica, all tenants together. */
  totalConcurrency: number;
  /**
   * How long a refusal is held before it is sent (at most its Retry-After). A client that does
   * not wait before retrying — a flood — then waits anyway, on its own connection, instead of
   * spending the replica's CPU on refusals.
   */
  refusalDelayMs: number;
}

export const DEFAULT_BUDGETS: BudgetSettings = {
  tenantPerSecond: 400,
  tenantBurst: 800,
  subjectPerSecond: 200,
  subjectBurst: 400,
  tenantConcurrency: 24,
  totalConcurrency: 96,
  refusalDelayMs: 1000,
};

export type Refusal = "tenant_rate" | "subject_rate" | "tenant_concurrency" | "replica_concurrency";

/** What the RateLimit headers report after a decision. */
export interface Standing {
  tenant: { remaining: number; resetSeconds: number };
  subject: { remaining: number; resetSeconds: number };
  inFlight: number;
}

export type Decision =
  | { admitted: true; standing: Standing; release: () => void }
  | { admitted: false; standing: Standing; refusal: Refusal; retryAfterSeconds: number };

class Bucket {
  readonly rate: number;
  readonly burst: number;
  tokens: number;
  at: number;
  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.at = now;
  }
  refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }
  /** Seconds until `cost` is available. */
  waitFor(cost: number): number {
    return Math.max(1, Math.ceil((cost - this.tokens) / this.rate));
  }
  standing(): { remaining: number; resetSeconds: number } {
    return {
      remaining: Math.floor(this.tokens),
      resetSeconds: Math.ceil((this.burst - this.tokens) / this.rate),
    };
  }
}

export class Budgets {
  readonly settings: BudgetSettings;
  readonly #now: () => number;
  readonly #tenants = new Map<string, Bucket>();
  readonly #subjects = new Map<string, Bucket>();
  readonly #inFlight = new Map<string, number>();
  #total = 0;
  #lastSweep: number;

  constructor(settings: BudgetSettings = DEFAULT_BUDGETS, now: () => number = Date.now) {
    this.settings = settings;
    this.#now = now;
    this.#lastSweep = now();
  }

  /**
   * Admits a request of `cost` for `tenant` and `subject`, or says which limit refused it.
   * `held`: whether the request occupies a concurrency slot until `release` (a live tail does not:
   * it has its own limits).
   */
  admit(tenant: string, subject: string, cost: number, held = true): Decision {
    const now = this.#now();
    this.#sweep(now);
    const s = this.settings;
    const t = bucket(this.#tenants, tenant, s.tenantPerSecond, s.tenantBurst, now);
    const u = bucket(this.#subjects, `${tenant}\u0000${subject}`, s.subjectPerSecond, s.subjectBurst, now);
    // A request dearer than a whole bucket takes all of it, rather than never running.
    const tc = Math.min(cost, s.tenantBurst);
    const uc = Math.min(cost, s.subjectBurst);
    const mine = this.#inFlight.get(tenant) ?? 0;
    const standing = (): Standing => ({ tenant: t.standing(), subject: u.standing(), inFlight: mine });

    if (held && mine > 0) {
      if (mine + cost > s.tenantConcurrency)
        return { admitted: false, standing: standing(), refusal: "tenant_concurrency", retryAfterSeconds: 1 };
      if (this.#total + cost > s.totalConcurrency && mine >= s.totalConcurrency / this.#inFlight.size)
        return {
          admitted: false,
          standing: standing(),
          refusal: "replica_concurrency",
          retryAfterSeconds: 1,
        };
    }
    if (t.tokens < tc)
      return {
        admitted: false,
        standing: standing(),
        refusal: "tenant_rate",
        retryAfterSeconds: t.waitFor(tc),
      };
    if (u.tokens < uc)
      return {
        admitted: false,
        standing: standing(),
        refusal: "subject_rate",
        retryAfterSeconds: u.waitFor(uc),
      };

    t.tokens -= tc;
    u.tokens -= uc;
    if (!held) return { admitted: true, standing: standing(), release: () => {} };
    this.#inFlight.set(tenant, mine + cost);
    this.#total += cost;
    let released = false;
    return {
      admitted: true,
      standing: { ...standing(), inFlight: mine + cost },
      release: () => {
        if (released) return;
        released = true;
        this.#total -= cost;
        const left = (this.#inFlight.get(tenant) ?? cost) - cost;
        if (left > 0) this.#inFlight.set(tenant, left);
        else this.#inFlight.delete(tenant);
      },
    };
  }

  /** Forgets full buckets now and then, so memory follows the active tenants and subjects. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    for (const map of [this.#tenants, this.#subjects])
      for (const [key, b] of map) {
        b.refill(now);
        if (b.tokens >= b.burst) map.delete(key);
      }
  }
}

function bucket(map: Map<string, Bucket>, key: string, rate: number, burst: number, now: number): Bucket {
  let b = map.get(key);
  if (!b) {
    b = new Bucket(rate, burst, now);
    map.set(key, b);
  } else b.refill(now);
  return b;
}
