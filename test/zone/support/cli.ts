import { zoneCommand } from '../../../host/adapters/node/cli/zone.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function zone(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await zoneCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}
