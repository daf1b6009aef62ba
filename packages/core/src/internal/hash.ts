/** JSON with sorted object keys, so equal values give equal strings whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {}
      for (const k of Object.keys(v as object).sort()) sorted[k] = (v as Record<string, unknown>)[k]
      return sorted
    }
    return typeof v === 'bigint' ? `${v}n` : v
  })
}

/** A short, stable, non-cryptographic hash (FNV-1a, 2 × 32 bits) of a value's stable JSON. */
export function hashOf(value: unknown): string {
  const text = stableJson(value) ?? 'undefined'
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0')
}
