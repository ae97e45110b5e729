/**
 * A strict CEF parser written from the ArcSight CEF Implementation Standard, for tests (no CEF
 * parser on npm or PyPI implements its escapes: pycef 1.11 leaves `\=` and `\\` in values and
 * splits the header on any `=`; nsyslog-parser 0.10.1 splits the extension on every space and
 * `=`). It refuses what the standard does not allow (an unknown escape, a raw `=` in a value, a
 * malformed key, a missing header field), so a formatter that under-escapes fails rather than
 * being read generously.
 */
export interface Cef {
  version: string;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  ext: Map<string, string>;
}

/** The standard's header: `\\` and `\|` are the only escapes, and a header holds no line break. */
export function parseCef(line: string): Cef {
  if (/[\r\n\u2028\u2029\u0085]/.test(line)) throw new Error("a line break in the line");
  if (!line.startsWith("CEF:")) throw new Error("no CEF: prefix");
  const fields: string[] = [];
  let cur = "";
  let i = 4;
  for (; i < line.length && fields.length < 7; i++) {
    const c = line[i] as string;
    if (c === "\\") {
      const next = line[++i];
      if (next !== "\\" && next !== "|") throw new Error(`bad header escape \\${next} at ${i}`);
      cur += next;
    } else if (c === "|") {
      fields.push(cur);
      cur = "";
    } else cur += c;
  }
  if (fields.length !== 7) throw new Error(`${fields.length} header fields`);
  return {
    version: fields[0] as string,
    vendor: fields[1] as string,
    product: fields[2] as string,
    deviceVersion: fields[3] as string,
    signatureId: fields[4] as string,
    name: fields[5] as string,
    severity: fields[6] as string,
    ext: parseExtension(line.slice(i)),
  };
}

const KEY = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * The standard's extension: space-separated key=value pairs; in values `\\`, `\=`, `\n`, `\r` are
 * the escapes and a raw `=` ends the key before it, so the value runs to the last space before the
 * next unescaped `=`.
 */
function parseExtension(text: string): Map<string, string> {
  const out = new Map<string, string>();
  if (text === "") return out;
  // Split on unescaped '=' keeping the escapes for now.
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "\\") {
      const next = text[++i];
      if (next === undefined || !"\\=nr".includes(next)) throw new Error(`bad extension escape \\${next}`);
      cur += `\\${next}`;
    } else if (c === "=") {
      parts.push(cur);
      cur = "";
    } else cur += c;
  }
  parts.push(cur);
  if (parts.length < 2) throw new Error("no key=value in the extension");
  let key = parts[0] as string;
  for (let p = 1; p < parts.length; p++) {
    const part = parts[p] as string;
    const last = p === parts.length - 1;
    const cutAt = last ? part.length : part.lastIndexOf(" ");
    if (cutAt < 0) throw new Error(`no space before key in ${JSON.stringify(part)}`);
    if (!KEY.test(key)) throw new Error(`bad key ${JSON.stringify(key)}`);
    if (out.has(key)) throw new Error(`duplicate key ${key}`);
    out.set(key, unescapeValue(part.slice(0, cutAt)));
    key = part.slice(cutAt + 1);
  }
  return out;
}

const unescapeValue = (v: string) =>
  v.replace(/\\([\\=nr])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c));
