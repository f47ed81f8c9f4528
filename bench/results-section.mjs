// Replaces one harness's section of bench/RESULTS.md with a fresh report, so a harness can be
// rerun and leave the file true: the section lives between `<!-- NAME:begin -->` and
// `<!-- NAME:end -->`; when the markers are missing it is added at the end.
//
// Usage: node bench/results-section.mjs RESULTS.md NAME REPORT.md
import { readFileSync, writeFileSync } from 'node:fs';

const [file, name, reportFile] = process.argv.slice(2);
if (!file || !name || !reportFile) {
  console.error('usage: node bench/results-section.mjs RESULTS.md NAME REPORT.md');
  process.exit(2);
}
const begin = `<!-- ${name}:begin -->`;
const end = `<!-- ${name}:end -->`;
const text = readFileSync(file, 'utf8');
const section = `${begin}\n${readFileSync(reportFile, 'utf8').trimEnd()}\n${end}`;
const a = text.indexOf(begin);
const b = text.indexOf(end);
let out;
if (a >= 0 && b > a) out = text.slice(0, a) + section + text.slice(b + end.length);
else out = `${text.trimEnd()}\n\n${section}\n`;
writeFileSync(file, out);
