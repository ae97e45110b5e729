/**
 * @module features/stream/catchup
 * A client that resumes (Last-Event-ID) behind the feed first catches up with its own filtered
 * reads up to the feed's position, then joins the feed in the same synchronous step — and only
 * when the feed's read in flight (if any) asks for its tenant — so nothing falls between the two.
 */
import type { StreamSettings } from "../../config.ts";
import { readDocument } from "../../events/event.mapping.ts";
import type { Filters } from "../../filters/filters.ts";
import type { Logger } from "../../logger.ts";
import { advance, later, type Position, reached } from "../../opensearch/position.ts";
import { readRange, refresh, type SeqRange, type Store, storeProgress } from "../../opensearch/progress.ts";
import type { Feed } from "./stream.feed.ts";
import { catchUpSearch } from "./stream.query.ts";
import { type EndReason, render, type Subscriber } from "./stream.subscriber.ts";

export interface CatchUpContext {
  store: Store;
  settings: Pick<StreamSettings, "pageSize" | "pollIntervalMs">;
  feed: Feed;
  end: (sub: Subscriber, reason: EndReason) => void;
  log: Logger;
  sent?: { inc(n?: number): void };
}

/**
 * Brings a client up to the feed with its own filtered reads, then attaches it — in the same
 * synchronous step as the check, and only when the feed's read in flight (if any) asks for its
 * tenant, so no event falls between the two. Reads wait for room in the client's buffer, so a
 * long catch-up never overflows it.
 */
export async function catchUp(sub: Subscriber, filters: Filters, ctx: CatchUpContext): Promise<void> {
  const { pageSize, pollIntervalMs } = ctx.settings;
  try {
    for (;;) {
      if (sub.gone) return;
      const head = ctx.feed.head as Position;
      if (reached(sub.pos, head)) {
        const inFlight = ctx.feed.inFlight;
        if (!inFlight || inFlight.tenants.has(sub.tenant.id)) return ctx.feed.attach(sub);
        await inFlight.done;
        continue;
      }
      const indices = await storeProgress(ctx.store, sub.pos.gen);
      // The client's index, or the next one if retention deleted it.
      const index = indices.find((i) => i.gen >= sub.pos.gen && i.gen <= head.gen);
      if (!index) {
        sub.pos = later(sub.pos, head);
        continue;
      }
      if (index.gen > sub.pos.gen) sub.pos = { gen: index.gen, seq: index.shards.map(() => 0) };
      // Up to the feed's position in its index; an older index only as far as is final.
      const upTo =
        index.gen === head.gen ? head.seq.map((s) => s - 1) : index.shards.map((s) => s.checkpoint);
      await refresh(ctx.store.client, index.name);
      for (const [shard, to] of upTo.entries()) {
        const from = sub.pos.seq[shard] ?? 0;
        if (from > to) continue;
        const build = (r: SeqRange) => catchUpSearch(sub.tenant, filters, r, pageSize);
        for await (const hits of readRange(
          ctx.store.client,
          index.name,
          shard,
          { from, to },
          build,
          pageSize,
        )) {
          for (const hit of hits) {
            await sub.room();
            if (sub.gone) return;
            const data = render(sub.format, readDocument(hit._source), sub.tenant.id);
            if (!sub.event(advance(sub.pos, index.gen, shard, hit._seq_no), data))
              return ctx.end(sub, "slow_client");
            ctx.sent?.inc();
          }
        }
        sub.pos = advance(sub.pos, index.gen, shard, to);
      }
      if (index.gen < head.gen) {
        const complete = index.shards.every(
          (s, i) => s.max === s.checkpoint && (sub.pos.seq[i] ?? 0) > s.max,
        );
        const next = indices.find((i) => i.gen > index.gen);
        if (complete)
          sub.pos = next ? { gen: next.gen, seq: next.shards.map(() => 0) } : { gen: index.gen + 1, seq: [] };
        // Writes still in flight to an index that was just rolled over: look again shortly.
        else await sleep(pollIntervalMs);
      }
      sub.checkpoint();
    }
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, "live tail: a catch-up read failed; ending that stream");
    ctx.end(sub, "unavailable");
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
