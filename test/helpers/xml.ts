/** An element of a parsed XML document: its attributes (entities decoded), children and text. */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

const NAME = /[A-Za-z_:][\w.:-]*/y;
const SPACE = /\s*/y;
const ENTITY = /&(?:lt|gt|amp|quot|apos|#\d+|#x[\da-fA-F]+);/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * Parses `source` as XML, throwing at the first thing that makes it not
 * well-formed: an unclosed or mismatched tag, an attribute unquoted or given
 * twice, a bare `<` or `&`, text or a second element outside the root. It
 * knows elements, attributes, text, comments and an XML declaration: enough
 * for the SVG the charts write, checked as strictly as a browser would.
 */
export function parseXml(source: string): XmlElement {
  let at = 0;
  const fail = (why: string): never => {
    const line = source.slice(0, at).split('\n').length;
    throw new Error(`not well-formed XML at line ${line}: ${why}`);
  };
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = at;
    const m = re.exec(source);
    if (m === null) return undefined;
    at = re.lastIndex;
    return m[0];
  };
  const decode = (raw: string): string => {
    if (/[<]/.test(raw)) fail('a bare < in text or an attribute');
    if (raw.replace(ENTITY, '').includes('&')) fail('a bare & or an unknown entity');
    return raw.replace(ENTITY, (e) => {
      const body = e.slice(1, -1);
      if (body.startsWith('#x')) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
      if (body.startsWith('#')) return String.fromCodePoint(Number(body.slice(1)));
      return NAMED[body] as string;
    });
  };
  const skipMisc = () => {
    for (;;) {
      match(SPACE);
      if (source.startsWith('<?', at)) {
        const end = source.indexOf('?>', at);
        if (end < 0) fail('an unclosed <?');
        at = end + 2;
      } else if (source.startsWith('<!--', at)) {
        const end = source.indexOf('-->', at);
        if (end < 0) fail('an unclosed comment');
        at = end + 3;
      } else return;
    }
  };
  const element = (): XmlElement => {
    if (source[at] !== '<') fail('expected <');
    at++;
    const name = match(NAME) ?? fail('expected an element name');
    const attrs: Record<string, string> = {};
    for (;;) {
      const space = match(SPACE) as string;
      if (source.startsWith('/>', at)) {
        at += 2;
        return { name, attrs, children: [], text: '' };
      }
      if (source[at] === '>') {
        at++;
        break;
      }
      if (space === '') fail(`no space before an attribute of <${name}>`);
      const attr = match(NAME) ?? fail(`expected an attribute name in <${name}>`);
      match(SPACE);
      if (source[at] !== '=') fail(`attribute ${attr} has no value`);
      at++;
      match(SPACE);
      const quote = source[at];
      if (quote !== '"' && quote !== "'") fail(`attribute ${attr} is not quoted`);
      const end = source.indexOf(quote as string, at + 1);
      if (end < 0) fail(`attribute ${attr} is not closed`);
      if (attr in attrs) fail(`attribute ${attr} given twice in <${name}>`);
      attrs[attr] = decode(source.slice(at + 1, end));
      at = end + 1;
    }
    const node: XmlElement = { name, attrs, children: [], text: '' };
    for (;;) {
      const next = source.indexOf('<', at);
      if (next < 0) fail(`<${name}> is not closed`);
      node.text += decode(source.slice(at, next));
      at = next;
      if (source.startsWith('</', at)) {
        at += 2;
        const closing = match(NAME);
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        match(SPACE);
        if (source[at] !== '>') fail(`</${name}> is not closed`);
        at++;
        return node;
      }
      if (source.startsWith('<!--', at)) {
        const end = source.indexOf('-->', at);
        if (end < 0) fail('an unclosed comment');
        at = end + 3;
        continue;
      }
      node.children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (at !== source.length) fail('something after the root element');
  return root;
}

/** Every element under `root` (itself included), depth first, in document order. */
export function allElements(root: XmlElement): XmlElement[] {
  return [root, ...root.children.flatMap(allElements)];
}
