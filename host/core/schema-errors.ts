import type { z } from 'zod';

/**
 * Turns zod issues into lines that name the key, e.g. `cache.max_entries: expected number`, or
 * `server: unknown key "listn"`. Used for the config file and app manifests.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    if (i.code === 'unrecognized_keys') {
      const keys = i.keys.map((k) => `"${k}"`).join(', ');
      return `${path || '(top level)'}: unknown key${i.keys.length > 1 ? 's' : ''} ${keys}`;
    }
    return `${path || '(top level)'}: ${i.message}`;
  });
}
