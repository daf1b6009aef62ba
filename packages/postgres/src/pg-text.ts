/**
 * PostgreSQL `text` cannot hold U+0000, yet persistence ids, tags and types may contain it. Such strings
 * are stored with an escape that only touches U+0000 and the escape character U+0001 itself (U+0001 →
 * U+0001 U+0001, U+0000 → U+0001 `0`), so every other string is stored and compared unchanged.
 */
const NUL = String.fromCharCode(0)
const ESCAPE = String.fromCharCode(1)

/** The stored form of `value`. */
export function toDbText(value: string): string {
  if (!value.includes(NUL) && !value.includes(ESCAPE)) return value
  let out = ''
  for (const c of value) out += c === NUL ? `${ESCAPE}0` : c === ESCAPE ? ESCAPE + ESCAPE : c
  return out
}

/** The original of a stored string. */
export function fromDbText(value: string): string {
  if (!value.includes(ESCAPE)) return value
  let out = ''
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!
    if (c !== ESCAPE) out += c
    else out += value[++i] === '0' ? NUL : ESCAPE
  }
  return out
}
