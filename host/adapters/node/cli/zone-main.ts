#!/usr/bin/env node
// Standalone entry for the zone commands until they are wired into the main CLI.
import { zoneCommand } from './zone.js';

process.exitCode = await zoneCommand(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
});
