// Rewrites every `<!-- example: file#region -->` code block in README.md and docs/**/*.md from the
// example file's region, so docs never drift from code that is type-checked and run by the tests.
// Usage: pnpm docs:sync
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

function listMarkdown(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'examples') return []
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return listMarkdown(path)
    return entry.name.endsWith('.md') ? [path] : []
  })
}

function dedent(text: string): string {
  const lines = text.split('\n')
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length))
  return lines.map((l) => l.slice(indent)).join('\n')
}

for (const page of [join(here, '..', 'README.md'), ...listMarkdown(here)]) {
  const text = readFileSync(page, 'utf8')
  const next = text.replace(
    /<!-- example: ([\w./-]+)#([\w-]+) -->\s*```ts\n[\s\S]*?```/g,
    (_all, file: string, region: string) => {
      const source = readFileSync(join(here, 'examples', file), 'utf8')
      const match = source.match(new RegExp(`// #region ${region}\\n([\\s\\S]*?)// #endregion ${region}`))
      if (!match) throw new Error(`${page}: no region "${region}" in docs/examples/${file}`)
      return `<!-- example: ${file}#${region} -->\n\`\`\`ts\n${dedent(match[1]!).trim()}\n\`\`\``
    },
  )
  if (next !== text) {
    writeFileSync(page, next)
    console.log(`updated ${page}`)
  }
}
