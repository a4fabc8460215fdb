/**
 * `kube-remediator test FILE...`: runs the cases of Runbook test files without a cluster (as
 * `promtool test rules` does for alerting rules) and prints, per failed case, what was expected
 * and what followed. Returns the exit code instead of exiting, so tests can call it.
 */
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { runTestFile, type FileReport } from '../simulate/run-tests.js';
import { loadTestFile, TestFileError } from '../simulate/test-file.js';
import { errorMessage } from '../util/errors.js';

export const TEST_USAGE = `Usage: kube-remediator test [options] FILE...

Runs Runbook test files without a cluster: for each case, the alert goes through the same code
the operator runs (trigger matching, param rendering, scope, cooldown and rate limit given the
stated history, the start gates and the decision protocol, each step's plan() against the given
objects) and what follows is compared with what the case expects. The file format is in the
README ("Testing runbooks"); its JSON schema is docs/runbook-test.schema.json.

Options:
  --run <regex>   only the cases whose name matches
  --show          print what followed in each case (YAML), to write or update expectations
  -h, --help      show this help

Exit codes:
  0   every case passed
  1   a case failed, or a Runbook is invalid (the operator would answer no alert with it)
  2   a test file is invalid (every wrong field is named), or bad usage
`;

interface Writer {
  write(chunk: string): unknown;
}

export interface TestCommandIO {
  stdout: Writer;
  stderr: Writer;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? 'nothing');
}

/** The report of one file, as promtool prints its: SUCCESS, or FAILED with a diff per case. */
export function formatReport(r: FileReport, opts: { show?: boolean } = {}): string {
  const lines = [`Unit Testing: ${r.file}`];
  const failed = r.cases.filter((c) => !c.passed);
  for (const rb of r.invalidRunbooks)
    lines.push(
      `  FAILED: runbook ${rb.name} is invalid (Ready=False: it answers no alert):`,
      ...rb.problems.map((p) => `    ${p}`),
    );
  if (failed.length === 0 && r.invalidRunbooks.length === 0)
    lines.push(`  SUCCESS (${r.cases.length} cases)`);
  else if (failed.length) lines.push(`  FAILED: ${failed.length} of ${r.cases.length} cases:`);
  for (const c of failed) {
    lines.push(`    case ${JSON.stringify(c.name)}:`);
    for (const d of c.differences) {
      lines.push(
        `      ${d.path}`,
        `        expected: ${show(d.expected)}`,
        `        got:      ${show(d.got)}`,
      );
    }
  }
  if (opts.show) {
    for (const c of r.cases) {
      lines.push(`  case ${JSON.stringify(c.name)} got:`);
      const body = yaml.dump(c.got.length === 1 ? c.got[0] : c.got, { lineWidth: 120, noRefs: true });
      lines.push(
        ...body
          .trimEnd()
          .split('\n')
          .map((l) => `    ${l}`),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function runTestCommand(argv: string[], io: TestCommandIO): Promise<number> {
  let values: { run?: string; show?: boolean; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      options: { run: { type: 'string' }, show: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    values = parsed.values;
    files = parsed.positionals;
    if (values.run !== undefined) new RegExp(values.run);
  } catch (err) {
    io.stderr.write(`kube-remediator test: ${errorMessage(err)}\n\n${TEST_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(TEST_USAGE);
    return 0;
  }
  if (files.length === 0) {
    io.stderr.write(`kube-remediator test: no test file given\n\n${TEST_USAGE}`);
    return 2;
  }
  const only = values.run !== undefined ? new RegExp(values.run) : undefined;
  let exit = 0;
  for (const file of files) {
    let loaded;
    try {
      loaded = loadTestFile(file);
    } catch (err) {
      io.stdout.write(`Unit Testing: ${file}\n`);
      io.stderr.write(err instanceof TestFileError ? `${err.message}\n` : `${file}: ${errorMessage(err)}\n`);
      exit = 2;
      continue;
    }
    if (only) loaded.spec.cases = loaded.spec.cases.filter((c) => only.test(c.name));
    const report = await runTestFile(loaded);
    io.stdout.write(formatReport(report, { show: values.show === true }));
    if (exit === 0 && (report.invalidRunbooks.length || report.cases.some((c) => !c.passed))) exit = 1;
  }
  return exit;
}
