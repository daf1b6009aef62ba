// Rewrites every `<!-- example: file#region -->` code block in README.md and docs/**/*.md from the
// example file's region, so docs never drift from code that is type-checked and run by the tests.
// Usage: pnpm docs:sync
import { readFileSync, writeFileSync } from 'node:fs'
import { EXAMPLE_BLOCK, exampleRegion, markdownPages } from './markdown-examples.ts'

for (const page of markdownPages()) {
  const text = readFileSync(page, 'utf8')
  const next = text.replace(EXAMPLE_BLOCK, (_all, file: string, region: string) => {
    const code = exampleRegion(file, region)
    if (code === undefined) throw new Error(`${page}: no region "${region}" in docs/examples/${file}`)
    return `<!-- example: ${file}#${region} -->\n\`\`\`ts\n${code}\n\`\`\``
  })
  if (next !== text) {
    writeFileSync(page, next)
    console.log(`updated ${page}`)
  }
}
