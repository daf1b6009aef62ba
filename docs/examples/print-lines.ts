/** An example's `main(log)`: it prints lines that its comments document. */
type Example = { main: (log: (line: string) => void) => unknown }

/** Runs an example module's `main` and returns what it printed, for the docs tests to compare. */
export async function printedLines(example: Example | Promise<Example>): Promise<string[]> {
  const lines: string[] = []
  await (await example).main((line) => lines.push(line))
  return lines
}
