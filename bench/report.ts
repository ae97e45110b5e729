/**
 * bench/RESULTS.md from every bench/results/run-<size>.json: each run's tables, and a chart of the
 * pages' and trails' p50 against data size (SVG, drawn here: three lines need no chart library).
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import type { PartResult, Table } from "./parts/part.ts";

export const sizeLabel = (n: number): string =>
  n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}m` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n);

/** A size as tables and the chart show it: three figures (10,000,067 stored events are "10m"). */
const shown = (n: number): string =>
  n >= 1e6 ? `${+(n / 1e6).toPrecision(3)}m` : n >= 1e3 ? `${+(n / 1e3).toPrecision(3)}k` : String(n);

interface Run {
  date: string;
  events: number;
  machine: { cores: number; cpu?: string; memory_gb: number };
  versions: { opensearch: string; node: string };
  iterations: number;
  parts: Record<string, PartResult>;
}

type QueryData = Record<string, { api: { p50: number }; direct: { p50: number }; naive: { p50: number } }>;

const SIDES = [
  { key: "direct", label: "service design (direct)", color: "#1f6feb" },
  { key: "api", label: "through the API", color: "#2da44e" },
  { key: "naive", label: "naive index", color: "#cf222e" },
] as const;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function writeReport(dir = new URL("./results/", import.meta.url)): Promise<void> {
  const files = (await readdir(dir)).filter((f) => /^run-.+\.json$/.test(f));
  const runs = (
    await Promise.all(files.map(async (f) => JSON.parse(await readFile(new URL(f, dir), "utf8")) as Run))
  )
    .filter((r) => r.parts && r.events)
    .sort((a, b) => a.events - b.events);
  const withQueries = runs.filter((r) => r.parts.query);
  await writeFile(new URL("p50-by-size.svg", dir), chart(withQueries));

  const out: string[] = [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (bench/run.ts) from bench/results/run-<size>.json; edit neither by hand.",
    "Every figure compares sides measured in the same run on the same OpenSearch node, interleaved:",
    "**API** (through the service), **direct** (the service's own request body sent straight to",
    "OpenSearch: the index design without the service) and **naive** (the same events in an index with",
    "default dynamic mappings, default codec and no index sorting — what a Fluent Bit or Logstash",
    "pipeline builds — asked the same questions). These machines are small and shared: repeat runs",
    "move single figures by 10–30 %; the ratios within a run are steadier than the absolute values.",
    "",
  ];
  if (withQueries.length > 0) {
    out.push(
      "## Pages and trails against data size",
      "",
      "![p50 of pages and trails against data size](results/p50-by-size.svg)",
      "",
      `| question | ${withQueries.map((r) => `${shown(r.events)}: direct / naive / API (ms p50)`).join(" | ")} |`,
      `|---|${withQueries.map(() => "---").join("|")}|`,
    );
    const names = Object.keys(withQueries[0]?.parts.query?.data ?? {});
    for (const name of names) {
      const cells = withQueries.map((r) => {
        const q = ((r.parts.query?.data ?? {}) as QueryData)[name];
        return q ? `${q.direct.p50.toFixed(1)} / ${q.naive.p50.toFixed(1)} / ${q.api.p50.toFixed(1)}` : "—";
      });
      out.push(`| ${name} | ${cells.join(" | ")} |`);
    }
    out.push("");
  }
  for (const r of runs) {
    out.push(
      `## ${r.events.toLocaleString("en")} events`,
      "",
      `${r.date.slice(0, 16).replace("T", " ")} UTC · ${r.machine.cores} cores${r.machine.cpu ? ` (${r.machine.cpu})` : ""}, ` +
        `${r.machine.memory_gb} GB · OpenSearch ${r.versions.opensearch} · Node ${r.versions.node} · ` +
        `${r.iterations} iterations per side`,
      "",
    );
    for (const part of Object.values(r.parts)) {
      // A part kept from an earlier run than the others says so.
      if (part.measured && Math.abs(Date.parse(part.measured) - Date.parse(r.date)) > 3_600_000)
        out.push(
          `_The next table${part.tables.length > 1 ? "s were" : " was"} measured ${part.measured.slice(0, 16).replace("T", " ")} UTC._`,
          "",
        );
      for (const t of part.tables) out.push(...markdown(t));
    }
  }
  await writeFile(new URL("../RESULTS.md", dir), `${out.join("\n")}\n`);
}

function markdown(t: Table): string[] {
  const cell = (c: string | number) => String(c).replaceAll("|", "\\|");
  return [
    `### ${t.title}`,
    "",
    `| ${t.head.map(cell).join(" | ")} |`,
    `|${t.head.map(() => "---").join("|")}|`,
    ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
    "",
    ...(t.note ? [t.note, ""] : []),
  ];
}

/** Median over the questions of each side's p50, one point per data size, log-scaled sizes. */
function chart(runs: Run[]): string {
  const W = 640;
  const H = 360;
  const pad = { left: 56, right: 190, top: 30, bottom: 46 };
  const points = SIDES.map((s) => ({
    ...s,
    values: runs.map((r) => {
      const data = r.parts.query?.data as QueryData;
      return { events: r.events, ms: median(Object.values(data).map((q) => q[s.key].p50)) };
    }),
  }));
  const all = points.flatMap((p) => p.values.map((v) => v.ms));
  const yMax = Math.max(1, ...all) * 1.15;
  const xs = runs.map((r) => Math.log10(r.events));
  const [x0, x1] = [Math.min(...xs, 5) - 0.2, Math.max(...xs, 7) + 0.2];
  const x = (events: number) =>
    pad.left + ((Math.log10(events) - x0) / (x1 - x0)) * (W - pad.left - pad.right);
  const y = (ms: number) => H - pad.bottom - (ms / yMax) * (H - pad.top - pad.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    "<title>p50 of pages and trails against events stored: service design, API and naive index</title>",
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${pad.left}" y="18" font-size="13">Pages and trails: median p50 over the questions (ms) against events stored</text>`,
    `<line x1="${pad.left}" y1="${H - pad.bottom}" x2="${W - pad.right}" y2="${H - pad.bottom}" stroke="#555"/>`,
    `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${H - pad.bottom}" stroke="#555"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax / 4) * i;
    parts.push(
      `<line x1="${pad.left}" y1="${y(v)}" x2="${W - pad.right}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${pad.left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  }
  for (const r of runs)
    parts.push(
      `<text x="${x(r.events)}" y="${H - pad.bottom + 18}" text-anchor="middle">${shown(r.events)}</text>`,
    );
  points.forEach((p, i) => {
    const d = p.values
      .map((v, j) => `${j ? "L" : "M"}${x(v.events).toFixed(1)},${y(v.ms).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${p.color}" stroke-width="2"/>`);
    for (const v of p.values)
      parts.push(
        `<circle cx="${x(v.events).toFixed(1)}" cy="${y(v.ms).toFixed(1)}" r="3.5" fill="${p.color}"/>`,
      );
    const ly = pad.top + 20 + i * 20;
    parts.push(
      `<line x1="${W - pad.right + 14}" y1="${ly - 4}" x2="${W - pad.right + 34}" y2="${ly - 4}" stroke="${p.color}" stroke-width="2"/>`,
      `<text x="${W - pad.right + 40}" y="${ly}">${p.label}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
