// Reading the binary's Prometheus endpoint: where it is (its start-up line), one scrape parsed
// from the text format into samples, and a sample's value by name and labels.
import { httpGet } from "./helpers.mjs";

/** The metrics URL a server printed at start: `metrics at http://ADDR/PATH (...)`. */
export async function metricsUrl(server) {
  const line = await server.waitForLine(/^metrics at http:\/\/\S+/, 10000);
  return line.split(" ")[2];
}

/** Parse one label set `{a="x",b="y"}` (values may hold escaped quotes). */
function parseLabels(text) {
  const labels = {};
  const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (const m of text.matchAll(re)) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
  return labels;
}

/**
 * One scrape: {status, contentType, types: Map(name → type), samples: [{name, labels, value}]}.
 * Throws on a line that is neither a comment nor `name{labels} value`.
 */
export async function scrape(url) {
  const res = await httpGet(url);
  const types = new Map();
  const samples = [];
  for (const line of res.text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels: parseLabels(m[2] ?? ""), value: Number(m[3]) });
  }
  return { status: res.status, contentType: res.headers.get("content-type"), types, samples };
}

/** The sum of the samples `name` whose labels include `labels` (0 when there is none). */
export function sum(scraped, name, labels = {}) {
  return scraped.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

/** The value of the sample `name` whose labels include `labels` (0 when there is none). */
export function value(scraped, name, labels = {}) {
  const found = scraped.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found ? found.value : 0;
}
