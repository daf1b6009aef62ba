/** Marks the result line of a benchmark child process among anything else it prints on stdout. */
export const RESULT_PREFIX = 'RESULT '
