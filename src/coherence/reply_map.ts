/** A Redis reply of alternating names and values (XINFO, CONFIG GET...) as a map of strings. */
export function replyMap(reply: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const value = reply[i + 1];
    out.set(String(reply[i]), Buffer.isBuffer(value) ? value.toString() : value);
  }
  return out;
}
