/**
 * A scrape of `/metrics`, read by a small strict parser of the Prometheus text exposition format
 * (version 0.0.4). Written here because the maintained-looking parser on npm
 * (parse-prometheus-text-format 1.1.1) drops the labels, `_sum` and `_count` of labelled
 * histograms. Strict: a line that is not a comment, a HELP, a TYPE or a well-formed sample fails
 * the test, and so do a sample before its family's TYPE, a repeated series, a bad name or value.
 */
import assert from 'node:assert/strict';

export type Labels = Readonly<Record<string, string>>;

interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum` … for a histogram `x`). */
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

interface Family {
  readonly type: string;
  help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Readonly<Record<string, readonly string[]>> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

/** Prometheus reads values with Go's ParseFloat: Inf and NaN in any case (prom-client writes `Nan`). */
function parseValue(text: string, line: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  assert.match(text, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `a number in: ${line}`);
  return Number(text);
}

/** `{a="x",b="y\"z"}` from position `i` (at the brace); returns the labels and the position after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    assert.ok(eq > i, `a label in: ${line}`);
    const name = line.slice(i, eq);
    assert.match(name, LABEL, `label name in: ${line}`);
    assert.equal(line[eq + 1], '"', `a quoted label value in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        const next = line[++j];
        assert.ok(next === '\\' || next === '"' || next === 'n', `an escape in: ${line}`);
        value += next === 'n' ? '\n' : next;
      } else value += line[j];
    }
    assert.equal(line[j], '"', `a closed label value in: ${line}`);
    assert.equal(labels[name], undefined, `label ${name} once in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else assert.equal(line[i], '}', `, or } in: ${line}`);
  }
  return { labels, end: i + 1 };
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const familyOf = (sample: string): Family | undefined => {
    for (const [name, f] of families) {
      if ((SUFFIXES[f.type] ?? ['']).some((s) => sample === name + s)) return f;
    }
    return undefined;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      assert.match(name, NAME, `metric name in: ${line}`);
      if (kind === 'TYPE') {
        assert.ok(TYPES.has(rest), `a known type in: ${line}`);
        assert.ok(!families.has(name) || families.get(name)?.samples.length === 0, `TYPE before the samples of ${name}`);
        families.set(name, { type: rest, help: families.get(name)?.help ?? '', samples: [] });
      } else {
        const f = families.get(name);
        if (f) f.help = rest;
        else families.set(name, { type: 'untyped', help: rest, samples: [] });
      }
      continue;
    }
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && brace < space ? brace : space;
    const name = line.slice(0, nameEnd);
    assert.match(name, NAME, `sample name in: ${line}`);
    const { labels, end } = brace === nameEnd ? parseLabels(line, brace) : { labels: {}, end: nameEnd };
    const fields = line.slice(end).trim().split(/\s+/);
    assert.ok(fields.length === 1 || fields.length === 2, `value [timestamp] in: ${line}`);
    const family = familyOf(name);
    assert.ok(family, `a TYPE before the sample: ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!series.has(key), `one sample per series: ${line}`);
    series.add(key);
    family.samples.push({ name, labels, value: parseValue(fields[0] ?? '', line) });
  }
  return families;
}

const matches = (labels: Labels, want: Labels) => Object.entries(want).every(([k, v]) => labels[k] === v);

export class Scrape {
  private readonly families: Map<string, Family>;

  constructor(readonly text: string) {
    this.families = parsePrometheusText(text);
  }

  family(name: string): Family {
    const f = this.families.get(name);
    assert.ok(f, `the scrape has ${name}`);
    return f;
  }

  /** The value of the counter or gauge sample of `name` whose labels include `labels`; it must exist. */
  value(name: string, labels: Labels = {}): number {
    const s = this.family(name).samples.find((x) => x.name === name && matches(x.labels, labels));
    assert.ok(s, `${name}${JSON.stringify(labels)} has a value in:\n${this.text.slice(0, 3000)}`);
    return s.value;
  }

  /** Every sample of a family by one label: label value → number. */
  byLabel(name: string, label: string, filter: Labels = {}): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.family(name).samples) {
      const key = s.labels[label];
      if (s.name === name && key !== undefined && matches(s.labels, filter)) out[key] = s.value;
    }
    return out;
  }

  /** The number of observations of a histogram series (0 when it has none yet). */
  histogramCount(name: string, labels: Labels = {}): number {
    assert.equal(this.family(name).type, 'histogram', `${name} is a histogram`);
    return this.family(name).samples.find((s) => s.name === `${name}_count` && matches(s.labels, labels))?.value ?? 0;
  }
}
