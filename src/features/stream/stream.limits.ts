/**
 * @module features/stream/limits
 * How many live streams one replica serves: at most `maxPerTenant` for one tenant and `maxTotal`
 * in all, counted from the moment a stream is admitted (before its first await), so concurrent
 * subscribes cannot overshoot.
 */
import { LimitReached } from "../../errors.ts";

export class StreamLimits {
  readonly #perTenant = new Map<string, number>();
  #count = 0;
  readonly #maxPerTenant: number;
  readonly #maxTotal: number;

  constructor(opts: { maxPerTenant: number; maxTotal: number }) {
    this.#maxPerTenant = opts.maxPerTenant;
    this.#maxTotal = opts.maxTotal;
  }

  /** Counts a new stream of `tenant`, or refuses it (429 with Retry-After). */
  admit(tenant: string): void {
    const mine = this.#perTenant.get(tenant) ?? 0;
    if (mine >= this.#maxPerTenant || this.#count >= this.#maxTotal) {
      throw new LimitReached(
        mine >= this.#maxPerTenant
          ? `this tenant already has ${mine} live streams on this replica (at most ${this.#maxPerTenant})`
          : `this replica serves its maximum of ${this.#maxTotal} live streams`,
        30,
      );
    }
    this.#perTenant.set(tenant, mine + 1);
    this.#count++;
  }

  release(tenant: string): void {
    const n = (this.#perTenant.get(tenant) ?? 1) - 1;
    if (n > 0) this.#perTenant.set(tenant, n);
    else this.#perTenant.delete(tenant);
    this.#count--;
  }

  /** The tenants with a stream here (admitted, attached to the feed or not yet). */
  tenants(): Set<string> {
    return new Set(this.#perTenant.keys());
  }
}
